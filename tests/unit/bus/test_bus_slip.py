"""Routing-slip rules: building, advancing, turning to compensation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from travel.saga.v1 import saga_pb2 as pb

from bus.errors import InvalidSlip
from bus.slip import (
    COMPENSATABLE,
    COMPENSATING,
    PIVOT,
    RETRIABLE,
    StepDeclaration,
    build_slip,
    can_compensate,
    compensation_plan,
    complete_current,
    current_step,
    idempotency_key,
    is_finished,
    next_attempt,
    stamp,
    start_compensation,
    step_marker,
)

NOW = datetime(2030, 1, 1, tzinfo=UTC)
HOTEL = StepDeclaration("hotel.confirm", "hotel", COMPENSATABLE, "hotel.cancel", {"stay": "s1"})
CAR = StepDeclaration("car.confirm", "car", COMPENSATABLE, "car.cancel")
FLIGHTS = StepDeclaration("flights.confirm", "flights", PIVOT)
COMPLETE = StepDeclaration("sessions.complete", "sessions", RETRIABLE)
CANCELLED = StepDeclaration("sessions.cancelled", "sessions", RETRIABLE)


def confirm_slip() -> pb.RoutingSlip:
    return build_slip(
        saga_id="g1", session_id="s1", kind=pb.SAGA_KIND_CONFIRM,
        steps=[HOTEL, CAR, FLIGHTS, COMPLETE], now=NOW, after_compensation=[CANCELLED],
    )  # fmt: skip


def test_build_slip_keeps_the_declared_order() -> None:
    slip = confirm_slip()
    assert [s.name for s in slip.itinerary] == [
        "hotel.confirm", "car.confirm", "flights.confirm", "sessions.complete"
    ]  # fmt: skip
    assert slip.phase == pb.SLIP_PHASE_FORWARD
    assert dict(slip.itinerary[0].arguments) == {"stay": "s1"}
    assert slip.create_time.ToDatetime(tzinfo=UTC) == NOW


@pytest.mark.parametrize(
    "steps",
    [
        [],
        [FLIGHTS, HOTEL],
        [COMPLETE, HOTEL],
        [FLIGHTS, StepDeclaration("other.pivot", "other", PIVOT)],
        [StepDeclaration("hotel.confirm", "hotel", COMPENSATABLE)],
        [StepDeclaration("x.y", "x", RETRIABLE, "x.undo")],
        [StepDeclaration("x.y", "x", pb.STEP_KIND_UNSPECIFIED)],
        [StepDeclaration("", "x", RETRIABLE)],
    ],
)
def test_invalid_step_lists_are_rejected(steps: list[StepDeclaration]) -> None:
    with pytest.raises(InvalidSlip):
        build_slip(saga_id="g", session_id="s", kind=pb.SAGA_KIND_CONFIRM, steps=steps, now=NOW)


def test_after_compensation_steps_must_be_retriable() -> None:
    with pytest.raises(InvalidSlip):
        build_slip(
            saga_id="g", session_id="s", kind=pb.SAGA_KIND_CONFIRM, steps=[HOTEL], now=NOW,
            after_compensation=[CAR],
        )  # fmt: skip


def test_slip_needs_ids_and_kind() -> None:
    with pytest.raises(InvalidSlip):
        build_slip(saga_id="", session_id="s", kind=pb.SAGA_KIND_CONFIRM, steps=[HOTEL], now=NOW)
    with pytest.raises(InvalidSlip):
        build_slip(saga_id="g", session_id="s", kind=pb.SAGA_KIND_UNSPECIFIED, steps=[HOTEL], now=NOW)


def test_complete_current_logs_undo_data_and_moves_on() -> None:
    slip = confirm_slip()
    done = complete_current(slip, {"booking": "b1"}, NOW)
    assert current_step(done) is not None
    assert current_step(done).name == "car.confirm"  # type: ignore[union-attr]
    assert [(e.name, dict(e.undo)) for e in done.log] == [("hotel.confirm", {"booking": "b1"})]
    assert len(slip.log) == 0, "the input slip is not changed"


def test_markers_and_idempotency_keys_are_stable_per_step() -> None:
    slip = confirm_slip()
    assert idempotency_key(slip) == "g1:hotel.confirm"
    assert step_marker(slip) == "0:hotel.confirm"
    retried = next_attempt(slip, NOW)
    assert retried.attempt == 1
    assert step_marker(retried) == step_marker(slip)
    assert idempotency_key(retried) == idempotency_key(slip)
    assert step_marker(complete_current(slip, None, NOW)) == "1:car.confirm"


def test_compensation_undoes_completed_steps_newest_first_then_runs_the_tail() -> None:
    slip = complete_current(complete_current(confirm_slip(), {"h": "1"}, NOW), {"c": "2"}, NOW)
    plan = compensation_plan(slip)
    assert [(s.name, s.participant, dict(s.arguments)) for s in plan] == [
        ("car.cancel", "car", {"c": "2"}),
        ("hotel.cancel", "hotel", {"h": "1"}),
        ("sessions.cancelled", "sessions", {}),
    ]
    turned = start_compensation(slip, "no seats", NOW)
    assert turned.phase == COMPENSATING
    assert turned.failure_reason == "no seats"
    assert [s.name for s in turned.itinerary] == [s.name for s in plan]
    assert all(s.kind == RETRIABLE for s in turned.itinerary)


def test_no_compensation_past_the_pivot() -> None:
    slip = confirm_slip()
    for _ in range(3):
        slip = complete_current(slip, None, NOW)
    assert current_step(slip).name == "sessions.complete"  # type: ignore[union-attr]
    assert not can_compensate(slip)
    with pytest.raises(InvalidSlip):
        start_compensation(slip, "late refusal", NOW)


def test_compensating_slip_cannot_turn_again() -> None:
    turned = start_compensation(complete_current(confirm_slip(), None, NOW), "x", NOW)
    assert not can_compensate(turned)


def test_slip_finishes_when_itinerary_is_empty() -> None:
    slip = build_slip(
        saga_id="g", session_id="s", kind=pb.SAGA_KIND_REFUND,
        steps=[StepDeclaration("payments.refund", "payments", RETRIABLE)], now=NOW,
    )  # fmt: skip
    assert not is_finished(slip)
    assert is_finished(complete_current(slip, None, NOW))
    with pytest.raises(InvalidSlip):
        complete_current(complete_current(slip, None, NOW), None, NOW)


@pytest.mark.parametrize(
    "now",
    [
        datetime(2026, 12, 6, 23, 30, 1, 123456, tzinfo=UTC),
        datetime(2026, 12, 7, 1, 30, 1, 999999, tzinfo=timezone(timedelta(hours=2))),
        datetime(2026, 12, 6, 23, 30, 1, 5),  # naive: taken as UTC, as FromDatetime does
        datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC),
    ],
)
def test_stamp_sets_what_from_datetime_sets(now: datetime) -> None:
    expected, stamped = Timestamp(), Timestamp()
    expected.FromDatetime(now)
    stamp(stamped, now)
    assert (stamped.seconds, stamped.nanos) == (expected.seconds, expected.nanos)
