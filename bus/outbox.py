"""Transactional outbox: a service writes slips in its own DB transaction; a relay publishes them.

The relay may crash after XADD and before marking the row sent; the next pass publishes the
row again, and the PUBLISH script's per-saga-step marker turns that second XADD into a no-op.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from redis.asyncio import Redis
from redis.exceptions import NoScriptError
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from travel.saga.v1 import saga_pb2 as pb

from bus import slip_json
from bus.errors import InvalidSlip
from bus.keys import BusKeys
from bus.publisher import DEFAULT_RETENTION_MS, publish_call
from bus.scripts import PUBLISH_SCRIPT
from bus.slip import current_step

log = logging.getLogger(__name__)

metadata = MetaData()

outbox_table = Table(
    "bus_outbox",
    metadata,
    # SQLite only auto-increments an INTEGER PRIMARY KEY, PostgreSQL wants a BIGINT.
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("saga_id", String(128), nullable=False),
    Column("step", String(128), nullable=False),
    Column("participant", String(64), nullable=False),
    Column("slip", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Index("ix_bus_outbox_unsent", "sent_at", "id"),
)


async def create_outbox_table(engine: AsyncEngine) -> None:
    """Create the outbox table if missing (services with migrations can use `metadata`)."""
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)


def _row(slip: pb.RoutingSlip, now: datetime) -> dict[str, object]:
    step = current_step(slip)
    if step is None:
        raise InvalidSlip(f"saga {slip.saga_id} has no step to publish")
    return {
        "saga_id": slip.saga_id,
        "step": step.name,
        "participant": step.participant,
        "slip": slip_json.dumps(slip),
        "created_at": now,
    }


async def add(
    session: AsyncSession | AsyncConnection, slip: pb.RoutingSlip, now: datetime | None = None
) -> None:
    """Queue `slip` for publishing, inside the caller's transaction: commit both or neither."""
    await session.execute(outbox_table.insert().values(**_row(slip, now or datetime.now(UTC))))


async def add_many(
    session: AsyncSession | AsyncConnection, slips: Sequence[pb.RoutingSlip], now: datetime | None = None
) -> None:
    """Queue several slips in one statement, inside the caller's transaction."""
    if slips:
        stamp = now or datetime.now(UTC)
        await session.execute(outbox_table.insert(), [_row(slip, stamp) for slip in slips])


class OutboxRelay:
    """Publishes unsent outbox rows to Redis, oldest first, then marks them sent."""

    def __init__(
        self,
        engine: AsyncEngine,
        redis: Redis,
        keys: BusKeys,
        *,
        batch_size: int = 100,
        poll_interval_s: float = 0.2,
        retention_ms: int = DEFAULT_RETENTION_MS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.redis = redis
        self.keys = keys
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self.retention_ms = retention_ms
        self._clock = clock
        self._stopping = False

    def stop(self) -> None:
        self._stopping = True

    async def relay_once(self) -> int:
        """Publish one batch; returns how many rows were handled."""
        async with self.engine.begin() as conn:
            query = (
                select(outbox_table.c.id, outbox_table.c.slip)
                .where(outbox_table.c.sent_at.is_(None))
                .order_by(outbox_table.c.id)
                .limit(self.batch_size)
            )
            if conn.dialect.name == "postgresql":
                # Several relay replicas share the table without publishing the same rows at once.
                query = query.with_for_update(skip_locked=True)
            rows = (await conn.execute(query)).all()
            if not rows:
                return 0
            now = self._clock()
            pipe = self.redis.pipeline(transaction=False)
            for row in rows:
                script_keys, args = publish_call(self.keys, slip_json.loads(row.slip), now, self.retention_ms)
                pipe.evalsha(PUBLISH_SCRIPT.sha, len(script_keys), *script_keys, *args)
            try:
                await pipe.execute()
            except NoScriptError:
                await PUBLISH_SCRIPT.load(self.redis)
                return 0  # rows stay unsent; the next pass publishes them
            sent_at = datetime.fromtimestamp(now, tz=UTC)
            await conn.execute(
                update(outbox_table)
                .where(outbox_table.c.id.in_([row.id for row in rows]))
                .values(sent_at=sent_at)
            )
            return len(rows)

    async def run(self) -> None:
        """Relay until stop(); a failing pass is logged and retried, never fatal."""
        await PUBLISH_SCRIPT.load(self.redis)
        while not self._stopping:
            try:
                handled = await self.relay_once()
            except Exception:
                log.exception("outbox relay pass failed; retrying")
                handled = 0
            if handled < self.batch_size:
                await asyncio.sleep(self.poll_interval_s)
