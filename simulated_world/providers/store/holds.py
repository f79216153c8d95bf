"""Hold rows and their flight segments: insert, read, list, and compare-and-set status changes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update

from kit.database import Connection
from kit.statements import Statement, page_statements
from simulated_world.providers.domain.holds import Hold, HoldStatus, Segment
from simulated_world.providers.store.tables import hold_segments, holds

_INSERT = Statement(holds.insert().values({name: bindparam(name) for name in holds.c.keys()}))  # noqa: SIM118
_INSERT_SEGMENT = Statement(
    hold_segments.insert().values({name: bindparam(name) for name in hold_segments.c.keys()})  # noqa: SIM118
)
_GET = Statement(select(holds).where(holds.c.id == bindparam("id")))
_SEGMENTS = Statement(
    select(hold_segments)
    .where(hold_segments.c.hold_id.in_(bindparam("hold_ids", expanding=True)))
    .order_by(hold_segments.c.hold_id, hold_segments.c.position)
)
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


def _to_hold(row: Any, segments: dict[str, list[Segment]]) -> Hold:
    values = row._asdict()
    values["status"] = HoldStatus(values["status"])
    return Hold(**values, segments=tuple(segments.get(values["id"], ())))


def _segments_of(conn: Connection, rows: list[Any]) -> dict[str, list[Segment]]:
    """The segments of the flight holds among `rows`, by hold id: one query, none for hotel holds."""
    flight_ids = [row.id for row in rows if row.kind == "flight"]
    found: dict[str, list[Segment]] = {}
    if flight_ids:
        for s in conn.rows(_SEGMENTS, {"hold_ids": flight_ids}):
            found.setdefault(s.hold_id, []).append(Segment(s.item_id, s.day, s.quantity, s.amount))
    return found


def insert(conn: Connection, hold: Hold) -> None:
    values = {name: getattr(hold, name) for name in holds.c.keys()}  # noqa: SIM118
    values["status"] = hold.status.value
    conn.execute(_INSERT, values)
    segments = [
        {"hold_id": hold.id, "position": position, "item_id": s.item_id, "day": s.day}
        | {"quantity": s.quantity, "amount": s.amount}
        for position, s in enumerate(hold.segments)
    ]
    conn.execute_many(_INSERT_SEGMENT, segments)


def get(conn: Connection, hold_id: str) -> Hold | None:
    row = conn.first(_GET, {"id": hold_id})
    return None if row is None else _to_hold(row, _segments_of(conn, [row]))


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
    found = conn.rows(rows, params)
    segments = _segments_of(conn, found)
    return [_to_hold(r, segments) for r in found], int(total or 0)


def change_status(conn: Connection, hold: Hold, to: HoldStatus, at: datetime) -> bool:
    """Compare-and-set from the status we read; False when another request changed it first."""
    params = {"id": hold.id, "from_status": hold.status.value, "to_status": to.value, "at": at}
    return conn.execute(_CHANGE[to], params) == 1
