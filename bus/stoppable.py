"""A wait its owner's stop() may cut short, so a long blocking read never delays a shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class StoppableWait:
    """Runs one wait at a time in the caller's task; `stop()` ends it, and every later one, with None."""

    def __init__(self) -> None:
        self._timeout: asyncio.Timeout | None = None
        self.stopped = False

    @property
    def waiting(self) -> bool:
        return self._timeout is not None

    def stop(self) -> None:
        self.stopped = True
        if self._timeout is not None:
            # A deadline already passed: the waiting task is cancelled at its next step.
            self._timeout.reschedule(asyncio.get_running_loop().time())

    async def wait(self, start: Callable[[], Awaitable[T]]) -> T | None:
        """What `start()` gives when awaited; None when stop() cut it short or came first."""
        if self.stopped:
            return None
        timeout = asyncio.timeout(None)
        try:
            async with timeout:
                self._timeout = timeout
                try:
                    return await start()
                finally:
                    self._timeout = None
        except TimeoutError:
            if timeout.expired():
                return None
            raise
