"""The purchase session state machine, transition by transition."""

from datetime import UTC, datetime, timedelta

import pytest

from kit.errors import FailedPrecondition, InvalidArgument, NotFound
from services.sessions import domain
from services.sessions.domain import HotelStay, Money, Reason, Session, State

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
TTL = timedelta(minutes=10)


def stay(hold_id: str = "h1", amount: int = 20000) -> HotelStay:
    return HotelStay(hold_id, "hotel-1", "Hotel", "LIS", "2030-02-01", "2030-02-03", 2, Money(amount, "EUR"))


def opened() -> Session:
    return domain.open_session("s1", "c1", T0, TTL)


def pending() -> Session:
    session, _ = domain.attach(opened(), stay(), T0)
    return domain.begin_checkout(session, T0)


def test_open_session_has_deadline() -> None:
    session = opened()
    assert session.state is State.OPEN
    assert session.expires_at == T0 + TTL
    assert session.total is None


def test_attach_replaces_and_returns_old_item() -> None:
    first, replaced = domain.attach(opened(), stay("h1"), T0)
    assert replaced is None
    second, replaced = domain.attach(first, stay("h2", 30000), T0)
    assert replaced == stay("h1")
    assert second.hotel == stay("h2", 30000)
    assert second.total == Money(30000, "EUR")
    assert second.version == first.version + 1


def test_attach_refused_after_deadline_or_when_not_open() -> None:
    with pytest.raises(FailedPrecondition):
        domain.attach(opened(), stay(), T0 + TTL)
    with pytest.raises(FailedPrecondition):
        domain.attach(pending(), stay(), T0)


def test_checkout_of_empty_session_is_invalid() -> None:
    with pytest.raises(InvalidArgument):
        domain.begin_checkout(opened(), T0)


def test_payment_success_moves_to_confirming_then_confirmed() -> None:
    confirming = domain.payment_succeeded(pending(), "pay-1", T0)
    assert confirming is not None and confirming.state is State.CONFIRMING
    assert confirming.payment_id == "pay-1"
    confirmed = domain.complete(confirming, T0)
    assert confirmed is not None and confirmed.state is State.CONFIRMED
    assert confirmed.reason == "ALL_CONFIRMED"


def test_payment_after_deadline_is_refused() -> None:
    assert domain.payment_succeeded(pending(), "pay-1", T0 + TTL) is None


def test_payment_after_expiry_is_refused() -> None:
    expiring = domain.expire(pending(), T0 + TTL)
    assert expiring is not None
    assert domain.payment_succeeded(expiring, "pay-1", T0) is None


def test_decline_cancels_with_reason() -> None:
    cancelling = domain.payment_declined(pending(), "pay-1", T0)
    assert cancelling is not None
    assert cancelling.state is State.CANCELLING
    assert cancelling.reason == Reason.PAYMENT_DECLINED.value
    final = domain.cancelled(cancelling, T0)
    assert final is not None and final.state is State.CANCELLED


def test_expiry_only_after_deadline_and_ends_expired() -> None:
    assert domain.expire(opened(), T0 + TTL - timedelta(seconds=1)) is None
    expiring = domain.expire(opened(), T0 + TTL)
    assert expiring is not None and expiring.reason == "EXPIRED"
    final = domain.cancelled(expiring, T0 + TTL)
    assert final is not None and final.state is State.EXPIRED


@pytest.mark.parametrize("state", [State.CONFIRMING, State.CONFIRMED, State.CANCELLING, State.CANCELLED])
def test_only_open_or_pending_sessions_expire(state: State) -> None:
    session = domain.Session(**{**opened().__dict__, "state": state})
    assert domain.expire(session, T0 + TTL) is None


def test_customer_cancel_from_open() -> None:
    cancelling = domain.customer_cancel(opened(), T0)
    assert cancelling.reason == Reason.CUSTOMER_CANCELLED.value
    with pytest.raises(FailedPrecondition):
        domain.customer_cancel(cancelling, T0)


def test_confirmation_failure_then_needs_attention_then_cancelled() -> None:
    confirming = domain.payment_succeeded(pending(), "pay-1", T0)
    assert confirming is not None
    failing = domain.confirmation_failed(confirming, Reason.HOTEL_REJECTED, T0)
    assert failing is not None and failing.reason == "HOTEL_REJECTED"
    stuck = domain.needs_attention(failing, T0)
    assert stuck is not None and stuck.state is State.NEEDS_ATTENTION
    final = domain.cancelled(stuck, T0)
    assert final is not None and final.state is State.CANCELLED


def test_terminal_states_ignore_saga_repeats() -> None:
    confirming = domain.payment_succeeded(pending(), "pay-1", T0)
    assert confirming is not None
    confirmed = domain.complete(confirming, T0)
    assert confirmed is not None
    assert domain.complete(confirmed, T0) is None
    assert domain.cancelled(confirmed, T0) is None


def test_someone_elses_session_is_not_found() -> None:
    with pytest.raises(NotFound):
        domain.owned_by(opened(), "other")
    with pytest.raises(NotFound):
        domain.owned_by(None, "c1")
