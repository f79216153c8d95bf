"""Transactional outbox: a service writes slips in its own DB transaction; a relay publishes them.

A relay pass is three steps, and no transaction stays open across the Redis round trip:

1. claim: one short write transaction takes a lease on a batch of unsent rows (a row in
   `bus_outbox_leases` per outbox row, upserted only where no other relay's lease is live), so
   replicas sharing one outbox on PostgreSQL publish different rows;
2. publish: the slips go to Redis outside any transaction;
3. mark: the rows are marked sent and their leases dropped, in the next write transaction of the
   process (`Database.ride`), or in one of the relay's own if none comes soon. A failed publish
   drops the leases instead, so the rows stay pending for the next pass.

A row may still be published twice: a relay that dies after XADD and before the mark (or whose
mark failed) leaves its lease to expire, and one slower than its lease shares the rows with
whoever claims them next.
That costs nothing: a saga's id is deterministic (`confirm-<session>`, `cancel-<session>`, ...),
and the PUBLISH script sets a per-saga-step marker in the saga's step hash with HSETNX before it
XADDs, so a second publish of the same saga step is a no-op on the bus.

A process whose commits start sagas can skip the claim: `lease_in` writes the rows with this
relay's lease in the committing transaction; once committed, `publish_beside` publishes them in
the pipeline of the caller's own script calls (`hand` gives them to the relay's next pass
instead). A process killed between that commit and the publish leaves rows whose lease runs out;
the sweep of any relay then takes them.

The relay sleeps until a commit of its own process wakes it. Each sweep reads when the earliest
live lease runs out and the next comes then, or after `sweep_interval_s` at the latest, for rows
another replica or a crash left without a lease in sight.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

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
from kit.redis_scripts import ScriptRun, run_script_batch, run_scripts
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
# A published row is marked sent by the next transaction of its process, or by one of its own
# this long after: well inside the lease, past which another pass would publish it again.
DEFAULT_MARK_WITHIN_SECONDS = 1.0
# The longest a relay waits between sweeps: for rows whose lease it did not see run out (rows
# another replica wrote unleased, or gave back after a failed publish and then died).
DEFAULT_SWEEP_CAP_SECONDS = 30.0
# After a failed pass (Redis or the database away), the next sweep comes this soon.
RETRY_SECONDS = 1.0

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
_LIVE_LEASES = Statement(
    select(lease_table.c.outbox_id, lease_table.c.expires_ms).where(
        lease_table.c.expires_ms > bindparam("now_ms")
    )
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

    def calls(self, slips: Sequence[PendingSlip]) -> list[ScriptRun]:
        """The PUBLISH script runs of `slips`, for a pipeline that carries other calls too."""
        now = self._clock()
        return [
            (PUBLISH_SCRIPT.source, *publish_call(self.keys, stored_slip(p.slip), now, self.retention_ms))
            for p in slips
        ]


class OutboxRelay:
    """Publishes unsent outbox rows to Redis, oldest first, then marks them sent."""

    def __init__(
        self,
        database: Database,
        redis: Redis,
        keys: BusKeys,
        *,
        batch_size: int = 100,
        sweep_interval_s: float = DEFAULT_SWEEP_CAP_SECONDS,
        retention_ms: int = DEFAULT_RETENTION_MS,
        lease_s: float = DEFAULT_LEASE_SECONDS,
        mark_within_s: float = DEFAULT_MARK_WITHIN_SECONDS,
        clock: Callable[[], float] = time.time,
        publisher: SlipPublisher | None = None,
    ) -> None:
        self.database = database
        self.redis = redis
        self.keys = keys
        self.batch_size = batch_size
        # The longest wait between two sweeps; the sweep comes sooner when a lease it saw runs out.
        self.sweep_interval_s = sweep_interval_s
        self.lease_ms = int(lease_s * 1000)
        self.mark_within_s = mark_within_s
        self.publisher = publisher or RedisSlipPublisher(redis, keys, retention_ms=retention_ms, clock=clock)
        # Names this relay's leases, so a failed publish drops its own and no other relay's.
        self.holder = uuid.uuid4().hex
        self._clock = clock
        self._stopping = False
        self._woken = asyncio.Event()
        self._claim_asked = False
        self._handed: list[PendingSlip] = []
        # When, on the relay's clock, the earliest lease the last claim saw runs out (None: none seen).
        self._lease_ends_s: float | None = None
        self._marks_due: float | None = None

    def wake(self) -> None:
        """Rows were committed (call it after the commit): claim and publish them now, not at the
        next sweep."""
        self._claim_asked = True
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

    async def publish_beside(self, pending: Sequence[PendingSlip], before: Sequence[ScriptRun]) -> list[Any]:
        """Publish committed rows `lease_in` wrote in the same pipeline as the caller's own script
        calls `before` (one round trip for both), and have them marked sent; the answers of
        `before`, errors in place. A row that did not publish goes to the relay's next pass."""
        calls = self.publisher.calls(pending) if isinstance(self.publisher, RedisSlipPublisher) else None
        if calls is None:
            self.hand(pending)
            return await run_scripts(self.redis, before)
        try:
            answers = await run_scripts(self.redis, [*before, *calls])
        except Exception:
            self.hand(pending)
            raise
        if any(isinstance(answer, Exception) for answer in answers[len(before) :]):
            # Published twice at worst: the PUBLISH script's marker makes the second a no-op.
            self.hand(pending)
        else:
            self._mark_later([slip.id for slip in pending])
        return answers[: len(before)]

    def stop(self) -> None:
        self._stopping = True
        self._woken.set()

    async def relay_once(self, *, sweep: bool = False, mark_now: bool = True) -> int:
        """Publish and mark one batch: the rows handed to the relay, else (or when `sweep`) the rows
        it claims; how many were sent. A failed publish raises, after giving the leases back.
        Without `mark_now` the marks ride the next write transaction of the database (`run` does so)."""
        return await self._pass(sweep=sweep, mark_now=mark_now)

    async def _pass(self, *, sweep: bool, mark_now: bool) -> int:
        if self._handed and not sweep:
            # Leased in the transactions that wrote them: nothing to claim.
            claimed, self._handed = self._handed[: self.batch_size], self._handed[self.batch_size :]
        else:
            now_ms = int(self._clock() * 1000)
            claimed, lease_ends_ms = await self.database.transaction(lambda conn: self._claim(conn, now_ms))
            self._lease_ends_s = None if lease_ends_ms is None else lease_ends_ms / 1000
        if not claimed:
            return 0
        ids = [pending.id for pending in claimed]
        try:
            await self.publisher.publish(claimed)
        except Exception:
            await self._release(ids)
            raise
        if mark_now:
            sent_at = datetime.fromtimestamp(self._clock(), tz=UTC)
            await self.database.transaction(lambda conn: _mark_sent(conn, ids, sent_at))
        else:
            self._mark_later(ids)
        return len(claimed)

    def _mark_later(self, ids: list[int]) -> None:
        """Mark the rows sent in the next write transaction of this process, or in one of its own
        within `mark_within_s`: well inside the lease, so no other pass publishes them again."""
        sent_at = datetime.fromtimestamp(self._clock(), tz=UTC)
        self.database.ride(lambda conn: _mark_sent(conn, ids, sent_at))
        if self._marks_due is None:
            self._marks_due = asyncio.get_running_loop().time() + self.mark_within_s
            self._woken.set()  # a sleeping relay shortens its sleep to the marks' deadline

    def _claim(self, conn: Connection, now_ms: int) -> tuple[list[PendingSlip], int | None]:
        """The rows leased to this relay now, and when the earliest lease left (any relay's) runs out."""
        rows = conn.rows(_CLAIMABLE, {"limit": self.batch_size, "now_ms": now_ms})
        claimed: list[PendingSlip] = []
        if rows:
            params = {
                "ids": [row.id for row in rows],
                "holder": self.holder,
                "expires_ms": now_ms + self.lease_ms,
                "now_ms": now_ms,
            }
            leased = {row[0] for row in conn.rows(_TAKE_LEASES, params)}
            claimed = [PendingSlip(row.id, row.saga_id, row.slip) for row in rows if row.id in leased]
        taken = {pending.id for pending in claimed}
        ends = [
            int(row.expires_ms)
            for row in conn.rows(_LIVE_LEASES, {"now_ms": now_ms})
            if row.outbox_id not in taken
        ]
        return claimed, min(ends, default=None)

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
        try:
            while not self._stopping:
                # Cleared before the pass: a commit that lands while it runs wakes the next one.
                self._woken.clear()
                # Handed rows alone would starve the rows a crash or another replica left: claim
                # too once the sweep is due.
                sweep = self._claim_asked or loop.time() >= sweep_at
                handled = 0
                if sweep or self._handed:
                    self._claim_asked = False
                    try:
                        handled = await self._pass(sweep=sweep, mark_now=False)
                    except Exception:
                        log.exception("outbox relay pass failed; retrying")
                        sweep_at = loop.time() + min(RETRY_SECONDS, self.sweep_interval_s)
                    else:
                        if sweep:
                            sweep_at = self._next_sweep(loop.time())
                            # A full claim may have left rows behind it, and wake-ups that came
                            # during the pass were one: claim again now, not at the next sweep.
                            self._claim_asked = self._claim_asked or handled >= self.batch_size
                await self._carry_due_marks(loop.time())
                if handled < self.batch_size and not self._handed:
                    await self._sleep(sweep_at)
        finally:
            await self._carry_marks()

    def _next_sweep(self, now: float) -> float:
        """At the latest after the sweep interval; sooner when a lease seen in the claim runs out, so
        the rows of a relay that died go out a lease after it died."""
        latest = now + self.sweep_interval_s
        if self._lease_ends_s is None:
            return latest
        # A hair past the end: a timer that fires early would find the lease still live.
        return min(latest, now + max(0.0, self._lease_ends_s - self._clock()) + 0.01)

    async def _carry_due_marks(self, now: float) -> None:
        if self._marks_due is not None and (now >= self._marks_due or self._stopping):
            await self._carry_marks()

    async def _carry_marks(self) -> None:
        """The marks no other transaction took yet, in a transaction of their own."""
        self._marks_due = None
        try:
            await self.database.carry_riders()
        except Exception:
            # Their rows go out again once their leases run out; the bus drops the duplicates.
            log.warning("could not mark published outbox rows sent", exc_info=True)

    async def _sleep(self, sweep_at: float) -> None:
        """Until a commit wakes the relay, or the sweep or the marks are due."""
        loop = asyncio.get_running_loop()
        wake_at = sweep_at if self._marks_due is None else min(sweep_at, self._marks_due)
        try:
            async with asyncio.timeout(max(0.0, wake_at - loop.time())):
                await self._woken.wait()
        except TimeoutError:
            pass


def _mark_sent(conn: Connection, ids: list[int], sent_at: datetime) -> None:
    conn.execute(_MARK_SENT, {"ids": ids, "sent_at": sent_at})
    conn.execute(_DROP_LEASES, {"ids": ids})
