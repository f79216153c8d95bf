"""Transactional outbox: a service writes slips in its own DB transaction; a relay publishes them.

A relay pass is three steps, and no transaction stays open across the Redis round trip:

1. claim: one short write transaction takes a lease on a batch of unsent rows (a row in
   `bus_outbox_leases` per outbox row, upserted only where no other relay's lease is live), so
   replicas sharing one outbox on PostgreSQL publish different rows;
2. publish: the slips go to Redis outside any transaction;
3. mark: one short write transaction marks the rows sent and drops their leases. A failed publish
   drops the leases instead, so the rows stay pending for the next pass.

A row may still be published twice: a relay that dies after XADD and before the mark leaves its
lease to expire, and one slower than its lease shares the rows with whoever claims them next.
That costs nothing: a saga's id is deterministic (`confirm-<session>`, `cancel-<session>`, ...),
and the PUBLISH script sets a per-saga-step marker in the saga's step hash with HSETNX before it
XADDs, so a second publish of the same saga step is a no-op on the bus.

A process whose commits start sagas can skip the claim: `lease_in` writes the rows with this
relay's lease in the committing transaction, and `hand` gives the relay those rows once committed,
so a pass publishes and marks them without a claim transaction. A process killed between that
commit and the publish leaves rows whose lease runs out; the sweep of any relay then takes them.

The relay sleeps until a commit of its own process wakes it; a slow sweep picks up the rows
another replica or a crash left behind.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from redis.asyncio import Redis
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
    bindparam,
    delete,
    exists,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.expression import Executable
from travel.saga.v1 import saga_pb2 as pb

from bus import slip_json
from bus.entries import decode_slip, encode_slip
from bus.errors import InvalidSlip
from bus.keys import BusKeys
from bus.publisher import DEFAULT_RETENTION_MS, publish_call
from bus.scripts import PUBLISH_SCRIPT
from bus.slip import current_step
from bus.slip_trace import stamp_current_trace
from kit.database import Connection, Database
from kit.redis_scripts import run_script_batch
from kit.statements import Statement

log = logging.getLogger(__name__)

metadata = MetaData()

# SQLite only auto-increments an INTEGER PRIMARY KEY, PostgreSQL wants a BIGINT.
_ROW_ID = BigInteger().with_variant(Integer, "sqlite")

outbox_table = Table(
    "bus_outbox",
    metadata,
    Column("id", _ROW_ID, primary_key=True),
    Column("saga_id", String(128), nullable=False),
    Column("step", String(128), nullable=False),
    Column("participant", String(64), nullable=False),
    Column("slip", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Index("ix_bus_outbox_unsent", "sent_at", "id"),
)

# A table of its own rather than a column: an outbox made before leases existed gains it without
# touching its rows. A row lives only while a relay publishes its outbox row.
lease_table = Table(
    "bus_outbox_leases",
    metadata,
    Column("outbox_id", _ROW_ID, primary_key=True),
    Column("holder", String(32), nullable=False),
    Column("expires_ms", BigInteger, nullable=False),
)

# A publish is one pipelined round trip, so a lease of seconds is ample; it is also how long the
# rows of a relay killed mid-publish wait before another pass (of any process) takes them over.
DEFAULT_LEASE_SECONDS = 5.0

_ADD = Statement(
    outbox_table.insert().values(
        {name: bindparam(name) for name in ("saga_id", "step", "participant", "slip", "created_at")}
    )
)

_ADD_RETURNING = Statement(
    outbox_table.insert()
    .values({name: bindparam(name) for name in ("saga_id", "step", "participant", "slip", "created_at")})
    .returning(outbox_table.c.id)
)
_ADD_LEASE = Statement(
    lease_table.insert().values(
        outbox_id=bindparam("outbox_id"), holder=bindparam("holder"), expires_ms=bindparam("expires_ms")
    )
)

_LIVE_LEASE = exists().where(
    lease_table.c.outbox_id == outbox_table.c.id, lease_table.c.expires_ms > bindparam("now_ms")
)
# Replicas on PostgreSQL skip the rows another relay is claiming this instant and take the next
# ones; the lock lasts only as long as the claim transaction (SQLite has one writer and no FOR).
_CLAIMABLE = Statement(
    select(outbox_table.c.id, outbox_table.c.saga_id, outbox_table.c.slip)
    .where(outbox_table.c.sent_at.is_(None), ~_LIVE_LEASE)
    .order_by(outbox_table.c.id)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)


def _build_take_leases(dialect_name: str) -> Executable:
    # The lease is taken only where none is live: a relay whose statement saw the rows free before
    # another relay's claim committed gets no row back for them, and does not publish them.
    insert = postgresql.insert if dialect_name == "postgresql" else sqlite.insert
    rows = select(
        outbox_table.c.id, bindparam("holder", type_=String), bindparam("expires_ms", type_=BigInteger)
    ).where(outbox_table.c.id.in_(bindparam("ids", expanding=True)))
    statement = insert(lease_table).from_select(["outbox_id", "holder", "expires_ms"], rows)
    return statement.on_conflict_do_update(
        index_elements=[lease_table.c.outbox_id],
        set_={"holder": statement.excluded.holder, "expires_ms": statement.excluded.expires_ms},
        where=lease_table.c.expires_ms <= bindparam("now_ms"),
    ).returning(lease_table.c.outbox_id)


_TAKE_LEASES = Statement(_build_take_leases)
_MARK_SENT = Statement(
    update(outbox_table)
    .where(outbox_table.c.id.in_(bindparam("ids", expanding=True)))
    .values(sent_at=bindparam("sent_at"))
)
# Once a row is sent nobody needs its lease, whichever relay holds it now.
_DROP_LEASES = Statement(
    delete(lease_table).where(lease_table.c.outbox_id.in_(bindparam("ids", expanding=True)))
)
_RELEASE = Statement(
    delete(lease_table).where(
        lease_table.c.outbox_id.in_(bindparam("ids", expanding=True)),
        lease_table.c.holder == bindparam("holder"),
    )
)


async def create_outbox_table(database: Database) -> None:
    """Create the outbox tables if missing (a service with migrations puts `metadata` in its env.py)."""
    await database.create_tables(metadata)


def _row(slip: pb.RoutingSlip, now: datetime) -> dict[str, object]:
    step = current_step(slip)
    if step is None:
        raise InvalidSlip(f"saga {slip.saga_id} has no step to publish")
    # The row keeps the starting request's trace in its slip, so the relay publishes the saga in it.
    stamp_current_trace(slip)
    return {
        "saga_id": slip.saga_id,
        "step": step.name,
        "participant": step.participant,
        "slip": encode_slip(slip),
        "created_at": now,
    }


def stored_slip(text: str) -> pb.RoutingSlip:
    """The slip of an outbox row: binary protobuf in base64, or protobuf JSON in rows written
    before (a JSON object starts with a brace, which base64 never does)."""
    return slip_json.loads(text) if text.startswith("{") else decode_slip(text)


def add(conn: Connection, slip: pb.RoutingSlip, now: datetime | None = None) -> None:
    """Queue `slip` for publishing, inside the caller's transaction: commit both or neither."""
    conn.execute(_ADD, _row(slip, now or datetime.now(UTC)))


def add_many(conn: Connection, slips: Sequence[pb.RoutingSlip], now: datetime | None = None) -> None:
    """Queue several slips in one driver call, inside the caller's transaction."""
    if slips:
        stamp = now or datetime.now(UTC)
        conn.execute_many(_ADD, [_row(slip, stamp) for slip in slips])


@dataclass(frozen=True)
class PendingSlip:
    """An outbox row a relay holds the lease of: its id, its saga and the slip as the row stores it."""

    id: int
    saga_id: str
    slip: str


class SlipPublisher(Protocol):
    """Where a relay's claimed slips go; raising leaves them pending for a later pass."""

    async def publish(self, slips: Sequence[PendingSlip]) -> None: ...


class RedisSlipPublisher:
    """Publishes slips with the PUBLISH script, all of a batch in one pipeline (one round trip)."""

    def __init__(
        self,
        redis: Redis,
        keys: BusKeys,
        *,
        retention_ms: int = DEFAULT_RETENTION_MS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.retention_ms = retention_ms
        self._clock = clock

    async def publish(self, slips: Sequence[PendingSlip]) -> None:
        # A node that forgot the script (a restart, a promoted replica) gets it and the calls it
        # refused again; a slip published twice is a no-op the second time.
        now = self._clock()
        slips_read = [stored_slip(pending.slip) for pending in slips]
        calls = [publish_call(self.keys, slip, now, self.retention_ms) for slip in slips_read]
        await run_script_batch(self.redis, PUBLISH_SCRIPT.source, calls)


class OutboxRelay:
    """Publishes unsent outbox rows to Redis, oldest first, then marks them sent."""

    def __init__(
        self,
        database: Database,
        redis: Redis,
        keys: BusKeys,
        *,
        batch_size: int = 100,
        sweep_interval_s: float = 1.0,
        retention_ms: int = DEFAULT_RETENTION_MS,
        lease_s: float = DEFAULT_LEASE_SECONDS,
        clock: Callable[[], float] = time.time,
        publisher: SlipPublisher | None = None,
    ) -> None:
        self.database = database
        self.redis = redis
        self.keys = keys
        self.batch_size = batch_size
        self.sweep_interval_s = sweep_interval_s
        self.lease_ms = int(lease_s * 1000)
        self.publisher = publisher or RedisSlipPublisher(redis, keys, retention_ms=retention_ms, clock=clock)
        # Names this relay's leases, so a failed publish drops its own and no other relay's.
        self.holder = uuid.uuid4().hex
        self._clock = clock
        self._stopping = False
        self._woken = asyncio.Event()
        self._handed: list[PendingSlip] = []

    def wake(self) -> None:
        """Rows were committed (call it after the commit): publish them now, not at the next sweep."""
        self._woken.set()

    def lease_in(
        self, conn: Connection, slips: Sequence[pb.RoutingSlip], now: datetime | None = None
    ) -> list[PendingSlip]:
        """Queue `slips` inside the caller's transaction, leased to this relay: `hand` it the rows
        once the transaction committed. Rows never handed wait for their lease to run out."""
        stamp = now or datetime.now(UTC)
        expires_ms = int(self._clock() * 1000) + self.lease_ms
        pending = []
        for slip in slips:
            row = _row(slip, stamp)
            outbox_id = int(conn.rows(_ADD_RETURNING, row)[0][0])
            pending.append(PendingSlip(outbox_id, slip.saga_id, str(row["slip"])))
        conn.execute_many(
            _ADD_LEASE,
            [{"outbox_id": p.id, "holder": self.holder, "expires_ms": expires_ms} for p in pending],
        )
        return pending

    def hand(self, pending: Sequence[PendingSlip]) -> None:
        """Committed rows `lease_in` wrote: the next pass publishes them without claiming."""
        if pending:
            self._handed.extend(pending)
            self._woken.set()

    def stop(self) -> None:
        self._stopping = True
        self._woken.set()

    async def relay_once(self, *, sweep: bool = False) -> int:
        """Publish and mark one batch: the rows handed to the relay, else (or when `sweep`) the rows
        it claims; how many were sent. A failed publish raises, after giving the leases back."""
        if self._handed and not sweep:
            # Leased in the transactions that wrote them: nothing to claim.
            claimed, self._handed = self._handed[: self.batch_size], self._handed[self.batch_size :]
        else:
            now_ms = int(self._clock() * 1000)
            claimed = await self.database.transaction(lambda conn: self._claim(conn, now_ms))
        if not claimed:
            return 0
        ids = [pending.id for pending in claimed]
        try:
            await self.publisher.publish(claimed)
        except Exception:
            await self._release(ids)
            raise
        sent_at = datetime.fromtimestamp(self._clock(), tz=UTC)
        await self.database.transaction(lambda conn: _mark_sent(conn, ids, sent_at))
        return len(claimed)

    def _claim(self, conn: Connection, now_ms: int) -> list[PendingSlip]:
        rows = conn.rows(_CLAIMABLE, {"limit": self.batch_size, "now_ms": now_ms})
        if not rows:
            return []
        params = {
            "ids": [row.id for row in rows],
            "holder": self.holder,
            "expires_ms": now_ms + self.lease_ms,
            "now_ms": now_ms,
        }
        leased = {row[0] for row in conn.rows(_TAKE_LEASES, params)}
        return [PendingSlip(row.id, row.saga_id, row.slip) for row in rows if row.id in leased]

    async def _release(self, ids: list[int]) -> None:
        """Give the leases back so the next pass (of any replica) retries the rows at once; if even
        that fails, the leases run out by themselves."""
        params = {"ids": ids, "holder": self.holder}
        try:
            await self.database.transaction(lambda conn: conn.execute(_RELEASE, params))
        except Exception:
            log.warning(
                "could not release %d outbox leases; they expire on their own", len(ids), exc_info=True
            )

    async def run(self) -> None:
        """Relay until stop(); a failing pass is logged and retried, never fatal."""
        await PUBLISH_SCRIPT.load(self.redis)
        loop = asyncio.get_running_loop()
        sweep_at = loop.time()
        while not self._stopping:
            # Cleared before the pass: a commit that lands while it runs wakes the next one.
            self._woken.clear()
            # Handed rows alone would starve the rows a crash or another replica left: claim too
            # once a sweep interval has passed since the last claim.
            sweep = not self._handed or loop.time() >= sweep_at
            if sweep:
                sweep_at = loop.time() + self.sweep_interval_s
            try:
                handled = await self.relay_once(sweep=sweep)
            except Exception:
                log.exception("outbox relay pass failed; retrying")
                handled = 0
            if handled < self.batch_size and not self._handed:
                await self._sleep()

    async def _sleep(self) -> None:
        """Until a commit wakes the relay, or the safety sweep is due."""
        try:
            async with asyncio.timeout(self.sweep_interval_s):
                await self._woken.wait()
        except TimeoutError:
            pass


def _mark_sent(conn: Connection, ids: list[int], sent_at: datetime) -> None:
    conn.execute(_MARK_SENT, {"ids": ids, "sent_at": sent_at})
    conn.execute(_DROP_LEASES, {"ids": ids})
