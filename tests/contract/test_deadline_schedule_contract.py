"""The deadline schedule's contract, held by the in-memory fake and the Redis sorted sets."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from bus.deadlines import DeadlineSchedule
from bus.keys import BusKeys
from bus.ports import DueDeadlines
from tests.fakes.deadline_schedule import FakeDeadlineSchedule
from tests.support.deadlines import hear_a_probe
from tests.support.polling import eventually

DEADLINE_SECONDS = 10.0


# The real schedule on one partition, and on as many as the bus has by default.
PARTITIONS = {"redis-1-partition": 1, "redis-8-partitions": 8}


@pytest.fixture(params=["fake", *PARTITIONS])
async def schedule(request: pytest.FixtureRequest) -> AsyncIterator[DueDeadlines]:
    if request.param == "fake":
        yield FakeDeadlineSchedule()
        return
    redis = Redis.from_url(request.getfixturevalue("redis_url"), decode_responses=True)
    keys = BusKeys(f"contract-{uuid.uuid4().hex[:12]}", partitions=PARTITIONS[request.param])
    real = DeadlineSchedule(redis, keys)
    yield real
    await redis.delete(*real.all_keys())
    await redis.aclose()


def tells_only_the_earliest(request: pytest.FixtureRequest) -> bool:
    """Whether the schedule compares a new deadline with all others, not those of its partition only."""
    return bool(request.node.callspec.params["schedule"] != "redis-8-partitions")


async def test_only_due_deadlines_are_claimed_earliest_first_and_leased(schedule: DueDeadlines) -> None:
    await schedule.schedule_many({"later": 9_000, "second": 2_000, "first": 1_000, "third": 2_000})
    assert await schedule.claim_due(now_ms=2_000, lease_until_ms=10_000, limit=2) == ["first", "second"]
    assert await schedule.claim_due(now_ms=2_000, lease_until_ms=10_000, limit=10) == ["third"]
    assert await schedule.claim_due(now_ms=5_000, lease_until_ms=10_000, limit=10) == []
    assert await schedule.pending() == 4


async def test_a_claim_takes_at_most_its_limit_of_each_kind_earliest_first(schedule: DueDeadlines) -> None:
    sessions = {f"s{n:02}": 1_000 + n for n in range(40)}
    await schedule.schedule_many(sessions)
    assert await schedule.claim_due(now_ms=1_000 + 39, lease_until_ms=2_000, limit=5) == [
        "s00", "s01", "s02", "s03", "s04"
    ]  # fmt: skip
    # Five leases ran out and 35 deadlines are due: five of each, deadlines first.
    assert await schedule.claim_due(now_ms=2_000, lease_until_ms=3_000, limit=5) == [
        "s05", "s06", "s07", "s08", "s09", "s00", "s01", "s02", "s03", "s04"
    ]  # fmt: skip
    assert await schedule.pending() == 40


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


async def test_watchers_hear_of_each_deadline_earlier_than_all_others(
    schedule: DueDeadlines, request: pytest.FixtureRequest
) -> None:
    heard: list[int] = []
    watching = asyncio.create_task(schedule.watch_earlier(heard.append))
    try:
        probe = await hear_a_probe(schedule, heard, DEADLINE_SECONDS)
        heard.clear()
        await schedule.schedule("later", probe + 5_000)  # not the earliest
        await schedule.schedule_many({"x": probe - 7, "y": probe - 3})
        await eventually(
            lambda: probe - 7 in heard,
            timeout=DEADLINE_SECONDS,
            what="the watcher to hear the earlier deadline",
            interval=0.01,
        )
        if tells_only_the_earliest(request):
            assert heard == [probe - 7]
        else:
            # "later" or "y" may be the earliest of a partition of their own, and be told too.
            assert set(heard) <= {probe + 5_000, probe - 7, probe - 3}
    finally:
        watching.cancel()
        with pytest.raises(asyncio.CancelledError):
            await watching
