"""The expiry worker sleeps until the next deadline: a deadline scheduled while it sleeps wakes it."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Sequence

from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from bus.deadlines import DeadlineSchedule
from bus.keys import BusKeys
from services.expiry.policy import ClaimPolicy
from services.expiry.worker import LONGEST_SLEEP_SECONDS, ExpiryWorker
from tests.support.polling import eventually
from tests.support.pubsub import next_message

POLICY = ClaimPolicy(lease_seconds=1, batch_size=50)
# Well inside the worker's longest sleep: only a notice or a computed deadline can wake it in time.
DEADLINE_SECONDS = LONGEST_SLEEP_SECONDS / 2


def now_ms() -> int:
    return int(time.time() * 1000)


class Arbiter:
    def __init__(self) -> None:
        self.expired: list[str] = []

    async def expire(self, session_ids: Sequence[str]) -> int:
        self.expired.extend(session_ids)
        return len(session_ids)


async def test_a_deadline_added_while_the_worker_sleeps_is_expired(schedule: DeadlineSchedule) -> None:
    arbiter = Arbiter()
    worker = ExpiryWorker(schedule, arbiter.expire, POLICY)
    running = asyncio.create_task(worker.run())
    try:
        await eventually(
            lambda: worker._sleeping_until_ms is not None,
            timeout=DEADLINE_SECONDS,
            what="the worker to sleep",
        )
        await schedule.schedule("late-comer", now_ms() + 200)
        await eventually(
            lambda: arbiter.expired == ["late-comer"],
            timeout=DEADLINE_SECONDS,
            what="the new deadline to expire",
        )
    finally:
        worker.stop()
        await running


async def test_a_dead_workers_lease_wakes_a_sleeping_worker_when_it_runs_out(
    schedule: DeadlineSchedule,
) -> None:
    await schedule.schedule("orphan", now_ms() - 1)
    # A worker claimed it and died: its one-second lease is the only thing left to wake for.
    assert await schedule.claim_due(now_ms(), POLICY.lease_until_ms(now_ms()), 10) == ["orphan"]
    arbiter = Arbiter()
    worker = ExpiryWorker(schedule, arbiter.expire, POLICY)
    running = asyncio.create_task(worker.run())
    try:
        await eventually(
            lambda: arbiter.expired == ["orphan"],
            timeout=DEADLINE_SECONDS,
            what="the orphaned lease to be taken over",
        )
        assert await schedule.pending() == 0
    finally:
        worker.stop()
        await running


async def test_on_one_partition_only_a_deadline_earlier_than_all_others_is_announced(redis: Redis) -> None:
    schedule = DeadlineSchedule(redis, BusKeys(f"test-expiry-{uuid.uuid4().hex[:10]}", partitions=1))
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(schedule.earlier_channel)
    try:
        await schedule.schedule("first", 5_000)
        await schedule.schedule_many({"later": 9_000, "also-later": 6_000})
        await schedule.schedule_many({"earliest": 1_000, "middle": 7_000})
        heard = [await announced(pubsub), await announced(pubsub)]
        assert heard == ["5000", "1000"]
    finally:
        await pubsub.aclose()
        await redis.delete(*schedule.all_keys())


async def test_a_deadline_earlier_than_all_others_of_its_partition_is_announced(
    redis: Redis, schedule: DeadlineSchedule
) -> None:
    in_one = sessions_in(schedule.keys, 0, 3)
    in_other = sessions_in(schedule.keys, 1, 1)
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(schedule.earlier_channel)
    try:
        await schedule.schedule(in_one[0], 5_000)
        await schedule.schedule(in_one[1], 6_000)  # later than its partition's earliest: not told
        # Later than all others, but the earliest of its own partition: told, though a worker
        # asleep until 5000 ignores it. The script sees only its partition's slot.
        await schedule.schedule(in_other[0], 9_000)
        await schedule.schedule(in_one[2], 1_000)
        heard = [await announced(pubsub) for _ in range(3)]
        assert heard == ["5000", "9000", "1000"]
    finally:
        await pubsub.aclose()


def sessions_in(keys: BusKeys, partition: int, count: int) -> list[str]:
    """The first `count` session ids `s0`, `s1`... that fall in `partition`."""
    found = (f"s{n}" for n in itertools.count() if keys.partition_of(f"s{n}") == partition)
    return list(itertools.islice(found, count))


async def announced(pubsub: PubSub) -> str:
    return await next_message(pubsub, timeout=DEADLINE_SECONDS, what="an announced deadline")
