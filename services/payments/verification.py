"""The verdict on a payment as the provider records it, against what its session's checkout asked. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from kit.error_reasons import ErrorReason
from kit.errors import DependencyUnavailable, FieldViolation, InvalidArgument

# Ids go into the provider's URLs and our tables: a closed alphabet and the columns' lengths.
_PAYMENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_EVENT_TYPE = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
MAX_EVENT_ID = 100
MAX_EVENT_TYPE = 40


class ProviderPaymentStatus(StrEnum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    DECLINED = "DECLINED"
    REFUNDED = "REFUNDED"


# A status only moves forward; an older read arriving late must not undo a newer one.
_EARLIER = {
    ProviderPaymentStatus.PENDING: frozenset[ProviderPaymentStatus](),
    ProviderPaymentStatus.SUCCEEDED: frozenset({ProviderPaymentStatus.PENDING}),
    ProviderPaymentStatus.DECLINED: frozenset({ProviderPaymentStatus.PENDING}),
    ProviderPaymentStatus.REFUNDED: frozenset(
        {ProviderPaymentStatus.PENDING, ProviderPaymentStatus.SUCCEEDED}
    ),
}


class Verdict(StrEnum):
    CAPTURED = "CAPTURED"  # captured for the session's exact total, currency and id
    MISMATCH = "MISMATCH"  # captured, but for another total, currency or session
    DECLINED = "DECLINED"  # the session's own payment was declined
    PENDING = "PENDING"  # nothing has happened yet at the provider
    REFUNDED = "REFUNDED"  # captured, then given back
    IGNORED = "IGNORED"  # declined, and not the session's payment: nothing was taken, nothing to do


@dataclass(frozen=True)
class ProviderPayment:
    """A payment as the provider's own record shows it."""

    id: str
    status: ProviderPaymentStatus
    amount: int
    currency: str
    reference: str


@dataclass(frozen=True)
class ExpectedPayment:
    """What the session's checkout asked the provider for."""

    payment_id: str
    session_id: str
    amount: int
    currency: str


def check_event(event_id: str, event_type: str, payment_id: str) -> None:
    """An event names a payment to read; any well-formed type is only a hint that it changed."""
    violations = []
    if not event_id or len(event_id) > MAX_EVENT_ID:
        violations.append(FieldViolation("id", f"must be 1 to {MAX_EVENT_ID} characters"))
    if len(event_type) > MAX_EVENT_TYPE or not _EVENT_TYPE.fullmatch(event_type):
        violations.append(
            FieldViolation("type", f"must be a dotted lowercase name of at most {MAX_EVENT_TYPE} characters")
        )
    if not _PAYMENT_ID.fullmatch(payment_id):
        violations.append(FieldViolation("data.paymentId", "must be 1 to 64 letters, digits, '_' or '-'"))
    if violations:
        raise InvalidArgument(violations, reason=ErrorReason.INVALID_FIELD)


def provider_payment_of(payment_id: str, body: Any) -> ProviderPayment:
    """The provider's answer to GET /payments/{id}; one we cannot read is as good as no answer."""
    if not isinstance(body, dict):
        raise DependencyUnavailable("the payment provider answered something that is not a payment")
    try:
        payment = ProviderPayment(
            id=_text(body, "id"),
            status=ProviderPaymentStatus(_text(body, "status")),
            amount=_whole(body, "amount"),
            currency=_text(body, "currency"),
            reference=_text(body, "reference"),
        )
    except (KeyError, ValueError) as error:
        raise DependencyUnavailable(f"the provider's record of {payment_id} is unreadable: {error}") from None
    if payment.id != payment_id:
        raise DependencyUnavailable(f"the payment provider answered for {payment.id}, not {payment_id}")
    return payment


def verdict(payment: ProviderPayment, expected: ExpectedPayment) -> Verdict:
    """What the provider's record means for the session; the event that pointed at it plays no part."""
    if payment.status is ProviderPaymentStatus.PENDING:
        return Verdict.PENDING
    if payment.status is ProviderPaymentStatus.REFUNDED:
        return Verdict.REFUNDED
    if payment.status is ProviderPaymentStatus.DECLINED:
        # Only the session's own payment failing ends it; another declined payment took nothing.
        return Verdict.DECLINED if payment.id == expected.payment_id else Verdict.IGNORED
    asked = (expected.session_id, expected.amount, expected.currency)
    captured = (payment.reference, payment.amount, payment.currency)
    return Verdict.CAPTURED if captured == asked else Verdict.MISMATCH


def earlier_statuses(status: ProviderPaymentStatus) -> frozenset[ProviderPaymentStatus]:
    """The stored statuses a newly read status may replace."""
    return _EARLIER[status]


def _text(body: dict[str, Any], name: str) -> str:
    value = body[name]
    if not isinstance(value, str):
        raise ValueError(f"{name} is not a string")
    return value


def _whole(body: dict[str, Any], name: str) -> int:
    value = body[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} is not an integer")
    return value
