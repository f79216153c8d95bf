"""StoppableWait: stop() ends a wait with None, yet an outer cancellation or an error still propagates."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from bus.stoppable import StoppableWait

FOREVER = 3600.0


async def _stopped_while_waiting(reads: StoppableWait, start: Callable[[], Awaitable[Any]]) -> Any:
    """What the wait of `start()` gives when stop() comes while it waits."""
    waiting = asyncio.create_task(reads.wait(start))
    while not reads.waiting:
        await asyncio.sleep(0)
    reads.stop()
    return await waiting


async def test_stop_ends_a_running_wait_with_none() -> None:
    reads = StoppableWait()
    assert await _stopped_while_waiting(reads, lambda: asyncio.sleep(FOREVER, "never")) is None
    assert not reads.waiting


async def test_a_wait_after_stop_never_starts() -> None:
    reads = StoppableWait()
    reads.stop()
    started = []
    assert await reads.wait(lambda: started.append(1) or asyncio.sleep(0, "ran")) is None
    assert started == []


async def test_a_finished_wait_gives_its_result_and_errors_propagate() -> None:
    reads = StoppableWait()
    assert await reads.wait(lambda: asyncio.sleep(0, "entries")) == "entries"

    async def broken() -> None:
        raise TimeoutError("the server's own timeout, not a stop")

    with pytest.raises(TimeoutError):
        await reads.wait(broken)


async def test_cancelling_the_owner_is_not_mistaken_for_a_stop() -> None:
    reads = StoppableWait()
    owner = asyncio.create_task(reads.wait(lambda: asyncio.sleep(FOREVER)))
    while not reads.waiting:
        await asyncio.sleep(0)
    owner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await owner


async def test_stop_ends_a_read_that_swallowed_its_first_cancellation() -> None:
    reads = StoppableWait()
    swallowed = []

    async def read_behind_a_leaky_send() -> str:
        try:  # as Python 3.11's wait_for around a send that completes as the cancellation lands
            await asyncio.sleep(FOREVER)
        except asyncio.CancelledError:
            swallowed.append(1)
        await asyncio.sleep(FOREVER)  # the blocking read that follows
        return "never"

    assert await _stopped_while_waiting(reads, read_behind_a_leaky_send) is None
    assert swallowed == [1] and not reads.waiting


async def test_a_read_that_ends_in_an_error_once_cut_short_ends_the_wait_quietly() -> None:
    reads = StoppableWait()

    async def read_that_fails_when_cancelled() -> str:
        try:
            await asyncio.sleep(FOREVER)
        except asyncio.CancelledError:
            raise ConnectionError("closed under the read") from None
        return "never"

    assert await _stopped_while_waiting(reads, read_that_fails_when_cancelled) is None
