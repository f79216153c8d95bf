"""Hold rows: insert, read, list, and compare-and-set status changes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from services.providers.domain.holds import Hold, HoldStatus
from services.providers.store.tables import holds


def _to_hold(row: Row[Any]) -> Hold:
    values = dict(row._mapping)
    values["status"] = HoldStatus(values["status"])
    return Hold(**values)


async def insert(conn: AsyncConnection, hold: Hold) -> None:
    values = {name: getattr(hold, name) for name in holds.c.keys()}  # noqa: SIM118
    values["status"] = hold.status.value
    await conn.execute(holds.insert().values(**values))


async def get(conn: AsyncConnection, hold_id: str) -> Hold | None:
    row = (await conn.execute(select(holds).where(holds.c.id == hold_id))).first()
    return None if row is None else _to_hold(row)


async def page(
    conn: AsyncConnection,
    reference: str | None,
    status: HoldStatus | None,
    offset: int,
    size: int,
) -> tuple[list[Hold], int]:
    conditions = []
    if reference is not None:
        conditions.append(holds.c.reference == reference)
    if status is not None:
        conditions.append(holds.c.status == status.value)
    total = (await conn.execute(select(func.count()).select_from(holds).where(*conditions))).one()
    rows = await conn.execute(
        select(holds).where(*conditions).order_by(holds.c.created_at, holds.c.id).offset(offset).limit(size)
    )
    return [_to_hold(r) for r in rows], int(total[0])


async def change_status(conn: AsyncConnection, hold: Hold, to: HoldStatus, at: datetime) -> bool:
    """Compare-and-set from the status we read; False when another request changed it first."""
    stamp = {HoldStatus.CONFIRMED: "confirmed_at", HoldStatus.CANCELLED: "cancelled_at"}[to]
    result = await conn.execute(
        update(holds)
        .where(holds.c.id == hold.id, holds.c.status == hold.status.value)
        .values(status=to.value, **{stamp: at})
    )
    return result.rowcount == 1
