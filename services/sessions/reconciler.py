"""The reconciler: a slow, leased sweep that re-drives from the sessions database what Redis lost.

Every interval one replica (the holder of a lease in Redis) reads the unfinished sessions, re-adds
the deadlines the schedule lost, and starts again, through the outbox, every saga of a session
that has waited past a bound in CONFIRMING or CANCELLING while the bus keeps nothing of it.
Starting a saga again is safe: its id is deterministic, so while its start marker survives the bus
refuses the repeat; once the markers are gone its steps run again under the same idempotency keys,
and the providers answer each repeat with what they did the first time.

The same sweep releases what a reserve request cut off between its provider hold and its attach
left behind, once the session is settled for good and the request's record is old enough.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from prometheus_client import Counter
from redis.exceptions import RedisError
from travel.saga.v1 import saga_pb2 as pb

from bus import outbox
from kit.database import Connection
from kit.errors import Conflict
from services.reservations.attempts import ReserveAttempt, participants_of
from services.sessions.domain import EXPIRABLE, Session
from services.sessions.ports import Change, SagaPlans, SessionStore, TransactionalWrite
from services.sessions.reconciliation import (
    Redrive,
    Repairs,
    Unfinished,
    attempts_to_sweep,
    deadlines_to_restore,
    forgotten,
    maybe_overdue,
    overdue,
    redrive_event,
    redriven,
    saga_owed,
)

log = logging.getLogger(__name__)

# Sessions read back per statement when looking for sagas owed.
_READ_CHUNK = 500
# Unfinished sessions' summaries read per statement.
SUMMARY_PAGE = 2_000

REPAIRS = Counter(
    "travel_reconciler_repairs",
    "What the reconciler put back from the sessions database after Redis lost it, by repair",
    ["repair"],
)


@dataclass(frozen=True)
class ReconcilerConfig:
    """How often the sweep runs, and how long a session waits for its saga before it is re-driven."""

    interval: timedelta
    saga_after: timedelta
    # A reserve attempt this old has made every hold it ever will (a provider call gives up within
    # seconds, and a killed request's hold lands before that): listing now finds them all.
    attempt_grace: timedelta = timedelta(minutes=2)


class ReconcileBus(Protocol):
    """What the sweep reads and repairs in Redis."""

    async def take_lease(self, token: str, ttl_ms: int) -> bool:
        """Hold the sweep's lease for `ttl_ms` unless someone holds it; whether this call took it."""
        ...

    async def holds_lease(self, token: str) -> bool: ...

    async def scheduled(self, session_ids: Sequence[str]) -> set[str]:
        """Those of `session_ids` whose deadline the schedule holds, waiting or claimed."""
        ...

    async def restore_deadlines(self, deadlines: dict[str, int]) -> None:
        """Add the deadlines; one scheduled meanwhile keeps the earlier of both."""
        ...

    async def remembered(self, sagas: Mapping[str, str]) -> set[str]:
        """Those of `sagas` (saga id -> its session's id) the bus keeps step markers or history of."""
        ...

    async def attempts_started_before(self, cutoff_ms: int) -> list[ReserveAttempt]:
        """Reserve attempts still recorded that started before `cutoff_ms`."""
        ...

    async def start_saga(self, slip: pb.RoutingSlip) -> None: ...

    async def forget_attempts(self, attempts: Sequence[ReserveAttempt]) -> None: ...


async def unfinished_pages(store: SessionStore, page: int = SUMMARY_PAGE) -> AsyncIterator[list[Unfinished]]:
    """Every unfinished session's summary, a page at a time, with the event loop free between pages.

    On SQLite a read runs on the event loop and its result is ready when awaited, which then does
    not yield: read whole, 100,000 sessions held every call behind them for about a second.
    """
    after = ""
    while True:
        found = await store.non_terminal(after, page)
        if found:
            yield found
        if len(found) < page:
            return
        after = found[-1].session_id
        await asyncio.sleep(0)


# A saga start written in the caller's transaction (the outbox, in production).
StartWrite = Callable[[pb.RoutingSlip, datetime], TransactionalWrite]


def outbox_start(slip: pb.RoutingSlip, now: datetime) -> TransactionalWrite:
    def write(conn: Connection) -> None:
        outbox.add(conn, slip, now)

    return write


def owed_slip(plans: SagaPlans, session: Session, now: datetime) -> pb.RoutingSlip | None:
    """The slip of the saga the session waits for, as the arbiter built it (same deterministic id)."""
    owed = saga_owed(session.state)
    if owed is Redrive.CONFIRMATION:
        return plans.confirmation_slip(session, now)
    if owed is Redrive.CANCELLATION:
        return plans.cancellation_slip(session, now)
    return None


class Reconciler:
    def __init__(
        self,
        store: SessionStore,
        bus: ReconcileBus,
        config: ReconcilerConfig,
        clock: Callable[[], datetime],
        plans: SagaPlans,
        start_write: StartWrite = outbox_start,
    ) -> None:
        self._plans = plans
        self._store = store
        self._bus = bus
        self._config = config
        self._clock = clock
        self._start_write = start_write
        self._token = uuid.uuid4().hex
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Sweep once per interval until stop(); the first sweep waits one interval (start-up has
        just re-added the deadlines). A failing sweep is logged and tried at the next interval."""
        while not self._stopping.is_set():
            try:
                async with asyncio.timeout(self._config.interval.total_seconds()):
                    await self._stopping.wait()
                return
            except TimeoutError:
                pass
            try:
                await self.sweep()
            except (RedisError, OSError) as error:
                # Redis away (perhaps losing the very data this sweep puts back): the next one will.
                log.warning("reconciliation sweep skipped, Redis unavailable: %s", error)
            except Exception:
                log.exception("reconciliation sweep failed; trying again at the next interval")

    async def sweep(self) -> Repairs | None:
        """One sweep if this replica takes the lease; None when another holds it."""
        ttl_ms = int(self._config.interval.total_seconds() * 1000)
        # Held until it runs out, not released: one sweep per interval across all replicas.
        if not await self._bus.take_lease(self._token, ttl_ms):
            return None
        now = self._clock()
        missing: dict[str, int] = {}
        waiting: list[str] = []
        async for page in unfinished_pages(self._store):
            expirable = [u.session_id for u in page if u.state in EXPIRABLE]
            missing.update(deadlines_to_restore(page, await self._bus.scheduled(expirable)))
            waiting += maybe_overdue(page, now, self._config.saga_after)
        owed = self._owed(await self._read(waiting), now)
        lost = forgotten(owed, await self._bus.remembered({saga: s.id for saga, s in owed.items()}))
        if not await self._bus.holds_lease(self._token):
            # The sweep outlived its lease and another replica may be repairing the same things.
            log.info("reconciliation lease lost mid-sweep; leaving the repairs to its holder")
            return None
        await self._bus.restore_deadlines(missing)
        restarted = 0
        for saga_id, session in lost:
            restarted += await self._restart(saga_id, session, now)
        repairs = Repairs(deadlines=len(missing), sagas=restarted, strays=await self._sweep_strays(now))
        REPAIRS.labels("deadline").inc(repairs.deadlines)
        REPAIRS.labels("saga").inc(repairs.sagas)
        REPAIRS.labels("strays").inc(repairs.strays)
        if repairs.any:
            log.warning(
                "reconciled from the database: %d deadlines re-added, %d sagas started again, "
                "strays released for %d sessions",
                repairs.deadlines,
                repairs.sagas,
                repairs.strays,
            )
        return repairs

    async def _sweep_strays(self, now: datetime) -> int:
        """Start a release of the strays of each settled session a reserve attempt was left for.

        The release saga lists the holds after this look, and every attempt taken is older than
        the grace, so whatever hold it made is listed; only then is its record dropped.
        """
        cutoff = now - self._config.attempt_grace
        left = await self._bus.attempts_started_before(int(cutoff.timestamp() * 1000))
        if not left:
            return 0
        sessions = {s.id: s for s in await self._read(sorted({a.session_id for a in left}))}
        swept = attempts_to_sweep(left, sessions)
        for session_id, attempts in swept.items():
            slip = self._plans.stray_release_slip(
                session_id,
                sessions.get(session_id),
                participants_of(attempts),
                f"strays-{uuid.uuid4().hex}",
                now,
            )
            await self._bus.start_saga(slip)
            await self._bus.forget_attempts(attempts)
            log.info("releasing strays of session %s left by %d reserve attempts", session_id, len(attempts))
        return len(swept)

    async def _read(self, session_ids: Sequence[str]) -> list[Session]:
        found: list[Session] = []
        for start in range(0, len(session_ids), _READ_CHUNK):
            found += await self._store.get_many(session_ids[start : start + _READ_CHUNK])
            await asyncio.sleep(0)  # see unfinished_pages
        return found

    def _owed(self, sessions: Collection[Session], now: datetime) -> dict[str, Session]:
        """Saga id -> session, for each session that waited past the bound."""
        owed: dict[str, Session] = {}
        for session in overdue(sessions, now, self._config.saga_after):
            slip = owed_slip(self._plans, session, now)
            if slip is not None:
                owed[slip.saga_id] = session
        return owed

    async def _restart(self, saga_id: str, judged: Session, now: datetime) -> int:
        """Queue the saga's start again with the session's compare-and-set; 1 if it was written."""
        slip = owed_slip(self._plans, judged, now)
        if slip is None:
            return 0

        def decide(found: Session | None) -> tuple[Change | None, bool]:
            updated = redriven(found, judged, now)
            if updated is None:
                return None, False
            event = redrive_event(now, saga_id, judged.state)
            return Change(updated, judged.version, [event], [self._start_write(slip, now)]), True

        try:
            written = await self._store.transition(judged.id, decide)
        except Conflict:
            return 0  # the session moved on meanwhile: nothing is owed from this look
        if written:
            log.warning("saga %s of session %s started again from the database", saga_id, judged.id)
        return 1 if written else 0
