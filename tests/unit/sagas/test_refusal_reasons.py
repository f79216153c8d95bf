"""A compensated saga's session reason comes from the refusal's typed reason, never from its text."""

from __future__ import annotations

import pytest
from travel.saga.v1 import saga_pb2 as pb

from services.sagas.session_steps import rejection_reason
from services.sessions.domain import Reason


@pytest.mark.parametrize(
    ("refusal", "reason"),
    [
        (pb.REFUSAL_REASON_HOTEL_REJECTED, Reason.HOTEL_REJECTED),
        (pb.REFUSAL_REASON_FLIGHT_REJECTED, Reason.FLIGHT_REJECTED),
        (pb.REFUSAL_REASON_REFUND_REFUSED, Reason.COMPENSATION_FAILED),
        (pb.REFUSAL_REASON_UNSPECIFIED, Reason.COMPENSATION_FAILED),
    ],
)
def test_the_session_reason_follows_the_typed_refusal(
    refusal: pb.RefusalReason.ValueType, reason: Reason
) -> None:
    assert rejection_reason(refusal) == reason
