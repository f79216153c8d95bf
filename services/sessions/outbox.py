"""Transactional outbox of the arbiter: a slip is stored with the transition that implies it, then relayed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import BigInteger, Column, DateTime, Integer, MetaData, String, Table, Text, delete, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from travel.saga.v1 import saga_pb2 as pb

from bus import slip_json
from bus.keys import BusKeys
from bus.publisher import start_saga

log = logging.getLogger(__name__)


def outbox_table(metadata: MetaData) -> Table:
    return Table(
        "saga_outbox",
        metadata,
        Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
        Column("saga_id", String(80), nullable=False),
        Column("slip", Text, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
    )


class SagaOutbox:
    """Writes slips inside the caller's transaction; a relay publishes them to the bus afterwards.

    A crash after the publish and before the row is deleted republishes it, and the bus's publish
    script ignores a saga step it has already published, so a slip reaches the bus exactly once.
    """

    def __init__(self, table: Table, clock: Callable[[], datetime]) -> None:
        self._table = table
        self._clock = clock
        self.wakeup = asyncio.Event()

    def write(self, slip: pb.RoutingSlip) -> Callable[[AsyncConnection], Awaitable[None]]:
        async def insert(conn: AsyncConnection) -> None:
            await conn.execute(
                self._table.insert().values(
                    saga_id=slip.saga_id, slip=slip_json.dumps(slip), created_at=self._clock()
                )
            )
            self.wakeup.set()

        return insert

    async def relay_once(self, engine: AsyncEngine, redis: Redis, keys: BusKeys, limit: int = 200) -> int:
        async with engine.connect() as conn:
            rows = (await conn.execute(select(self._table).order_by(self._table.c.seq).limit(limit))).all()
        for row in rows:
            await start_saga(redis, keys, slip_json.loads(row.slip))
            async with engine.begin() as conn:
                await conn.execute(delete(self._table).where(self._table.c.seq == row.seq))
        return len(rows)

    async def relay_forever(
        self, engine: AsyncEngine, redis: Redis, keys: BusKeys, stopping: Callable[[], bool]
    ) -> None:
        while not stopping():
            try:
                relayed = await self.relay_once(engine, redis, keys)
            except (RedisError, OSError) as error:
                log.warning("outbox relay paused: %s", error)
                relayed = 0
                await asyncio.sleep(0.5)
            if relayed == 0:
                self.wakeup.clear()
                # The event wakes the relay at once for writes made in this process; the timeout
                # catches writes of other replicas and rows left by a crash.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wakeup.wait(), timeout=0.2)
