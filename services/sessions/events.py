"""A session's timeline: the arbiter's own transitions merged with the saga history from the bus."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from travel.sessions.v1 import sessions_pb2 as pb

from bus.session_notices import saga_event
from kit.timestamps import timestamp
from services.sessions import domain
from services.sessions.domain import Session
from services.sessions.ports import Change, SessionEventRecord, SessionStore

# Reads bus history for a session: saga id -> records with at, event, step, phase, attempt, detail.
SagaHistoryReader = Callable[[str], Awaitable[Mapping[str, Sequence[Any]]]]


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def session_entry(
    time: datetime, kind: str, step: str, outcome: str, detail: str, saga_id: str
) -> pb.SessionEvent:
    """One of the arbiter's own entries; the same bytes whether read back or sent in a notice."""
    return pb.SessionEvent(
        time=timestamp(_utc(time)), saga_id=saga_id, kind=kind, step=step, outcome=outcome, detail=detail
    )


def change_entries(change: Change) -> list[pb.SessionEvent]:
    """The entries a committed change added to its session's timeline."""
    return [
        session_entry(
            event["time"],
            event["kind"],
            event["step"],
            event["outcome"],
            event.get("detail", ""),
            event.get("saga_id", ""),
        )
        for event in change.events
    ]


class SessionTimeline:
    def __init__(self, repository: SessionStore, saga_history: SagaHistoryReader) -> None:
        self._repository = repository
        self._saga_history = saga_history

    async def events(self, session_id: str) -> list[pb.SessionEvent]:
        return await self._merged(session_id, await self._repository.events(session_id))

    async def owned(self, session_id: str, customer_id: str) -> tuple[Session, list[pb.SessionEvent]]:
        """A customer's session and its timeline; the session and its own entries in one read."""
        found, rows = await self._repository.with_events(session_id)
        session = domain.owned_by(found, customer_id)
        return session, await self._merged(session.id, rows)

    async def _merged(self, session_id: str, rows: Sequence[SessionEventRecord]) -> list[pb.SessionEvent]:
        merged: list[tuple[datetime, int, pb.SessionEvent]] = []
        for row in rows:
            entry = session_entry(row.time, row.kind, row.step, row.outcome, row.detail, row.saga_id)
            merged.append((_utc(row.time), 0, entry))
        for saga_id, records in (await self._saga_history(session_id)).items():
            for record in records:
                entry = saga_event(
                    saga_id, record.at, str(record.event.value), record.step, record.attempt, record.detail
                )
                merged.append((record.at, 1, entry))
        merged.sort(key=lambda entry: (entry[0], entry[1]))
        return [event for _, _, event in merged]
