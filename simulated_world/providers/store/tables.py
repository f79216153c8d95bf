"""The provider tables; every instance has its own database (SQLite file or PostgreSQL schema)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on both SQLite and PostgreSQL."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        return None if value is None else value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


metadata = MetaData()

holds = Table(
    "holds",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("kind", String(10), nullable=False),
    Column("status", String(12), nullable=False),
    Column("reference", String(200), nullable=False),
    Column("item_id", String(40), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("party_size", Integer, nullable=False),
    Column("first_day", Date, nullable=False),
    Column("last_day", Date, nullable=False),
    Column("amount", Integer, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("confirmed_at", UtcDateTime),
    Column("cancelled_at", UtcDateTime),
    Column("idempotency_key", String(255)),
    Index("ix_holds_reference", "reference"),
)

# The flights of a multi-segment hold, in the order they were asked for; a single-flight hold has none.
hold_segments = Table(
    "hold_segments",
    metadata,
    Column("hold_id", String(40), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("item_id", String(40), nullable=False),
    Column("day", Date, nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("amount", Integer, nullable=False),
)

# One counter per bookable item and day: rooms for a hotel night, seats for a flight.
capacity = Table(
    "capacity",
    metadata,
    Column("item_id", String(40), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("capacity", Integer, nullable=False),
    Column("taken", Integer, nullable=False),
)

payments = Table(
    "payments",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("status", String(12), nullable=False),
    Column("reference", String(200), nullable=False),
    Column("amount", Integer, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("webhook_url", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("completed_at", UtcDateTime),
    Column("refunded_at", UtcDateTime),
    Index("ix_payments_reference", "reference"),
)

# The webhook outbox: written with the payment change, emptied by the dispatcher on a 2xx.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(40), nullable=False),
    Column("event_type", String(40), nullable=False),
    Column("payment_id", String(40), nullable=False),
    Column("url", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("due_at", Float, nullable=False),  # wall-clock unix time: real sleeps schedule it
    Column("delivered_at", UtcDateTime),
    Column("last_error", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_webhook_deliveries_payment", "payment_id"),
)

# Idempotency-Key records, committed with the effect they describe. A tombstone row is a
# cancel that arrived before its pre-reserve: the key is then burnt for creating a hold.
idempotency = Table(
    "idempotency",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("operation", String(120), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("tombstone", Boolean, nullable=False, default=False),
    Column("status_code", Integer),
    Column("body", Text),
    Column("resource_id", String(40)),
    Column("created_at", UtcDateTime, nullable=False),
)
