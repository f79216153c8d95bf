"""A saga's trace in its slip: stamped from the starting request, kept once stamped, continued by a step."""

from __future__ import annotations

from datetime import UTC, datetime

from travel.saga.v1 import saga_pb2 as pb

from bus import slip_json
from bus.slip import RETRIABLE, StepDeclaration, build_slip, current_step
from bus.slip_trace import StepSource, stamp_current_trace, step_scope
from kit.trace_context import continued, current_ids

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
OTHER = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def slip(traceparent: str = "") -> pb.RoutingSlip:
    return build_slip(
        saga_id="refund-p1",
        session_id="s1",
        kind=pb.SAGA_KIND_REFUND,
        steps=[StepDeclaration("payments.refund", "payments", RETRIABLE)],
        now=datetime(2026, 11, 30, tzinfo=UTC),
        traceparent=traceparent,
    )


def test_a_slip_started_inside_a_request_carries_its_traceparent() -> None:
    fresh = slip()
    with continued(TRACEPARENT, "vendor=1"):
        stamp_current_trace(fresh)
    assert (fresh.trace.traceparent, fresh.trace.tracestate) == (TRACEPARENT, "vendor=1")
    assert slip_json.loads(slip_json.dumps(fresh)).trace == fresh.trace


def test_a_slip_keeps_the_trace_it_was_given_and_outside_a_trace_gets_none() -> None:
    given = slip(OTHER)
    with continued(TRACEPARENT):
        stamp_current_trace(given)
    assert given.trace.traceparent == OTHER
    untraced = slip()
    stamp_current_trace(untraced)
    assert untraced.trace.traceparent == ""


def test_a_step_runs_in_its_sagas_trace_without_a_recording_tracer() -> None:
    traced = slip(TRACEPARENT)
    step = current_step(traced)
    assert step is not None
    source = StepSource("ns:{p0}:stream:hotel", "hotel", "1-0")
    with step_scope(traced, step, None, source):
        assert current_ids()[0] == TRACE_ID
    assert current_ids() == ("", "")
    with step_scope(slip(), step, None, source):
        assert current_ids() == ("", "")
