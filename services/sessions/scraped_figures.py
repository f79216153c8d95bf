"""The sessions process's gauges, read from its database when scraped: sessions by state, unsent outbox."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select

from bus.outbox import outbox_table
from kit.database import Connection, Database
from kit.statements import Statement
from services.sessions.domain import State
from services.sessions.repository import SessionRepository

_UNSENT = Statement(select(func.count()).select_from(outbox_table).where(outbox_table.c.sent_at.is_(None)))


def _unsent(conn: Connection) -> int:
    return int(conn.scalar(_UNSENT) or 0)


async def read_session_figures(repository: SessionRepository, database: Database) -> list[GaugeMetricFamily]:
    """Two read transactions: one GROUP BY over the sessions, one count of the outbox's unsent rows."""
    by_state = await repository.count_by_state()
    sessions = GaugeMetricFamily(
        "travel_sessions", "Purchase sessions in the sessions database, by state", labels=["state"]
    )
    for state in State:  # every state, so a state with no session reads 0 rather than vanishing
        sessions.add_metric([state.value], float(by_state.get(state, 0)))
    backlog = GaugeMetricFamily(
        "travel_outbox_unsent_rows", "Saga starts committed to the outbox and not yet published"
    )
    backlog.add_metric([], float(await database.read(_unsent)))
    return [sessions, backlog]
