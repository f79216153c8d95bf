"""The payment state machine and its webhook events."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from simulated_world.providers.domain.errors import RequestRefused
from simulated_world.providers.domain.payments import (
    PayerChoice,
    Payment,
    PaymentStatus,
    completion_status,
    event_body,
    refund_decision,
)

PAYMENT = Payment(
    "pay_1", PaymentStatus.PENDING, "s1", 1500, "EUR", "http://x/h", datetime(2030, 1, 1, tzinfo=UTC)
)


def test_pay_or_decline_a_pending_payment() -> None:
    assert completion_status(PAYMENT, PayerChoice.SUCCEED) is PaymentStatus.SUCCEEDED
    assert completion_status(PAYMENT, PayerChoice.DECLINE) is PaymentStatus.DECLINED


@pytest.mark.parametrize("status", [PaymentStatus.SUCCEEDED, PaymentStatus.DECLINED, PaymentStatus.REFUNDED])
def test_only_pending_payments_complete(status: PaymentStatus) -> None:
    with pytest.raises(RequestRefused) as refused:
        completion_status(replace(PAYMENT, status=status), PayerChoice.SUCCEED)
    assert refused.value.code == "PAYMENT_NOT_PENDING"


def test_refunds_only_succeeded_payments_and_once() -> None:
    assert refund_decision(replace(PAYMENT, status=PaymentStatus.SUCCEEDED)) is True
    assert refund_decision(replace(PAYMENT, status=PaymentStatus.REFUNDED)) is False
    for status in (PaymentStatus.PENDING, PaymentStatus.DECLINED):
        with pytest.raises(RequestRefused) as refused:
            refund_decision(replace(PAYMENT, status=status))
        assert refused.value.code == "PAYMENT_NOT_REFUNDABLE"


def test_events_name_the_outcome() -> None:
    types = {
        status: event_body("evt_1", replace(PAYMENT, status=status), 7)["type"]
        for status in (PaymentStatus.SUCCEEDED, PaymentStatus.DECLINED, PaymentStatus.REFUNDED)
    }
    assert types == {
        PaymentStatus.SUCCEEDED: "payment.succeeded",
        PaymentStatus.DECLINED: "payment.failed",
        PaymentStatus.REFUNDED: "refund.succeeded",
    }
    body = event_body("evt_1", replace(PAYMENT, status=PaymentStatus.SUCCEEDED), 7)
    assert body == {
        "id": "evt_1",
        "type": "payment.succeeded",
        "created": 7,
        "data": {
            "paymentId": "pay_1",
            "reference": "s1",
            "amount": 1500,
            "currency": "EUR",
            "status": "SUCCEEDED",
        },
    }
