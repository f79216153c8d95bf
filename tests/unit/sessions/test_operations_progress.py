"""What the operator console derives from saga histories, sessions and dead letters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bus.history import HistoryEvent
from services.sessions.domain import State, open_session
from services.sessions.operations.progress import (
    counts_by_state,
    saga_progress,
    sagas_in_flight,
    with_dead_letters,
)

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Record:
    at: datetime
    event: HistoryEvent
    step: str = ""
    attempt: int = 0
    detail: str = ""


@dataclass(frozen=True)
class Letter:
    session_id: str
    entry_id: str


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


STARTED = Record(at(0), HistoryEvent.STARTED, "hotel.confirm")
RETRYING = Record(at(2), HistoryEvent.RETRY_SCHEDULED, "hotel.confirm", attempt=2, detail="503")


def test_a_running_saga_shows_its_latest_step_and_age() -> None:
    progress = saga_progress("s-1", "confirm-s-1", [STARTED, RETRYING], now=at(30))
    assert progress is not None
    assert (progress.kind, progress.current_step, progress.last_event) == (
        "confirm",
        "hotel.confirm",
        "retry_scheduled",
    )
    assert (progress.attempt, progress.detail, progress.stuck) == (2, "503", False)
    assert progress.started_at == at(0) and progress.last_event_at == at(2)
    assert progress.age == timedelta(seconds=30)


def test_ended_sagas_are_not_in_flight() -> None:
    for last in (HistoryEvent.SAGA_COMPLETED, HistoryEvent.SAGA_COMPENSATED, HistoryEvent.DEAD_LETTERED):
        assert saga_progress("s-1", "confirm-s-1", [STARTED, Record(at(3), last, "x")], now=at(9)) is None
    assert saga_progress("s-1", "confirm-s-1", [], now=at(9)) is None


def test_a_replayed_dead_letter_is_in_flight_again() -> None:
    records = [
        STARTED,
        Record(at(3), HistoryEvent.DEAD_LETTERED, "hotel.confirm"),
        Record(at(60), HistoryEvent.REPLAYED, "hotel.confirm"),
    ]
    progress = saga_progress("s-1", "confirm-s-1", records, now=at(61))
    assert progress is not None and progress.last_event == "replayed"


def test_a_flagged_saga_is_stuck_and_keeps_the_step_it_waits_at() -> None:
    flagged = Record(at(90), HistoryEvent.FLAGGED_STUCK, "", detail="no progress for 60 s")
    progress = saga_progress("s-1", "cancel-s-1", [STARTED, RETRYING, flagged], now=at(100))
    assert progress is not None
    assert progress.stuck and progress.current_step == "hotel.confirm" and progress.kind == "cancel"
    assert progress.last_event_at == at(90)


def test_sagas_in_flight_are_listed_oldest_first_across_sessions() -> None:
    later = [Record(at(10), HistoryEvent.STARTED, "payments.refund")]
    done = [STARTED, Record(at(1), HistoryEvent.SAGA_COMPLETED)]
    histories = {"s-2": {"refund-p-2": later}, "s-1": {"confirm-s-1": [STARTED], "release-s-1": done}}
    found = sagas_in_flight(histories, now=at(20))
    assert [(p.session_id, p.saga_id) for p in found] == [("s-1", "confirm-s-1"), ("s-2", "refund-p-2")]


def test_counts_cover_every_state() -> None:
    counts = counts_by_state({State.CONFIRMED: 3, State.NEEDS_ATTENTION: 1})
    assert list(counts) == list(State)
    assert counts[State.CONFIRMED] == 3 and counts[State.OPEN] == 0


def test_sessions_are_paired_with_their_own_dead_letters() -> None:
    one = open_session("11111111-1111-1111-1111-111111111111", "c-1", T0, timedelta(minutes=10))
    two = open_session("22222222-2222-2222-2222-222222222222", "c-2", T0, timedelta(minutes=10))
    letters = [Letter(one.id, "1-0"), Letter("elsewhere", "2-0"), Letter(one.id, "3-0")]
    paired = with_dead_letters([one, two], letters)
    found = [(session.id, [letter.entry_id for letter in mine]) for session, mine in paired]
    assert found == [(one.id, ["1-0", "3-0"]), (two.id, [])]
