"""The deadline schedule on a real three-master Redis Cluster: its partitions spread over the masters."""

from __future__ import annotations

import asyncio
import itertools
from typing import cast

import pytest
from redis.asyncio import Redis, RedisCluster

from bus.deadlines import DeadlineSchedule
from bus.keys import BusKeys
from tests.support.deadlines import hear_a_probe
from tests.support.polling import eventually

DEADLINE_SECONDS = 10.0


def port_of(client: RedisCluster, key: str) -> int:
    node = client.get_node_from_key(key)
    assert node is not None, f"no node owns {key}"
    return int(node.port)


async def test_deadlines_on_every_master_are_scheduled_claimed_and_announced(
    cluster_client: RedisCluster, unique_id: str
) -> None:
    keys = BusKeys(f"cluster-expiry-{unique_id}")
    # Typed as one Redis, as `redis_client` hands it to the processes.
    schedule = DeadlineSchedule(cast(Redis, cluster_client), keys)
    owners = {port_of(cluster_client, schedule.deadlines_key(p)) for p in keys.all_partitions()}
    assert len(owners) > 1, "the partitions spread over several masters"
    heard: list[int] = []
    watching = asyncio.create_task(schedule.watch_earlier(heard.append))
    try:
        probe = await hear_a_probe(schedule, heard, DEADLINE_SECONDS)

        sessions = {f"session-{n}": 10_000 + n for n in range(50)}
        await schedule.schedule_many(sessions)
        assert len({keys.partition_of(session_id) for session_id in sessions}) == keys.partitions
        # Earlier than all others, in a partition on another master than the one the watcher listens to.
        listening = cast(int, cluster_client.get_default_node().port)
        earliest = next(
            session_id
            for session_id in (f"early-{n}" for n in itertools.count())
            if port_of(cluster_client, schedule.deadlines_key(keys.partition_of(session_id))) != listening
        )
        await schedule.schedule(earliest, 5_000)
        await eventually(
            lambda: 5_000 in heard, timeout=DEADLINE_SECONDS, what="the watcher to hear the earliest deadline"
        )
        assert await schedule.pending() == len(sessions) + 2  # with the probe and the earliest
        assert await schedule.next_due_ms() == 5_000
        assert await schedule.scheduled([*sessions, "never-scheduled"]) == set(sessions)

        in_order = [earliest, *sorted(sessions, key=sessions.__getitem__)]
        # The limit holds over all partitions: the ten earliest, wherever they are.
        first = await schedule.claim_due(now_ms=20_000, lease_until_ms=30_000, limit=10)
        assert first == in_order[:10]
        rest = await schedule.claim_due(now_ms=20_000, lease_until_ms=30_000, limit=100)
        assert rest == in_order[10:]
        assert await schedule.claim_due(now_ms=20_000, lease_until_ms=30_000, limit=100) == []
        assert await schedule.next_due_ms() == 30_000  # the leases
        assert await schedule.pending() == len(sessions) + 2

        await schedule.release(first + rest)
        assert await schedule.pending() == 1
        assert await schedule.next_due_ms() == probe
    finally:
        watching.cancel()
        with pytest.raises(asyncio.CancelledError):
            await watching
        await cluster_client.delete(*schedule.all_keys())
