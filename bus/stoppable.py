"""A wait its owner's stop() may cut short, so a long blocking read never delays a shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

# Python 3.11's asyncio.wait_for, which redis-py puts around every send, drops a cancellation that
# lands just as the send completes; the read then blocks for its whole BLOCK. So a read cut short is
# cancelled again at this pace until it ends: the next cancellation finds it blocked in the read.
RECANCEL_SECONDS = 0.05


class StoppableWait:
    """Runs one wait at a time for its owner; `stop()` ends it, and every later one, with None."""

    def __init__(self) -> None:
        self._stopping: asyncio.Future[None] | None = None
        self._waiting = False
        self.stopped = False

    @property
    def waiting(self) -> bool:
        return self._waiting

    def stop(self) -> None:
        self.stopped = True
        if self._stopping is not None and not self._stopping.done():
            self._stopping.set_result(None)

    async def wait(self, start: Callable[[], Awaitable[T]]) -> T | None:
        """What `start()` gives when awaited; None when stop() cut it short or came first.

        The wait runs as a task of its own, so ending it never depends on where a cancellation
        lands inside a client library; the owner's own cancellation still propagates.
        """
        if self.stopped:
            return None
        if self._stopping is None:
            self._stopping = asyncio.get_running_loop().create_future()
        read = asyncio.ensure_future(start())
        self._waiting = True
        try:
            await asyncio.wait((read, self._stopping), return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._waiting = False
            cut_short = not read.done()
            if cut_short:
                await _cancel_until_done(read)
        if cut_short:
            if not read.cancelled():
                read.exception()  # however a read cut short ended, nobody is waiting for it now
            return None
        return read.result()


async def _cancel_until_done(read: asyncio.Future[T]) -> None:
    while not read.done():
        read.cancel()
        await asyncio.wait((read,), timeout=RECANCEL_SECONDS)
