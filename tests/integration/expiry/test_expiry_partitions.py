"""Deadlines spread over the bus's partitions: each in its partition's sets, all claimed as one schedule."""

from __future__ import annotations

from redis.asyncio import Redis

from bus.deadlines import DeadlineSchedule


async def test_deadlines_land_in_their_sessions_partitions_and_all_are_claimed(
    redis: Redis, schedule: DeadlineSchedule
) -> None:
    keys = schedule.keys
    sessions = {f"session-{n}": 1_000 + n for n in range(64)}
    await schedule.schedule_many(sessions)

    by_key: dict[str, set[str]] = {}
    for partition in keys.all_partitions():
        members = {str(member) for member in await redis.zrange(schedule.deadlines_key(partition), 0, -1)}
        assert all(keys.partition_of(member) == partition for member in members)
        by_key[schedule.deadlines_key(partition)] = members
    assert set().union(*by_key.values()) == set(sessions)
    assert sum(1 for members in by_key.values() if members) > 1, "the sessions spread over partitions"
    assert await schedule.pending() == len(sessions)
    assert await schedule.next_due_ms() == 1_000
    assert await schedule.scheduled([*sessions, "never-scheduled"]) == set(sessions)

    claimed = await schedule.claim_due(now_ms=2_000, lease_until_ms=3_000, limit=len(sessions))
    assert claimed == sorted(sessions, key=sessions.__getitem__)
    for partition in keys.all_partitions():
        leased = {str(member) for member in await redis.zrange(schedule.leases_key(partition), 0, -1)}
        assert leased == by_key[schedule.deadlines_key(partition)]
    assert await schedule.next_due_ms() == 3_000  # the leases
    assert await schedule.scheduled(list(sessions)) == set(sessions)  # claimed is still scheduled

    await schedule.release(claimed)
    assert await schedule.pending() == 0
    assert await schedule.next_due_ms() is None
    assert await schedule.scheduled(list(sessions)) == set()
