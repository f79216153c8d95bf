"""Password hashing runs on a bounded pool: a burst queues up to a bound, then is refused."""

import asyncio
import threading

import pytest

from kit.errors import ResourceExhausted
from services.customers.passwords import BoundedThreads, HashingBound


async def test_work_beyond_running_and_waiting_is_refused_and_room_returns_when_done() -> None:
    threads = BoundedThreads(HashingBound(running=1, waiting=1))
    release = threading.Event()
    started = threading.Event()

    def blocked() -> str:
        started.set()
        release.wait(timeout=30)
        return "done"

    try:
        first = asyncio.create_task(threads.run(blocked))
        second = asyncio.create_task(threads.run(blocked))
        await asyncio.to_thread(started.wait, 30)
        assert threads.in_flight == 2
        with pytest.raises(ResourceExhausted) as refused:
            await threads.run(blocked)
        assert refused.value.retry_after_seconds == 1
        release.set()
        assert await asyncio.gather(first, second) == ["done", "done"]
        assert await threads.run(lambda: "again") == "again"
    finally:
        release.set()
        threads.close()


async def test_a_cancelled_caller_keeps_its_slot_until_its_thread_finishes() -> None:
    threads = BoundedThreads(HashingBound(running=1, waiting=0))
    release = threading.Event()
    started = threading.Event()

    def blocked() -> None:
        started.set()
        release.wait(timeout=30)

    try:
        caller = asyncio.create_task(threads.run(blocked))
        await asyncio.to_thread(started.wait, 30)
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller
        # The thread still runs and still holds its memory: no room for another job yet.
        with pytest.raises(ResourceExhausted):
            await threads.run(lambda: None)
        release.set()
        for _ in range(1000):
            if threads.in_flight == 0:
                break
            await asyncio.sleep(0.01)
        assert threads.in_flight == 0
        await threads.run(lambda: None)
    finally:
        release.set()
        threads.close()
