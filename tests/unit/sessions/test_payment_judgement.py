"""The arbiter's judgement of a payment read from the provider, and the mismatch's refunding cancellation."""

from datetime import UTC, datetime, timedelta

import pytest
from travel.common.v1 import money_pb2
from travel.sessions.v1 import sessions_pb2 as pb

from kit.errors import InvalidArgument
from services.sagas import definitions as sagas
from services.sessions import domain
from services.sessions.domain import HotelStay, Money, PaymentOutcome, PaymentReport, Reason, State
from services.sessions.messages import payment_outcome_message, payment_report_of

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
TTL = timedelta(minutes=10)
SID = "2f1c7a52-8a40-4d8e-9a57-3c1e0f1b2d33"
TOTAL = Money(20000, "EUR")


def pending() -> domain.Session:
    stay = HotelStay("h1", "HTL-LIS-01", "Hotel", "LIS", "2030-02-01", "2030-02-03", 2, TOTAL)
    session, _ = domain.attach(domain.open_session(SID, "c1", T0, TTL), stay, T0)
    return domain.begin_checkout(session, T0)


def captured(amount: Money | None = TOTAL, reference: str = SID) -> PaymentReport:
    return PaymentReport("pay-2", PaymentOutcome.CAPTURED, amount, reference)


def test_a_capture_of_the_exact_total_for_the_session_counts() -> None:
    assert domain.judge_payment(pending(), captured()) is PaymentOutcome.CAPTURED


@pytest.mark.parametrize(
    "report",
    [
        captured(Money(19999, "EUR")),
        captured(Money(20000, "USD")),
        captured(None),
        captured(reference="another-session"),
    ],
)
def test_any_other_capture_is_a_mismatch(report: PaymentReport) -> None:
    assert domain.judge_payment(pending(), report) is PaymentOutcome.MISMATCHED


def test_a_reported_mismatch_or_decline_stays_what_it_is() -> None:
    mismatched = PaymentReport("pay-2", PaymentOutcome.MISMATCHED, Money(20000, "EUR"), SID)
    assert domain.judge_payment(pending(), mismatched) is PaymentOutcome.MISMATCHED
    declined = PaymentReport("pay-2", PaymentOutcome.DECLINED)
    assert domain.judge_payment(pending(), declined) is PaymentOutcome.DECLINED


def test_a_mismatch_cancels_a_waiting_session_and_its_cancellation_refunds() -> None:
    cancelling = domain.payment_mismatched(pending(), "pay-2", T0)
    assert cancelling is not None and cancelling.state is State.CANCELLING
    assert (cancelling.reason, cancelling.payment_id) == (Reason.PAYMENT_MISMATCH.value, "pay-2")
    slip = sagas.cancellation_slip(cancelling, T0)
    assert [s.name for s in slip.itinerary] == [
        "flights.release",
        "hotel.release",
        "payments.refund",
        "sessions.cancelled",
    ]
    assert slip.itinerary[2].arguments["payment_id"] == "pay-2"
    final = domain.cancelled(cancelling, T0)
    assert final is not None and final.state is State.CANCELLED


def test_a_mismatch_after_the_session_moved_on_is_only_refunded() -> None:
    confirming = domain.payment_succeeded(pending(), "pay-1", T0)
    assert confirming is not None
    assert domain.payment_mismatched(confirming, "pay-2", T0) is None


def test_a_declined_payment_cancels_without_a_refund() -> None:
    cancelling = domain.payment_declined(pending(), "pay-1", T0)
    assert cancelling is not None and domain.captured_payment_to_refund(cancelling) == ""
    steps = [s.name for s in sagas.cancellation_slip(cancelling, T0).itinerary]
    assert "payments.refund" not in steps


def test_the_request_becomes_a_report() -> None:
    request = pb.RecordPaymentRequest(
        session_id=SID,
        payment_id="pay-2",
        outcome=pb.PAYMENT_OUTCOME_SUCCEEDED,
        amount=money_pb2.Money(amount=20000, currency="EUR"),
        reference=SID,
    )
    assert payment_report_of(request) == captured()
    assert payment_outcome_message(PaymentOutcome.MISMATCHED) == pb.PAYMENT_OUTCOME_MISMATCHED


@pytest.mark.parametrize(
    ("request_", "fields"),
    [
        (pb.RecordPaymentRequest(payment_id="p"), ["outcome", "amount", "reference"]),
        (pb.RecordPaymentRequest(outcome=pb.PAYMENT_OUTCOME_DECLINED), ["payment_id"]),
        (
            pb.RecordPaymentRequest(payment_id="p", outcome=pb.PAYMENT_OUTCOME_SUCCEEDED),
            ["amount", "reference"],
        ),
        (
            pb.RecordPaymentRequest(
                payment_id="p",
                outcome=pb.PAYMENT_OUTCOME_MISMATCHED,
                amount=money_pb2.Money(amount=1, currency="EUR"),
            ),
            ["reference"],
        ),
    ],
)
def test_a_capture_without_what_was_captured_is_refused(
    request_: pb.RecordPaymentRequest, fields: list[str]
) -> None:
    with pytest.raises(InvalidArgument) as raised:
        payment_report_of(request_)
    assert [v.field for v in raised.value.violations] == fields
