"""Hold rows: insert, read, list, and compare-and-set status changes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update

from kit.database import Connection
from kit.statements import Statement, page_statements
from simulated_world.providers.domain.holds import Hold, HoldStatus
from simulated_world.providers.store.tables import holds

_INSERT = Statement(holds.insert().values({name: bindparam(name) for name in holds.c.keys()}))  # noqa: SIM118
_GET = Statement(select(holds).where(holds.c.id == bindparam("id")))
_STAMPS = {HoldStatus.CONFIRMED: "confirmed_at", HoldStatus.CANCELLED: "cancelled_at"}
_CHANGE = {
    to: Statement(
        update(holds)
        .where(holds.c.id == bindparam("id"), holds.c.status == bindparam("from_status"))
        .values({"status": bindparam("to_status"), stamp: bindparam("at")})
    )
    for to, stamp in _STAMPS.items()
}
_PAGES: dict[tuple[bool, bool], tuple[Statement, Statement]] = {}


def _to_hold(row: Any) -> Hold:
    values = row._asdict()
    values["status"] = HoldStatus(values["status"])
    return Hold(**values)


def insert(conn: Connection, hold: Hold) -> None:
    values = {name: getattr(hold, name) for name in holds.c.keys()}  # noqa: SIM118
    values["status"] = hold.status.value
    conn.execute(_INSERT, values)


def get(conn: Connection, hold_id: str) -> Hold | None:
    row = conn.first(_GET, {"id": hold_id})
    return None if row is None else _to_hold(row)


def _page_statements(by_reference: bool, by_status: bool) -> tuple[Statement, Statement]:
    """The count and the page query for one combination of filters, built once."""
    found = _PAGES.get((by_reference, by_status))
    if found is None:
        filters = [name for name, on in (("reference", by_reference), ("status", by_status)) if on]
        found = _PAGES[(by_reference, by_status)] = page_statements(holds, filters)
    return found


def page(
    conn: Connection,
    reference: str | None,
    status: HoldStatus | None,
    offset: int,
    size: int,
) -> tuple[list[Hold], int]:
    count, rows = _page_statements(reference is not None, status is not None)
    params: dict[str, Any] = {"offset": offset, "size": size}
    if reference is not None:
        params["reference"] = reference
    if status is not None:
        params["status"] = status.value
    total = conn.scalar(count, params)
    return [_to_hold(r) for r in conn.rows(rows, params)], int(total or 0)


def change_status(conn: Connection, hold: Hold, to: HoldStatus, at: datetime) -> bool:
    """Compare-and-set from the status we read; False when another request changed it first."""
    params = {"id": hold.id, "from_status": hold.status.value, "to_status": to.value, "at": at}
    return conn.execute(_CHANGE[to], params) == 1
