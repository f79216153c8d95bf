"""Payments and processed provider events, one transaction per method on the service's database."""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, MetaData, String, Table, bindparam, select, update

from kit.database import Connection, Database
from kit.request_ids import FirstResult, RequestIds, RequestKey, request_ids_table
from kit.statements import Statement, insert_or_nothing
from services.payments.ports import PaymentRecord

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
    # The W3C traceparent of the checkout that created the payment: the saga its webhook starts
    # continues that trace. Added after the table first shipped (migration 0002).
    Column("checkout_traceparent", String(55), nullable=True),
)

provider_events = Table(
    "provider_events",
    metadata,
    Column("event_id", String(100), primary_key=True),
    Column("type", String(40), nullable=False),
    Column("payment_id", String(64), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    # Set while the event is claimed and its payment report has not reached the arbiter: a delivery
    # that finds it set reports again. NULL once reported, when nothing is to be reported, and on
    # rows from before this column, whose report was made in the transaction that marked them.
    # Added after the table first shipped (migration 0002).
    Column("report_pending_since", DateTime(timezone=True), nullable=True),
)

# The customers' recent Checkout request ids, with the response the first call answered.
request_ids = request_ids_table(metadata)


_BY_SESSION = Statement(select(payments).where(payments.c.session_id == bindparam("session_id")))
_BY_ID = Statement(select(payments).where(payments.c.id == bindparam("id")))
_HANDLED = Statement(
    select(provider_events.c.event_id).where(
        provider_events.c.event_id == bindparam("event_id"), provider_events.c.report_pending_since.is_(None)
    )
)
_EVENT = Statement(
    select(provider_events.c.report_pending_since).where(provider_events.c.event_id == bindparam("event_id"))
)
_REPORTED = Statement(
    update(provider_events)
    .where(provider_events.c.event_id == bindparam("event_id"))
    .values(report_pending_since=None)
)
_ADVANCE = Statement(
    update(payments)
    .where(payments.c.id == bindparam("_id"), payments.c.status.in_(bindparam("replaces", expanding=True)))
    .values(status=bindparam("status"), updated_at=bindparam("updated_at"))
)


_ADD = insert_or_nothing(payments)
_REQUEST_IDS = RequestIds(request_ids)
_CLAIM = insert_or_nothing(provider_events)


class PaymentRepository:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def for_session(self, session_id: str) -> PaymentRecord | None:
        row = await self._database.read(lambda conn: conn.first(_BY_SESSION, {"session_id": session_id}))
        return None if row is None else _record(row)

    async def first_result(self, request: RequestKey, now: datetime) -> FirstResult | None:
        """What an earlier checkout with this request answered (one primary-key read)."""
        return await self._database.read(lambda conn: _REQUEST_IDS.find(conn, request, now))

    async def add(
        self,
        record: PaymentRecord,
        now: datetime,
        request: RequestKey | None = None,
        answer: Callable[[PaymentRecord], bytes] | None = None,
    ) -> PaymentRecord:
        """Insert, or return the row a concurrent checkout of the same session inserted first.

        With a `request`, the `answer` for the stored payment is recorded under it in the same
        transaction (a concurrent twin that recorded first keeps its own, for the same payment).
        """

        def add(conn: Connection) -> PaymentRecord:
            stored = record
            if conn.first(_ADD, {**record.__dict__, "created_at": now, "updated_at": now}) is None:
                existing = conn.first(_BY_SESSION, {"session_id": record.session_id})
                if existing is None:
                    raise ValueError(f"payment {record.id} exists for another session")
                stored = _record(existing)
            if request is not None:
                response = None if answer is None else answer(stored)
                _REQUEST_IDS.record(conn, request, stored.id, now, response)
            return stored

        return await self._database.transaction(add)

    async def lookup(self, event_id: str, payment_id: str) -> tuple[bool, PaymentRecord | None]:
        """Whether the event was handled already (claimed, and reported if a report was due), and
        (when not) the payment it names, in one read."""

        def lookup(conn: Connection) -> tuple[bool, PaymentRecord | None]:
            handled = conn.first(_HANDLED, {"event_id": event_id}) is not None
            row = None if handled else conn.first(_BY_ID, {"id": payment_id})
            return handled, None if row is None else _record(row)

        return await self._database.read(lookup)

    async def claim_event(
        self,
        event_id: str,
        event_type: str,
        payment_id: str,
        status: str,
        replaces: Collection[str],
        now: datetime,
        *,
        to_report: bool,
    ) -> bool:
        """In one short transaction: claim the event and store a status read from the provider over
        one it `replaces` (never backwards). False, with nothing done, when the event was handled.

        A claim `to_report` leaves the event pending until mark_reported. An event claimed before and
        still pending (its delivery died or its report failed, or is still being made) is claimed
        again, so this delivery reports it too. A concurrent claim of the same key waits for this
        transaction (PostgreSQL's unique key, SQLite's single writer), never for a report.
        """

        def claim(conn: Connection) -> bool:
            pending = now if to_report else None
            event = {"event_id": event_id, "type": event_type, "payment_id": payment_id, "received_at": now}
            if conn.first(_CLAIM, event | {"report_pending_since": pending}) is None:
                if conn.scalar(_EVENT, {"event_id": event_id}) is None:
                    return False
                if not to_report:
                    # The provider's record moved on to a status that reports nothing (a refund).
                    conn.execute(_REPORTED, {"event_id": event_id})
            if replaces:
                values = {"_id": payment_id, "replaces": [str(s) for s in replaces], "status": str(status)}
                conn.execute(_ADVANCE, values | {"updated_at": now})
            return True

        return await self._database.transaction(claim)

    async def mark_reported(self, event_id: str) -> None:
        """The arbiter took the event's report: the event is handled, and a redelivery is a duplicate."""
        await self._database.transaction(lambda conn: conn.execute(_REPORTED, {"event_id": event_id}))


def _record(row: object) -> PaymentRecord:
    return PaymentRecord(
        id=row.id,  # type: ignore[attr-defined]
        session_id=row.session_id,  # type: ignore[attr-defined]
        customer_id=row.customer_id,  # type: ignore[attr-defined]
        amount=row.amount,  # type: ignore[attr-defined]
        currency=row.currency,  # type: ignore[attr-defined]
        status=row.status,  # type: ignore[attr-defined]
        pay_url=row.pay_url,  # type: ignore[attr-defined]
        checkout_traceparent=row.checkout_traceparent,  # type: ignore[attr-defined]
    )
