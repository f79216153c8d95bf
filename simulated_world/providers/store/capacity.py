"""Capacity counters: taken with a conditional UPDATE so concurrent holds never exceed capacity."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import bindparam, select, update

from kit.database import Connection
from kit.statements import Statement
from simulated_world.providers.store.tables import capacity
from simulated_world.providers.store.upsert import insert_if_absent

_TAKE = Statement(
    update(capacity)
    .where(
        capacity.c.item_id == bindparam("item_id"),
        capacity.c.day == bindparam("day"),
        capacity.c.taken + bindparam("quantity") <= capacity.c.capacity,
    )
    .values(taken=capacity.c.taken + bindparam("quantity"))
)
_RELEASE = Statement(
    update(capacity)
    .where(capacity.c.item_id == bindparam("item_id"), capacity.c.day == bindparam("day"))
    .values(taken=capacity.c.taken - bindparam("quantity"))
)
_TAKEN = Statement(
    select(capacity.c.item_id, capacity.c.day, capacity.c.taken).where(
        capacity.c.item_id.in_(bindparam("item_ids", expanding=True)),
        capacity.c.day.between(bindparam("first"), bindparam("last")),
    )
)


def take(conn: Connection, item_id: str, days: list[date], limit: int, quantity: int) -> bool:
    """Take `quantity` on every day, or report False (the caller then rolls back).

    Days go in ascending order so two transactions lock rows in the same order and cannot deadlock.
    """
    for day in sorted(days):
        insert_if_absent(conn, capacity, {"item_id": item_id, "day": day, "capacity": limit, "taken": 0})
        if conn.execute(_TAKE, {"item_id": item_id, "day": day, "quantity": quantity}) != 1:
            return False
    return True


def release(conn: Connection, item_id: str, days: list[date], quantity: int) -> None:
    for day in sorted(days):
        conn.execute(_RELEASE, {"item_id": item_id, "day": day, "quantity": quantity})


def taken(conn: Connection, pairs: Iterable[tuple[str, date]]) -> dict[tuple[str, date], int]:
    """Units taken per (item, day); a missing counter means nothing is taken yet."""
    wanted = set(pairs)
    if not wanted:
        return {}
    days = [day for _, day in wanted]
    params = {"item_ids": sorted({item for item, _ in wanted}), "first": min(days), "last": max(days)}
    found = {(r.item_id, r.day): r.taken for r in conn.rows(_TAKEN, params)}
    return {pair: count for pair, count in found.items() if pair in wanted}
