"""The reconciler's Redis side: its lease, deadlines, what the bus keeps of a saga, reserve attempts left."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from redis.asyncio import Redis
from travel.saga.v1 import saga_pb2 as pb

from bus.deadlines import DeadlineSchedule
from bus.keys import BusKeys
from bus.publisher import start_saga
from services.reservations.attempts import LeftAttempts, ReserveAttempt


def reconcile_lease_key(namespace: str) -> str:
    """The sweep's lease: one replica holds it per interval."""
    return f"{namespace}:{{reconciler}}:lease"


class RedisReconcileBus:
    def __init__(
        self, redis: Redis, keys: BusKeys, schedule: DeadlineSchedule, attempts: LeftAttempts
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._schedule = schedule
        self._lease = reconcile_lease_key(keys.namespace)
        self._attempts = attempts

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

    async def remembered(self, sagas: Mapping[str, str]) -> set[str]:
        if not sagas:
            return set()
        pipe = self._redis.pipeline(transaction=False)
        for saga_id, session_id in sagas.items():
            partition = self._keys.partition_of(session_id)
            keys = self._keys.saga_steps(partition, saga_id), self._keys.saga_history(partition, saga_id)
            pipe.exists(*keys)
        counts = await pipe.execute()
        return {saga_id for saga_id, count in zip(sagas, counts, strict=True) if int(count) > 0}

    async def attempts_started_before(self, cutoff_ms: int) -> list[ReserveAttempt]:
        return await self._attempts.started_before(cutoff_ms)

    async def start_saga(self, slip: pb.RoutingSlip) -> None:
        # Straight to the bus: a start lost with Redis is lost with the attempt's record too.
        await start_saga(self._redis, self._keys, slip)

    async def forget_attempts(self, attempts: Sequence[ReserveAttempt]) -> None:
        await self._attempts.clear(attempts)
