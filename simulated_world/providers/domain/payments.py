"""Payments: the state machine PENDING -> SUCCEEDED | DECLINED, SUCCEEDED -> REFUNDED, and its events."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from simulated_world.providers.domain.errors import RequestRefused

CURRENCIES = frozenset({"EUR", "USD", "GBP", "CHF"})
MAX_AMOUNT = 100_000_000_00


class PaymentStatus(enum.StrEnum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    DECLINED = "DECLINED"
    REFUNDED = "REFUNDED"


class PayerChoice(enum.StrEnum):
    SUCCEED = "succeed"
    DECLINE = "decline"


@dataclass(frozen=True)
class Payment:
    id: str
    status: PaymentStatus
    reference: str
    amount: int
    currency: str
    webhook_url: str
    created_at: datetime
    completed_at: datetime | None = None
    refunded_at: datetime | None = None


def completion_status(payment: Payment, outcome: PayerChoice) -> PaymentStatus:
    """The status a pay action leads to; only a PENDING payment can be paid or declined."""
    if payment.status is not PaymentStatus.PENDING:
        raise RequestRefused(
            f"payment {payment.id} is {payment.status.value}, not PENDING", "PAYMENT_NOT_PENDING"
        )
    return PaymentStatus.SUCCEEDED if outcome is PayerChoice.SUCCEED else PaymentStatus.DECLINED


def refund_decision(payment: Payment) -> bool:
    """True when the payment must move to REFUNDED, False if it already is; raises otherwise."""
    if payment.status is PaymentStatus.REFUNDED:
        return False
    if payment.status is not PaymentStatus.SUCCEEDED:
        raise RequestRefused(
            f"payment {payment.id} is {payment.status.value}; only SUCCEEDED payments are refunded",
            "PAYMENT_NOT_REFUNDABLE",
        )
    return True


def event_type(status: PaymentStatus) -> str:
    """The webhook event announcing that a payment reached this status."""
    return {
        PaymentStatus.SUCCEEDED: "payment.succeeded",
        PaymentStatus.DECLINED: "payment.failed",
        PaymentStatus.REFUNDED: "refund.succeeded",
    }[status]


def event_body(event_id: str, payment: Payment, created: int) -> dict[str, object]:
    """The webhook body for the payment's current status."""
    return {
        "id": event_id,
        "type": event_type(payment.status),
        "created": created,
        "data": {
            "paymentId": payment.id,
            "reference": payment.reference,
            "amount": payment.amount,
            "currency": payment.currency,
            "status": payment.status.value,
        },
    }
