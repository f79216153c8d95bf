"""The stuck-saga policy: a step that has not moved on past the bound is stuck, flagged once per episode."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bus.history import HistoryEvent, HistoryRecord, next_step_detail
from bus.stuck_policy import UNKNOWN_PARTICIPANT, judge

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
BOUND = timedelta(seconds=120)


def record(
    event: HistoryEvent, seconds: float, step: str = "", participant: str = "", detail: str = ""
) -> HistoryRecord:
    return HistoryRecord(
        saga_id="saga-1",
        entry_id=f"{int(seconds * 1000)}-0",
        at=T0 + timedelta(seconds=seconds),
        event=event,
        step=step,
        participant=participant,
        phase="forward",
        attempt=0,
        detail=detail,
        consumer="",
    )


STARTED = record(HistoryEvent.STARTED, 0, "hotel.confirm", "hotel", "published to hotel")
HOTEL_DONE = record(
    HistoryEvent.COMPLETED, 1, "hotel.confirm", "hotel", next_step_detail("flights.confirm", "flights")
)


def test_a_saga_within_the_bound_is_looked_at_again_when_the_bound_runs_out() -> None:
    verdict = judge([STARTED, HOTEL_DONE], T0 + timedelta(seconds=60), BOUND)
    assert not verdict.stuck and not verdict.flag
    assert verdict.check_at == HOTEL_DONE.at + BOUND
    assert verdict.waiting is not None and verdict.waiting.participant == "flights"


def test_a_step_that_has_not_moved_past_the_bound_is_stuck_and_flagged() -> None:
    verdict = judge([STARTED, HOTEL_DONE], HOTEL_DONE.at + BOUND, BOUND)
    assert verdict.stuck and verdict.flag
    assert verdict.waiting is not None
    assert (verdict.waiting.step, verdict.waiting.participant) == ("flights.confirm", "flights")
    assert verdict.waiting.since == HOTEL_DONE.at
    assert verdict.check_at == HOTEL_DONE.at + BOUND + BOUND


def test_retrying_is_not_progress_and_names_the_step_being_retried() -> None:
    retries = [record(HistoryEvent.RETRY_SCHEDULED, s, "hotel.confirm", "hotel") for s in (10, 50, 110)]
    verdict = judge([STARTED, *retries], T0 + timedelta(seconds=121), BOUND)
    assert verdict.stuck and verdict.flag
    assert verdict.waiting is not None and verdict.waiting.since == STARTED.at
    assert verdict.waiting.participant == "hotel"


def test_a_stuck_episode_is_flagged_once() -> None:
    flagged = record(HistoryEvent.FLAGGED_STUCK, 125, "flights.confirm", "flights")
    verdict = judge([STARTED, HOTEL_DONE, flagged], T0 + timedelta(seconds=400), BOUND)
    assert verdict.stuck and not verdict.flag
    assert verdict.check_at == T0 + timedelta(seconds=400) + BOUND


def test_progress_after_a_flag_starts_a_new_episode() -> None:
    flagged = record(HistoryEvent.FLAGGED_STUCK, 125, "flights.confirm", "flights")
    refused = record(HistoryEvent.REFUSED, 130, "flights.confirm", "flights")
    compensating = record(HistoryEvent.COMPENSATING, 130, "hotel.cancel", "hotel")
    history = [STARTED, HOTEL_DONE, flagged, refused, compensating]
    assert not judge(history, T0 + timedelta(seconds=200), BOUND).stuck
    later = judge(history, T0 + timedelta(seconds=250), BOUND)
    assert later.stuck and later.flag
    assert later.waiting is not None and later.waiting.participant == "hotel"


def test_a_finished_saga_is_never_stuck_and_needs_no_more_looks() -> None:
    done = record(HistoryEvent.SAGA_COMPLETED, 2, "sessions.complete", "sessions")
    verdict = judge([STARTED, HOTEL_DONE, done], T0 + timedelta(days=1), BOUND)
    assert not verdict.stuck and not verdict.flag and verdict.check_at is None
    assert judge([], T0, BOUND).check_at is None


def test_a_dead_lettered_saga_waits_for_its_operator_not_for_a_flag() -> None:
    dead = record(HistoryEvent.DEAD_LETTERED, 30, "flights.confirm", "flights")
    now = T0 + timedelta(seconds=1000)
    verdict = judge([STARTED, HOTEL_DONE, dead], now, BOUND)
    assert not verdict.stuck and not verdict.flag and verdict.check_at == now + BOUND
    replayed = record(HistoryEvent.REPLAYED, 1000, "flights.confirm", "flights")
    again = judge([STARTED, HOTEL_DONE, dead, replayed], now + BOUND, BOUND)
    assert again.stuck and again.flag


def test_a_completed_step_without_a_named_next_step_waits_on_an_unknown_participant() -> None:
    old_style = record(HistoryEvent.COMPLETED, 1, "hotel.confirm", "hotel")
    verdict = judge([STARTED, old_style], T0 + timedelta(seconds=500), BOUND)
    assert verdict.stuck and verdict.waiting is not None
    assert verdict.waiting.participant == UNKNOWN_PARTICIPANT
