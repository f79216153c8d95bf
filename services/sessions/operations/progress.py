"""What the console shows, derived from sessions, saga histories and dead letters. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from bus.history import HistoryEvent
from services.sessions.domain import Session, State

# After one of these a saga does nothing more, until an operator replays it.
_ENDED = frozenset({HistoryEvent.SAGA_COMPLETED, HistoryEvent.SAGA_COMPENSATED, HistoryEvent.DEAD_LETTERED})


class HistoryLine(Protocol):
    """One record of a saga's history (bus.history.HistoryRecord)."""

    @property
    def at(self) -> datetime: ...
    @property
    def event(self) -> HistoryEvent: ...
    @property
    def step(self) -> str: ...
    @property
    def attempt(self) -> int: ...
    @property
    def detail(self) -> str: ...


class Letter(Protocol):
    """A dead letter as far as the console needs it (bus.dead_letters.DeadLetter)."""

    @property
    def session_id(self) -> str: ...


L = TypeVar("L", bound=Letter)


@dataclass(frozen=True)
class SagaProgress:
    saga_id: str
    session_id: str
    kind: str
    current_step: str
    last_event: str
    attempt: int
    started_at: datetime
    last_event_at: datetime
    age: timedelta
    stuck: bool
    detail: str


def saga_kind(saga_id: str) -> str:
    """Saga ids start with their kind: `confirm-<session>`, `refund-<payment>`, ..."""
    return saga_id.split("-", 1)[0]


def saga_progress(
    session_id: str, saga_id: str, records: Sequence[HistoryLine], now: datetime
) -> SagaProgress | None:
    """The saga's progress, or None when it ended (completed, compensated, or dead-lettered)."""
    if not records:
        return None
    running = True
    for record in records:
        if record.event in _ENDED:
            running = False
        elif record.event == HistoryEvent.REPLAYED:
            running = True
    if not running:
        return None
    # The watcher's flag says nothing about where the saga is: the step comes from the record before.
    latest = next((r for r in reversed(records) if r.event != HistoryEvent.FLAGGED_STUCK), records[-1])
    started = records[0].at
    return SagaProgress(
        saga_id=saga_id,
        session_id=session_id,
        kind=saga_kind(saga_id),
        current_step=latest.step,
        last_event=str(latest.event),
        attempt=latest.attempt,
        started_at=started,
        last_event_at=records[-1].at,
        age=max(timedelta(0), now - started),
        stuck=any(r.event == HistoryEvent.FLAGGED_STUCK for r in records),
        detail=latest.detail,
    )


def sagas_in_flight(
    histories: Mapping[str, Mapping[str, Sequence[HistoryLine]]], now: datetime
) -> list[SagaProgress]:
    """Every saga still running, of the sessions given (session id -> saga id -> records), oldest first."""
    found = [
        progress
        for session_id, sagas in histories.items()
        for saga_id, records in sagas.items()
        if (progress := saga_progress(session_id, saga_id, records, now)) is not None
    ]
    return sorted(found, key=lambda p: (p.started_at, p.saga_id))


def counts_by_state(counted: Mapping[State, int]) -> dict[State, int]:
    """A count for every state, in the state machine's order, zero when none."""
    return {state: counted.get(state, 0) for state in State}


def with_dead_letters(sessions: Sequence[Session], letters: Sequence[L]) -> list[tuple[Session, list[L]]]:
    """Each session beside the dead letters of its sagas, in the order the letters arrived."""
    by_session: dict[str, list[L]] = {}
    for letter in letters:
        by_session.setdefault(letter.session_id, []).append(letter)
    return [(session, by_session.get(session.id, [])) for session in sessions]
