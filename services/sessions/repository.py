"""Sessions table adapter: reads, and writes as compare-and-set on version, with events in the same tx."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

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
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.kit.errors import Conflict
from services.sessions.codec import decode_items, encode_items
from services.sessions.domain import Session, State

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

# Something to run inside the same transaction as a session write (e.g. an outbox insert).
TransactionalWrite = Callable[[AsyncConnection], Awaitable[None]]


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


class SessionRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def get(self, session_id: str) -> Session | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(sessions).where(sessions.c.id == session_id))).first()
        return None if row is None else _row_to_session(row)

    async def get_many(self, session_ids: Sequence[str]) -> list[Session]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(sessions).where(sessions.c.id.in_(list(session_ids))))).all()
        return [_row_to_session(row) for row in rows]

    async def list_for(self, customer_id: str, limit: int, offset: int) -> list[Session]:
        query = (
            select(sessions)
            .where(sessions.c.customer_id == customer_id)
            .order_by(sessions.c.created_at.desc(), sessions.c.id)
            .limit(limit)
            .offset(offset)
        )
        async with self.engine.connect() as conn:
            return [_row_to_session(row) for row in (await conn.execute(query)).all()]

    async def non_terminal(self) -> list[tuple[str, datetime, State]]:
        terminal = [State.CONFIRMED.value, State.CANCELLED.value, State.EXPIRED.value]
        query = select(sessions.c.id, sessions.c.expires_at, sessions.c.state).where(
            sessions.c.state.not_in(terminal)
        )
        async with self.engine.connect() as conn:
            return [(r.id, _utc(r.expires_at), State(r.state)) for r in (await conn.execute(query)).all()]

    async def insert(self, session: Session, events: Sequence[dict[str, Any]] = ()) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                sessions.insert().values(
                    id=session.id,
                    customer_id=session.customer_id,
                    created_at=session.created_at,
                    **_values(session),
                )
            )
            await self._add_events(conn, session.id, events)

    async def compare_and_set(
        self,
        session: Session,
        expected_version: int,
        events: Sequence[dict[str, Any]] = (),
        also: Sequence[TransactionalWrite] = (),
    ) -> None:
        """Write the session only if nobody else wrote it since it was read."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                sessions.update()
                .where(and_(sessions.c.id == session.id, sessions.c.version == expected_version))
                .values(**_values(session))
            )
            if result.rowcount != 1:
                raise Conflict(f"session {session.id} changed concurrently")
            await self._add_events(conn, session.id, events)
            for write in also:
                await write(conn)

    async def compare_and_set_all(
        self,
        changes: Sequence[tuple[Session, int]],
        events: Sequence[dict[str, Any]],
        also: Sequence[TransactionalWrite] = (),
    ) -> None:
        """Write many sessions in one transaction, all or none: Conflict if any changed meanwhile."""
        if not changes:
            return
        async with self.engine.begin() as conn:
            result = await conn.execute(
                sessions.update()
                .where(and_(sessions.c.id == bindparam("_id"), sessions.c.version == bindparam("_expected")))
                .values({name: bindparam(f"v_{name}") for name in _values(changes[0][0])}),
                [
                    {"_id": s.id, "_expected": expected, **{f"v_{k}": v for k, v in _values(s).items()}}
                    for s, expected in changes
                ],
            )
            if result.rowcount != len(changes):
                raise Conflict("a session in the batch changed concurrently")
            await conn.execute(session_events.insert(), list(events))
            for write in also:
                await write(conn)

    async def _add_events(
        self, conn: AsyncConnection, session_id: str, events: Sequence[dict[str, Any]]
    ) -> None:
        if events:
            await conn.execute(session_events.insert(), [{"session_id": session_id, **e} for e in events])

    async def events(self, session_id: str) -> list[Any]:
        query = (
            select(session_events)
            .where(session_events.c.session_id == session_id)
            .order_by(session_events.c.seq)
        )
        async with self.engine.connect() as conn:
            return list((await conn.execute(query)).all())
