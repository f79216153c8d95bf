"""Payment rows and the webhook outbox rows written in the same transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update

from kit.database import Connection
from kit.statements import Statement, page_statements
from simulated_world.providers.domain.payments import Payment, PaymentStatus
from simulated_world.providers.store.tables import payments, webhook_deliveries

_INSERT = Statement(payments.insert().values({name: bindparam(name) for name in payments.c.keys()}))  # noqa: SIM118
_GET = Statement(select(payments).where(payments.c.id == bindparam("id")))
_PENDING = Statement(
    select(payments.c.id, payments.c.created_at).where(payments.c.status == PaymentStatus.PENDING.value)
)
_CHANGE = {
    stamp: Statement(
        update(payments)
        .where(payments.c.id == bindparam("id"), payments.c.status == bindparam("from_status"))
        .values({"status": bindparam("to_status"), stamp: bindparam("at")})
    )
    for stamp in ("refunded_at", "completed_at")
}
_DELIVERY_COLUMNS = (
    "event_id",
    "event_type",
    "payment_id",
    "url",
    "body",
    "attempts",
    "due_at",
    "created_at",
)
_ENQUEUE = Statement(
    webhook_deliveries.insert().values({name: bindparam(name) for name in _DELIVERY_COLUMNS})
)
_PAGES: dict[bool, tuple[Statement, Statement]] = {}


def _to_payment(row: Any) -> Payment:
    values = row._asdict()
    values["status"] = PaymentStatus(values["status"])
    return Payment(**values)


def insert(conn: Connection, payment: Payment) -> None:
    values = {name: getattr(payment, name) for name in payments.c.keys()}  # noqa: SIM118
    values["status"] = payment.status.value
    conn.execute(_INSERT, values)


def get(conn: Connection, payment_id: str) -> Payment | None:
    row = conn.first(_GET, {"id": payment_id})
    return None if row is None else _to_payment(row)


def _page_statements(by_reference: bool) -> tuple[Statement, Statement]:
    """The count and the page query, with or without a reference filter, built once."""
    found = _PAGES.get(by_reference)
    if found is None:
        found = _PAGES[by_reference] = page_statements(payments, ["reference"] if by_reference else [])
    return found


def page(conn: Connection, reference: str | None, offset: int, size: int) -> tuple[list[Payment], int]:
    count, rows = _page_statements(reference is not None)
    params: dict[str, Any] = {"offset": offset, "size": size}
    if reference is not None:
        params["reference"] = reference
    total = conn.scalar(count, params)
    return [_to_payment(r) for r in conn.rows(rows, params)], int(total or 0)


def pending_ids(conn: Connection) -> list[tuple[str, datetime]]:
    return [(r.id, r.created_at) for r in conn.rows(_PENDING)]


def change_status(conn: Connection, payment: Payment, to: PaymentStatus, at: datetime) -> bool:
    """Compare-and-set from the status we read; False when another request changed it first."""
    stamp = "refunded_at" if to is PaymentStatus.REFUNDED else "completed_at"
    params = {"id": payment.id, "from_status": payment.status.value, "to_status": to.value, "at": at}
    return conn.execute(_CHANGE[stamp], params) == 1


def enqueue_webhook(
    conn: Connection,
    payment: Payment,
    event_id: str,
    event_type: str,
    body: str,
    due_at: float,
    now: datetime,
    copies: int = 1,
) -> None:
    """Queue the event for delivery, `copies` times (duplicate chaos), in one driver call."""
    row = {
        "event_id": event_id,
        "event_type": event_type,
        "payment_id": payment.id,
        "url": payment.webhook_url,
        "body": body,
        "attempts": 0,
        "due_at": due_at,
        "created_at": now,
    }
    conn.execute_many(_ENQUEUE, [row] * copies)
