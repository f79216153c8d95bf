"""Payment rows and the webhook outbox rows written in the same transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from services.providers.domain.payments import Payment, PaymentStatus
from services.providers.store.tables import payments, webhook_deliveries


def _to_payment(row: Row[Any]) -> Payment:
    values = dict(row._mapping)
    values["status"] = PaymentStatus(values["status"])
    return Payment(**values)


async def insert(conn: AsyncConnection, payment: Payment) -> None:
    values = {name: getattr(payment, name) for name in payments.c.keys()}  # noqa: SIM118
    values["status"] = payment.status.value
    await conn.execute(payments.insert().values(**values))


async def get(conn: AsyncConnection, payment_id: str) -> Payment | None:
    row = (await conn.execute(select(payments).where(payments.c.id == payment_id))).first()
    return None if row is None else _to_payment(row)


async def page(
    conn: AsyncConnection, reference: str | None, offset: int, size: int
) -> tuple[list[Payment], int]:
    conditions = [] if reference is None else [payments.c.reference == reference]
    total = (await conn.execute(select(func.count()).select_from(payments).where(*conditions))).one()
    rows = await conn.execute(
        select(payments)
        .where(*conditions)
        .order_by(payments.c.created_at, payments.c.id)
        .offset(offset)
        .limit(size)
    )
    return [_to_payment(r) for r in rows], int(total[0])


async def pending_ids(conn: AsyncConnection) -> list[tuple[str, datetime]]:
    rows = await conn.execute(
        select(payments.c.id, payments.c.created_at).where(payments.c.status == PaymentStatus.PENDING.value)
    )
    return [(r.id, r.created_at) for r in rows]


async def change_status(conn: AsyncConnection, payment: Payment, to: PaymentStatus, at: datetime) -> bool:
    """Compare-and-set from the status we read; False when another request changed it first."""
    stamp = "refunded_at" if to is PaymentStatus.REFUNDED else "completed_at"
    result = await conn.execute(
        update(payments)
        .where(payments.c.id == payment.id, payments.c.status == payment.status.value)
        .values(status=to.value, **{stamp: at})
    )
    return result.rowcount == 1


async def enqueue_webhook(
    conn: AsyncConnection,
    payment: Payment,
    event_id: str,
    event_type: str,
    body: str,
    due_at: float,
    now: datetime,
) -> None:
    await conn.execute(
        webhook_deliveries.insert().values(
            event_id=event_id,
            event_type=event_type,
            payment_id=payment.id,
            url=payment.webhook_url,
            body=body,
            attempts=0,
            due_at=due_at,
            created_at=now,
        )
    )
