"""The saga publisher on Redis Streams: `start_saga` bound to one connection and namespace."""

from __future__ import annotations

import time
from collections.abc import Callable

from redis.asyncio import Redis
from travel.saga.v1 import saga_pb2 as pb

from bus.keys import BusKeys
from bus.publisher import DEFAULT_RETENTION_MS, start_saga


class StreamSagaPublisher:
    def __init__(
        self,
        redis: Redis,
        keys: BusKeys,
        clock: Callable[[], float] = time.time,
        retention_ms: int = DEFAULT_RETENTION_MS,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._clock = clock
        self._retention_ms = retention_ms

    async def publish(self, slip: pb.RoutingSlip) -> str | None:
        return await start_saga(
            self._redis, self._keys, slip, clock=self._clock, retention_ms=self._retention_ms
        )
