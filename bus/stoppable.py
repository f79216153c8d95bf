"""A wait its owner's stop() may cut short, so a long blocking read never delays a shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

# How long a wait cut short by stop() may take to end before the client it reads from is closed.
STOP_GRACE_SECONDS = 1.0


class StoppableWait:
    """Runs one wait at a time in the caller's task; `stop()` ends it, and every later one, with None."""

    def __init__(self) -> None:
        self._timeout: asyncio.Timeout | None = None
        self._close: Callable[[], Awaitable[None]] | None = None
        self._closing: asyncio.Future[None] | None = None
        self.stopped = False

    @property
    def waiting(self) -> bool:
        return self._timeout is not None

    def stop(self) -> None:
        self.stopped = True
        if self._timeout is not None:
            loop = asyncio.get_running_loop()
            # A deadline already passed: the waiting task is cancelled at its next step.
            self._timeout.reschedule(loop.time())
            if self._close is not None:
                # Should that cancellation go astray deep in redis-py (seen, rarely, on the cluster
                # client), closing the client a moment later ends the wait with its error.
                loop.call_later(STOP_GRACE_SECONDS, self._close_if_still_waiting)

    def _close_if_still_waiting(self) -> None:
        if self._timeout is not None and self._close is not None and self._closing is None:
            self._closing = asyncio.ensure_future(self._close())

    async def wait(
        self, start: Callable[[], Awaitable[T]], close: Callable[[], Awaitable[None]] | None = None
    ) -> T | None:
        """What `start()` gives when awaited; None when stop() cut it short or came first.

        `close`: closes what `start()` reads from, should the wait outlive stop() by the grace.
        """
        if self.stopped:
            return None
        timeout = asyncio.timeout(None)
        try:
            async with timeout:
                self._timeout, self._close = timeout, close
                try:
                    return await start()
                finally:
                    self._timeout = self._close = None
        except TimeoutError:
            if timeout.expired():
                return None
            raise
