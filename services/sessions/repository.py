"""Sessions table adapter: reads, and writes as compare-and-set on version, with events in the same tx."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

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
    and_,
    bindparam,
    func,
    select,
    text,
)

from kit.database import Connection, Database
from kit.error_reasons import ErrorReason
from kit.errors import Conflict
from kit.request_ids import RequestIds, RequestKey, request_ids_table
from kit.statements import Statement
from services.sessions.codec import decode_items, encode_items
from services.sessions.domain import Session, State
from services.sessions.open_limit import OpenSessions
from services.sessions.ports import Change, CommitListener
from services.sessions.reconciliation import Unfinished

T = TypeVar("T")

metadata = MetaData()

sessions = Table(
    "sessions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("customer_id", String(36), nullable=False),
    Column("state", String(20), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("items", Text, nullable=False),
    Column("reason", String(40), nullable=False, default=""),
    Column("payment_id", String(64), nullable=False, default=""),
    Column("cancel_target", String(20), nullable=True),
    Index("ix_sessions_customer", "customer_id", "created_at"),
    Index("ix_sessions_state", "state"),
)

session_events = Table(
    "session_events",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("session_id", String(36), nullable=False, index=True),
    Column("time", DateTime(timezone=True), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("step", String(40), nullable=False),
    Column("outcome", String(40), nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Column("saga_id", String(64), nullable=False, default=""),
)

# The customers' recent CreateSession request ids, written with the session they opened.
request_ids = request_ids_table(metadata)

_WRITTEN = ("state", "version", "updated_at", "expires_at", "items", "reason", "payment_id", "cancel_target")
_EVENT_COLUMNS = ("session_id", "time", "kind", "step", "outcome", "detail", "saga_id")
_TERMINAL = [State.CONFIRMED.value, State.CANCELLED.value, State.EXPIRED.value]

_GET = Statement(select(sessions).where(sessions.c.id == bindparam("id")))
_GET_MANY = Statement(select(sessions).where(sessions.c.id.in_(bindparam("ids", expanding=True))))
_LIST_FOR = Statement(
    select(sessions)
    .where(sessions.c.customer_id == bindparam("customer_id"))
    .order_by(sessions.c.created_at.desc(), sessions.c.id)
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))
)
_NON_TERMINAL_PAGE = Statement(
    select(sessions.c.id, sessions.c.expires_at, sessions.c.state, sessions.c.updated_at)
    .where(sessions.c.state.not_in(_TERMINAL), sessions.c.id > bindparam("after"))
    .order_by(sessions.c.id)
    .limit(bindparam("limit"))
)
_COUNT_OPEN = Statement(
    select(func.count(), func.min(sessions.c.expires_at)).where(
        sessions.c.customer_id == bindparam("customer_id"),
        sessions.c.state.in_(bindparam("states", expanding=True)),
    )
)
_COUNT_BY_STATE = Statement(select(sessions.c.state, func.count()).group_by(sessions.c.state))
_IN_STATES = Statement(
    select(sessions)
    .where(sessions.c.state.in_(bindparam("states", expanding=True)))
    .order_by(sessions.c.updated_at)
    .limit(bindparam("limit"))
)
_LOCK_CUSTOMER = Statement(text("SELECT pg_advisory_xact_lock(:key)"))
_INSERT = Statement(sessions.insert().values({c.name: bindparam(c.name) for c in sessions.c}))
_CAS = Statement(
    sessions.update()
    .where(and_(sessions.c.id == bindparam("_id"), sessions.c.version == bindparam("_expected")))
    .values({name: bindparam(name) for name in _WRITTEN})
)
_REQUEST_IDS = RequestIds(request_ids)
_ADD_EVENT = Statement(session_events.insert().values({name: bindparam(name) for name in _EVENT_COLUMNS}))
_EVENTS = Statement(
    select(session_events)
    .where(session_events.c.session_id == bindparam("session_id"))
    .order_by(session_events.c.seq)
)


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _row_to_session(row: Any) -> Session:
    hotel, flights = decode_items(row.items)
    return Session(
        id=row.id,
        customer_id=row.customer_id,
        state=State(row.state),
        created_at=_utc(row.created_at),
        updated_at=_utc(row.updated_at),
        expires_at=_utc(row.expires_at),
        version=row.version,
        hotel=hotel,
        flights=flights,
        reason=row.reason,
        payment_id=row.payment_id,
        cancel_target=State(row.cancel_target) if row.cancel_target else None,
    )


def _values(session: Session) -> dict[str, Any]:
    return {
        "state": session.state.value,
        "version": session.version,
        "updated_at": session.updated_at,
        "expires_at": session.expires_at,
        "items": encode_items(session.hotel, session.flights),
        "reason": session.reason,
        "payment_id": session.payment_id,
        "cancel_target": session.cancel_target.value if session.cancel_target else None,
    }


def _lock_key(session: Session) -> int:
    """A signed 64-bit advisory lock key per customer."""
    digest = hashlib.blake2b(f"sessions.open:{session.customer_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _nobody_listens(_: Sequence[Change]) -> None:
    pass


class SessionRepository:
    """Every method is one transaction on the service's database."""

    def __init__(self, database: Database, committed: CommitListener = _nobody_listens) -> None:
        self.database = database
        self._committed = committed

    async def get(self, session_id: str) -> Session | None:
        return await self.database.read(lambda conn: _read(conn, session_id))

    async def get_many(self, session_ids: Sequence[str]) -> list[Session]:
        if not session_ids:
            return []
        rows = await self.database.read(lambda conn: conn.rows(_GET_MANY, {"ids": list(session_ids)}))
        return [_row_to_session(row) for row in rows]

    async def list_for(self, customer_id: str, limit: int, offset: int) -> list[Session]:
        params = {"customer_id": customer_id, "limit": limit, "offset": offset}
        rows = await self.database.read(lambda conn: conn.rows(_LIST_FOR, params))
        return [_row_to_session(row) for row in rows]

    async def non_terminal(self, after: str, limit: int) -> list[Unfinished]:
        params = {"after": after, "limit": limit}
        rows = await self.database.read(lambda conn: conn.rows(_NON_TERMINAL_PAGE, params))
        return [Unfinished(r.id, _utc(r.expires_at), State(r.state), _utc(r.updated_at)) for r in rows]

    async def count_by_state(self) -> dict[State, int]:
        rows = await self.database.read(lambda conn: conn.rows(_COUNT_BY_STATE))
        return {State(row[0]): int(row[1]) for row in rows}

    async def in_states(self, states: Collection[State], limit: int) -> list[Session]:
        """Sessions in any of `states`, least recently changed first."""
        params = {"states": [state.value for state in states], "limit": limit}
        rows = await self.database.read(lambda conn: conn.rows(_IN_STATES, params))
        return [_row_to_session(row) for row in rows]

    async def insert_unless(
        self,
        session: Session,
        events: Sequence[dict[str, Any]],
        counted: Collection[State],
        refuse: Callable[[OpenSessions], Exception | None],
        request: RequestKey | None = None,
    ) -> Session | None:
        """Insert a customer's new session unless `refuse`, shown their sessions in `counted`, objects.

        Count and insert share one transaction, serialized per customer: on PostgreSQL by a
        transaction-scoped advisory lock, on SQLite by its single writer. So two concurrent opens
        never both fit into the last free place.

        With a `request`, the session an earlier call with it opened is returned as it is now and
        nothing is inserted or refused; else the new session is recorded under it.
        """

        def insert(conn: Connection) -> Session | None:
            if conn.dialect == "postgresql":
                conn.execute(_LOCK_CUSTOMER, {"key": _lock_key(session)})
            if request is not None:
                first = _REQUEST_IDS.find(conn, request, session.created_at)
                opened = None if first is None else _read(conn, first.resource_id)
                if opened is not None:
                    return opened
            states = [state.value for state in counted]
            row = conn.first(_COUNT_OPEN, {"customer_id": session.customer_id, "states": states})
            earliest = None if row is None or row[1] is None else _utc(row[1])
            refusal = refuse(
                OpenSessions(count=0 if row is None else int(row[0]), earliest_deadline=earliest)
            )
            if refusal is not None:
                raise refusal
            conn.execute(
                _INSERT,
                {"id": session.id, "customer_id": session.customer_id, "created_at": session.created_at}
                | _values(session),
            )
            _add_events(conn, session.id, events)
            if request is not None and not _REQUEST_IDS.record(conn, request, session.id, session.created_at):
                # Opens of a customer are serialized, so only a record naming a vanished session gets
                # here; a second session must not be opened under it.
                raise Conflict("the same request is being served concurrently; try again")
            return None

        return await self.database.transaction(insert)

    async def transition(
        self, session_id: str, decide: Callable[[Session | None], tuple[Change | None, T]]
    ) -> T:
        """Read the session, let `decide` (pure) choose a change, and write it, in one transaction.

        The write is still a compare-and-set on the version read: Conflict if another transaction
        (another replica, on PostgreSQL) wrote the session in between.
        """

        written: list[Change] = []

        def hop(conn: Connection) -> T:
            change, result = decide(_read(conn, session_id))
            if change is not None:
                _write(conn, [change])
                written.append(change)
            return result

        result = await self.database.transaction(hop)
        if written:
            self._committed(written)
        return result

    async def transition_many(
        self, session_ids: Sequence[str], decide: Callable[[list[Session]], tuple[Sequence[Change], T]]
    ) -> T:
        """Like `transition` for many sessions at once, all or none: Conflict if any changed meanwhile."""

        written: list[Change] = []

        def hop(conn: Connection) -> T:
            found = conn.rows(_GET_MANY, {"ids": list(session_ids)}) if session_ids else []
            changes, result = decide([_row_to_session(row) for row in found])
            _write(conn, changes)
            written.extend(changes)
            return result

        result = await self.database.transaction(hop)
        if written:
            self._committed(written)
        return result

    async def events(self, session_id: str) -> list[Any]:
        return await self.database.read(lambda conn: conn.rows(_EVENTS, {"session_id": session_id}))

    async def with_events(self, session_id: str) -> tuple[Session | None, list[Any]]:
        """The session and its events, read in one transaction (so they agree with each other)."""

        def read(conn: Connection) -> tuple[Session | None, list[Any]]:
            session = _read(conn, session_id)
            return session, [] if session is None else conn.rows(_EVENTS, {"session_id": session_id})

        return await self.database.read(read)


def _read(conn: Connection, session_id: str) -> Session | None:
    row = conn.first(_GET, {"id": session_id})
    return None if row is None else _row_to_session(row)


def _write(conn: Connection, changes: Sequence[Change]) -> None:
    if not changes:
        return
    rows = [{"_id": c.session.id, "_expected": c.expected_version} | _values(c.session) for c in changes]
    written = conn.execute(_CAS, rows[0]) if len(rows) == 1 else conn.execute_many(_CAS, rows)
    if written != len(changes):
        raise Conflict("a session changed concurrently", reason=ErrorReason.CONCURRENT_CHANGE)
    events = [{"session_id": c.session.id, **event} for c in changes for event in c.events]
    conn.execute_many(_ADD_EVENT, events)
    for change in changes:
        for write in change.writes:
            write(conn)


def _add_events(conn: Connection, session_id: str, events: Sequence[dict[str, Any]]) -> None:
    conn.execute_many(_ADD_EVENT, [{"session_id": session_id, **event} for event in events])
