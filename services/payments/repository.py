"""Payments and processed provider events (SQLAlchemy async)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, MetaData, String, Table, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

metadata = MetaData()

payments = Table(
    "payments",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("session_id", String(36), nullable=False, unique=True),
    Column("customer_id", String(64), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(20), nullable=False),
    Column("pay_url", String(500), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

provider_events = Table(
    "provider_events",
    metadata,
    Column("event_id", String(100), primary_key=True),
    Column("type", String(40), nullable=False),
    Column("payment_id", String(64), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True)
class PaymentRecord:
    id: str
    session_id: str
    customer_id: str
    amount: int
    currency: str
    status: str
    pay_url: str


class PaymentRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def for_session(self, session_id: str) -> PaymentRecord | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(payments).where(payments.c.session_id == session_id))).first()
        return None if row is None else _record(row)

    async def get(self, payment_id: str) -> PaymentRecord | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(payments).where(payments.c.id == payment_id))).first()
        return None if row is None else _record(row)

    async def add(self, record: PaymentRecord, now: datetime) -> PaymentRecord:
        """Insert, or return the row a concurrent checkout of the same session inserted first."""
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    payments.insert().values(**record.__dict__, created_at=now, updated_at=now)
                )
            return record
        except IntegrityError:
            existing = await self.for_session(record.session_id)
            if existing is None:
                raise
            return existing

    async def set_status(self, payment_id: str, status: str, now: datetime) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                update(payments).where(payments.c.id == payment_id).values(status=status, updated_at=now)
            )

    async def seen(self, event_id: str) -> bool:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(provider_events.c.event_id).where(provider_events.c.event_id == event_id)
                )
            ).first()
        return row is not None

    async def mark_seen(self, event_id: str, event_type: str, payment_id: str, now: datetime) -> bool:
        """Record an event as handled; False when it already was."""
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    provider_events.insert().values(
                        event_id=event_id, type=event_type, payment_id=payment_id, received_at=now
                    )
                )
            return True
        except IntegrityError:
            return False


def _record(row: object) -> PaymentRecord:
    return PaymentRecord(
        id=row.id,  # type: ignore[attr-defined]
        session_id=row.session_id,  # type: ignore[attr-defined]
        customer_id=row.customer_id,  # type: ignore[attr-defined]
        amount=row.amount,  # type: ignore[attr-defined]
        currency=row.currency,  # type: ignore[attr-defined]
        status=row.status,  # type: ignore[attr-defined]
        pay_url=row.pay_url,  # type: ignore[attr-defined]
    )
