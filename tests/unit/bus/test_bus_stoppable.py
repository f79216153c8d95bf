"""StoppableWait: stop() ends a wait with None, yet an outer cancellation or an error still propagates."""

from __future__ import annotations

import asyncio

import pytest

from bus.stoppable import StoppableWait

FOREVER = 3600.0


async def test_stop_ends_a_running_wait_with_none() -> None:
    reads = StoppableWait()
    waiting = asyncio.create_task(reads.wait(lambda: asyncio.sleep(FOREVER, "never")))
    while not reads.waiting:
        await asyncio.sleep(0)
    reads.stop()
    assert await waiting is None
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


async def test_a_wait_that_ignores_its_cancellation_ends_when_stop_closes_its_client() -> None:
    reads = StoppableWait()
    closed = asyncio.Event()

    async def stubborn_read() -> str:
        while True:  # as a read whose cancellation went astray: it waits on regardless
            try:
                await closed.wait()
                raise ConnectionError("closed under the read")
            except asyncio.CancelledError:
                continue

    async def close() -> None:
        closed.set()

    waiting = asyncio.create_task(reads.wait(stubborn_read, close=close))
    while not reads.waiting:
        await asyncio.sleep(0)
    reads.stop()
    with pytest.raises(ConnectionError):
        await waiting
    assert closed.is_set() and not reads.waiting
