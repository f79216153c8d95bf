"""Capacity counters: taken with a conditional UPDATE so concurrent holds never exceed capacity."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.providers.store.tables import capacity
from services.providers.store.upsert import insert_if_absent


async def take(conn: AsyncConnection, item_id: str, days: list[date], limit: int, quantity: int) -> bool:
    """Take `quantity` on every day, or report False (the caller then rolls back).

    Days go in ascending order so two transactions lock rows in the same order and cannot deadlock.
    """
    for day in sorted(days):
        row = {"item_id": item_id, "day": day, "capacity": limit, "taken": 0}
        await insert_if_absent(conn, capacity, row)
        result = await conn.execute(
            update(capacity)
            .where(
                capacity.c.item_id == item_id,
                capacity.c.day == day,
                capacity.c.taken + quantity <= capacity.c.capacity,
            )
            .values(taken=capacity.c.taken + quantity)
        )
        if result.rowcount != 1:
            return False
    return True


async def release(conn: AsyncConnection, item_id: str, days: list[date], quantity: int) -> None:
    for day in sorted(days):
        await conn.execute(
            update(capacity)
            .where(capacity.c.item_id == item_id, capacity.c.day == day)
            .values(taken=capacity.c.taken - quantity)
        )


async def taken(conn: AsyncConnection, pairs: Iterable[tuple[str, date]]) -> dict[tuple[str, date], int]:
    """Units taken per (item, day); a missing counter means nothing is taken yet."""
    wanted = list(pairs)
    if not wanted:
        return {}
    rows = await conn.execute(
        select(capacity.c.item_id, capacity.c.day, capacity.c.taken).where(
            tuple_(capacity.c.item_id, capacity.c.day).in_(wanted)
        )
    )
    return {(r.item_id, r.day): r.taken for r in rows}
