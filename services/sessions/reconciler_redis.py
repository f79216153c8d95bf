"""The reconciler's Redis side: its lease, the deadline schedule's members, what the bus keeps of a saga."""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis

from bus.keys import BusKeys
from services.expiry.schedule import DeadlineSchedule


def reconcile_lease_key(namespace: str) -> str:
    """The sweep's lease: one replica holds it per interval."""
    return f"{namespace}:{{reconciler}}:lease"


class RedisReconcileBus:
    def __init__(self, redis: Redis, keys: BusKeys, schedule: DeadlineSchedule) -> None:
        self._redis = redis
        self._keys = keys
        self._schedule = schedule
        self._lease = reconcile_lease_key(keys.namespace)

    async def take_lease(self, token: str, ttl_ms: int) -> bool:
        return bool(await self._redis.set(self._lease, token, nx=True, px=max(ttl_ms, 1)))

    async def holds_lease(self, token: str) -> bool:
        held = await self._redis.get(self._lease)
        return held is not None and (held.decode() if isinstance(held, bytes) else str(held)) == token

    async def scheduled(self, session_ids: Sequence[str]) -> set[str]:
        return await self._schedule.scheduled(session_ids)

    async def restore_deadlines(self, deadlines: dict[str, int]) -> None:
        # The schedule's own script, so a worker asleep until a later deadline is woken for these.
        await self._schedule.schedule_many(deadlines, keep_earlier=True)

    async def remembered(self, saga_ids: Sequence[str]) -> set[str]:
        if not saga_ids:
            return set()
        pipe = self._redis.pipeline(transaction=False)
        for saga_id in saga_ids:
            pipe.exists(self._keys.saga_steps(saga_id), self._keys.saga_history(saga_id))
        counts = await pipe.execute()
        return {saga_id for saga_id, count in zip(saga_ids, counts, strict=True) if int(count) > 0}
