"""The fast slip codec writes and reads exactly what protobuf's json_format does."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from google.protobuf import json_format
from travel.saga.v1 import saga_pb2 as pb

from bus import slip_json
from bus.errors import UndecodableEntry


def full_slip() -> pb.RoutingSlip:
    """A slip with every field set, so a field added to the proto but not the codec shows up."""
    slip = pb.RoutingSlip(
        saga_id="g1", session_id="s1", kind=pb.SAGA_KIND_CANCEL,
        phase=pb.SLIP_PHASE_COMPENSATING, attempt=3, failure_reason="no seats", unexpected_failures=1,
        refusal_reason=pb.REFUSAL_REASON_HOTEL_REJECTED,
        trace=pb.TraceContext(traceparent="00-abc-def-01", tracestate="k=v"),
    )  # fmt: skip
    slip.itinerary.add(
        name="hotel.cancel", participant="hotel", kind=pb.STEP_KIND_RETRIABLE,
        compensation="", arguments={"booking": "b1", "quote": 'a "quoted" é'},
    )  # fmt: skip
    slip.after_compensation.add(name="sessions.cancelled", participant="sessions", kind=3)
    done = slip.log.add(
        name="hotel.confirm", participant="hotel", kind=pb.STEP_KIND_COMPENSATABLE,
        compensation="hotel.cancel", undo={"booking": "b1"}, phase=pb.SLIP_PHASE_FORWARD,
    )  # fmt: skip
    done.complete_time.FromDatetime(datetime(2030, 1, 1, 12, 0, 0, 123456, tzinfo=UTC))
    slip.create_time.FromDatetime(datetime(2030, 1, 1, tzinfo=UTC))
    slip.update_time.FromDatetime(datetime(2030, 1, 1, 0, 0, 1, tzinfo=UTC))
    return slip


def test_every_field_is_set_in_the_fixture() -> None:
    slip = full_slip()
    assert {f.name for f, _ in slip.ListFields()} == {f.name for f in slip.DESCRIPTOR.fields}


def test_dumps_matches_json_format() -> None:
    slip = full_slip()
    assert json.loads(slip_json.dumps(slip)) == json.loads(json_format.MessageToJson(slip))


def test_round_trips_both_ways() -> None:
    slip = full_slip()
    assert slip_json.loads(slip_json.dumps(slip)) == slip
    assert slip_json.loads(json_format.MessageToJson(slip)) == slip
    assert json_format.Parse(slip_json.dumps(slip), pb.RoutingSlip()) == slip


def test_accepts_proto_field_names_and_enum_numbers() -> None:
    slip = slip_json.loads('{"saga_id": "g", "kind": 1, "itinerary": [{"name": "a"}]}')
    assert slip.saga_id == "g"
    assert slip.kind == pb.SAGA_KIND_CONFIRM


def test_empty_trace_survives() -> None:
    slip = pb.RoutingSlip(saga_id="g", trace=pb.TraceContext())
    assert slip_json.loads(slip_json.dumps(slip)).HasField("trace")


@pytest.mark.parametrize("text", ["not json", '{"unknown": 1}', '{"kind": "NOPE"}', "[1]"])
def test_rejects_garbage(text: str) -> None:
    with pytest.raises(UndecodableEntry):
        slip_json.loads(text)
