"""The payments service's verdict on a provider's record, and the checks on what an event names."""

from __future__ import annotations

import pytest

from kit.errors import DependencyUnavailable, InvalidArgument
from services.payments.verification import (
    ExpectedPayment,
    ProviderPayment,
    ProviderPaymentStatus,
    Verdict,
    check_event,
    earlier_statuses,
    provider_payment_of,
    verdict,
)

SESSION = "2f1c7a52-8a40-4d8e-9a57-3c1e0f1b2d33"
EXPECTED = ExpectedPayment(payment_id="pay_1", session_id=SESSION, amount=58000, currency="EUR")


def record(
    status: str = "SUCCEEDED",
    payment_id: str = "pay_1",
    amount: int = 58000,
    currency: str = "EUR",
    reference: str = SESSION,
) -> ProviderPayment:
    return ProviderPayment(payment_id, ProviderPaymentStatus(status), amount, currency, reference)


def test_a_capture_for_the_exact_total_currency_and_session_is_captured() -> None:
    assert verdict(record(), EXPECTED) is Verdict.CAPTURED


def test_a_capture_by_another_payment_for_the_same_session_and_total_is_captured() -> None:
    assert verdict(record(payment_id="pay_2"), EXPECTED) is Verdict.CAPTURED


@pytest.mark.parametrize(
    "captured",
    [
        record(amount=57999),
        record(amount=58001),
        record(currency="USD"),
        record(reference="9d3b2c1a-0000-4000-8000-000000000000"),
        record(payment_id="pay_2", amount=1),
    ],
)
def test_a_capture_for_anything_else_is_a_mismatch(captured: ProviderPayment) -> None:
    assert verdict(captured, EXPECTED) is Verdict.MISMATCH


def test_a_pending_payment_is_pending_whatever_it_claims() -> None:
    assert verdict(record("PENDING"), EXPECTED) is Verdict.PENDING
    assert verdict(record("PENDING", amount=1), EXPECTED) is Verdict.PENDING


def test_a_refunded_payment_is_refunded() -> None:
    assert verdict(record("REFUNDED"), EXPECTED) is Verdict.REFUNDED
    assert verdict(record("REFUNDED", amount=1), EXPECTED) is Verdict.REFUNDED


def test_only_the_sessions_own_payment_declining_is_a_decline() -> None:
    assert verdict(record("DECLINED"), EXPECTED) is Verdict.DECLINED
    assert verdict(record("DECLINED", payment_id="pay_2"), EXPECTED) is Verdict.IGNORED


def test_the_providers_answer_is_read_into_a_record() -> None:
    body = {
        "id": "pay_1",
        "status": "SUCCEEDED",
        "amount": 58000,
        "currency": "EUR",
        "reference": SESSION,
        "checkoutUrl": "http://x/checkout",
    }
    assert provider_payment_of("pay_1", body) == record()


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"id": "pay_1"},
        {"id": "pay_1", "status": "CAPTURED", "amount": 1, "currency": "EUR", "reference": SESSION},
        {"id": "pay_1", "status": "SUCCEEDED", "amount": "1", "currency": "EUR", "reference": SESSION},
        {"id": "pay_1", "status": "SUCCEEDED", "amount": True, "currency": "EUR", "reference": SESSION},
        {"id": "pay_1", "status": "SUCCEEDED", "amount": 1, "currency": None, "reference": SESSION},
        {"id": "pay_2", "status": "SUCCEEDED", "amount": 1, "currency": "EUR", "reference": SESSION},
    ],
)
def test_an_unreadable_answer_counts_as_no_answer(body: object) -> None:
    with pytest.raises(DependencyUnavailable):
        provider_payment_of("pay_1", body)


@pytest.mark.parametrize(
    "event_type", ["payment.succeeded", "refund.succeeded", "payment.partially_captured"]
)
def test_any_well_formed_event_type_is_a_hint(event_type: str) -> None:
    check_event("evt_1", event_type, "pay_1")


@pytest.mark.parametrize(
    ("event_id", "event_type", "payment_id", "field"),
    [
        ("", "payment.succeeded", "pay_1", "id"),
        ("e" * 101, "payment.succeeded", "pay_1", "id"),
        ("evt_1", "succeeded", "pay_1", "type"),
        ("evt_1", "Payment.Succeeded", "pay_1", "type"),
        ("evt_1", "payment." + "x" * 40, "pay_1", "type"),
        ("evt_1", "payment.succeeded", "../holds", "data.paymentId"),
        ("evt_1", "payment.succeeded", "pay 1", "data.paymentId"),
        ("evt_1", "payment.succeeded", "p" * 65, "data.paymentId"),
    ],
)
def test_a_malformed_event_names_its_field(
    event_id: str, event_type: str, payment_id: str, field: str
) -> None:
    with pytest.raises(InvalidArgument) as raised:
        check_event(event_id, event_type, payment_id)
    assert [v.field for v in raised.value.violations] == [field]


def test_a_stored_status_only_moves_forward() -> None:
    assert ProviderPaymentStatus.SUCCEEDED in earlier_statuses(ProviderPaymentStatus.REFUNDED)
    assert ProviderPaymentStatus.REFUNDED not in earlier_statuses(ProviderPaymentStatus.SUCCEEDED)
    assert earlier_statuses(ProviderPaymentStatus.PENDING) == frozenset()
