"""A session's timeline: the arbiter's own transitions merged with the saga history from the bus."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from travel.sessions.v1 import sessions_pb2 as pb

from services.sessions.messages import timestamp
from services.sessions.ports import SessionStore

# Reads bus history for a session: saga id -> records with at, event, step, phase, attempt, detail.
SagaHistoryReader = Callable[[str], Awaitable[Mapping[str, Sequence[Any]]]]


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class SessionTimeline:
    def __init__(self, repository: SessionStore, saga_history: SagaHistoryReader) -> None:
        self._repository = repository
        self._saga_history = saga_history

    async def events(self, session_id: str) -> list[pb.SessionEvent]:
        merged: list[tuple[datetime, int, pb.SessionEvent]] = []
        for row in await self._repository.events(session_id):
            at = _utc(row.time)
            merged.append(
                (
                    at,
                    0,
                    pb.SessionEvent(
                        time=timestamp(at),
                        saga_id=row.saga_id,
                        kind=row.kind,
                        step=row.step,
                        outcome=row.outcome,
                        detail=row.detail,
                    ),
                )
            )
        for saga_id, records in (await self._saga_history(session_id)).items():
            kind = saga_id.split("-", 1)[0]
            for record in records:
                merged.append(
                    (
                        record.at,
                        1,
                        pb.SessionEvent(
                            time=timestamp(record.at),
                            saga_id=saga_id,
                            kind=kind,
                            step=record.step or kind,
                            outcome=str(record.event.value).upper(),
                            attempt=record.attempt,
                            detail=record.detail,
                        ),
                    )
                )
        merged.sort(key=lambda entry: (entry[0], entry[1]))
        return [event for _, _, event in merged]
