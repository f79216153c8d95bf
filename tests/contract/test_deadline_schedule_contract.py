"""The deadline schedule's contract, held by the in-memory fake and the Redis sorted sets."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from services.expiry.ports import DueDeadlines
from services.expiry.schedule import DeadlineSchedule
from tests.fakes.deadline_schedule import FakeDeadlineSchedule
from tests.support.polling import eventually

DEADLINE_SECONDS = 10.0


@pytest.fixture(params=["fake", "redis"])
async def schedule(request: pytest.FixtureRequest) -> AsyncIterator[DueDeadlines]:
    if request.param == "fake":
        yield FakeDeadlineSchedule()
        return
    redis = Redis.from_url(request.getfixturevalue("redis_url"), decode_responses=True)
    real = DeadlineSchedule(redis, f"contract-{uuid.uuid4().hex[:12]}")
    yield real
    await redis.delete(real.deadlines_key, real.leases_key)
    await redis.aclose()


async def test_only_due_deadlines_are_claimed_earliest_first_and_leased(schedule: DueDeadlines) -> None:
    await schedule.schedule_many({"later": 9_000, "second": 2_000, "first": 1_000, "third": 2_000})
    assert await schedule.claim_due(now_ms=2_000, lease_until_ms=10_000, limit=2) == ["first", "second"]
    assert await schedule.claim_due(now_ms=2_000, lease_until_ms=10_000, limit=10) == ["third"]
    assert await schedule.claim_due(now_ms=5_000, lease_until_ms=10_000, limit=10) == []
    assert await schedule.pending() == 4


async def test_a_lease_nobody_released_is_claimed_again_once_it_runs_out(schedule: DueDeadlines) -> None:
    await schedule.schedule("s1", 1_000)
    assert await schedule.claim_due(now_ms=2_000, lease_until_ms=7_000, limit=10) == ["s1"]
    assert await schedule.claim_due(now_ms=6_999, lease_until_ms=12_000, limit=10) == []
    assert await schedule.claim_due(now_ms=7_000, lease_until_ms=12_000, limit=10) == ["s1"]
    await schedule.release(["s1"])
    assert await schedule.claim_due(now_ms=99_000, lease_until_ms=100_000, limit=10) == []
    assert await schedule.pending() == 0


async def test_scheduling_a_session_again_moves_its_deadline(schedule: DueDeadlines) -> None:
    await schedule.schedule("s1", 1_000)
    await schedule.schedule_many({"s1": 5_000})
    assert await schedule.claim_due(now_ms=4_999, lease_until_ms=20_000, limit=10) == []
    assert await schedule.claim_due(now_ms=5_000, lease_until_ms=20_000, limit=10) == ["s1"]


async def test_next_due_is_the_earliest_deadline_or_lease(schedule: DueDeadlines) -> None:
    assert await schedule.next_due_ms() is None
    await schedule.schedule_many({"a": 3_000, "b": 8_000})
    assert await schedule.next_due_ms() == 3_000
    await schedule.claim_due(now_ms=3_000, lease_until_ms=4_000, limit=10)
    assert await schedule.next_due_ms() == 4_000  # the lease of "a"
    await schedule.release(["a"])
    assert await schedule.next_due_ms() == 8_000
    await schedule.schedule_many({})
    assert await schedule.pending() == 1


async def test_watchers_hear_of_each_deadline_earlier_than_all_others(schedule: DueDeadlines) -> None:
    heard: list[int] = []
    watching = asyncio.create_task(schedule.watch_earlier(heard.append))
    try:
        # The subscription starts on its own time: probe with ever earlier deadlines until one is heard.
        probe = 10**12

        async def heard_a_probe() -> list[int]:
            nonlocal probe
            if not heard:  # once one is heard, no further probe: it would be heard later
                probe -= 1
                await schedule.schedule("probe", probe)
            return heard

        await eventually(
            heard_a_probe, timeout=DEADLINE_SECONDS, what="the watcher to hear a deadline", interval=0.01
        )
        heard.clear()
        await schedule.schedule("later", probe + 5_000)  # not the earliest: nobody is told
        await schedule.schedule_many({"x": probe - 7, "y": probe - 3})
        await eventually(
            lambda: heard,
            timeout=DEADLINE_SECONDS,
            what="the watcher to hear the earlier deadline",
            interval=0.01,
        )
        assert heard == [probe - 7]
    finally:
        watching.cancel()
        with pytest.raises(asyncio.CancelledError):
            await watching
