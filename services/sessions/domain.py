"""The purchase session state machine: every transition a pure function of a session and inputs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum, StrEnum

from kit.error_reasons import ErrorReason
from kit.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound


class State(Enum):
    OPEN = "OPEN"
    PAYMENT_PENDING = "PAYMENT_PENDING"
    CONFIRMING = "CONFIRMING"
    CONFIRMED = "CONFIRMED"
    CANCELLING = "CANCELLING"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"
    NEEDS_ATTENTION = "NEEDS_ATTENTION"


TERMINAL = frozenset({State.CONFIRMED, State.CANCELLED, State.EXPIRED})
EXPIRABLE = frozenset({State.OPEN, State.PAYMENT_PENDING})


class Reason(StrEnum):
    ALL_CONFIRMED = "ALL_CONFIRMED"
    EXPIRED = "EXPIRED"
    CUSTOMER_CANCELLED = "CUSTOMER_CANCELLED"
    PAYMENT_DECLINED = "PAYMENT_DECLINED"
    PAYMENT_MISMATCH = "PAYMENT_MISMATCH"
    HOTEL_REJECTED = "HOTEL_REJECTED"
    FLIGHT_REJECTED = "FLIGHT_REJECTED"
    COMPENSATION_FAILED = "COMPENSATION_FAILED"


@dataclass(frozen=True)
class Money:
    amount: int
    currency: str


class PaymentOutcome(Enum):
    """What the payment provider's own record says about a payment."""

    CAPTURED = "CAPTURED"
    DECLINED = "DECLINED"
    # Captured, but for another total, currency or session: the money goes back.
    MISMATCHED = "MISMATCHED"


@dataclass(frozen=True)
class PaymentReport:
    """A payment as read from the provider: the arbiter still checks it against the session."""

    payment_id: str
    outcome: PaymentOutcome
    amount: Money | None = None
    reference: str = ""


@dataclass(frozen=True)
class HotelStay:
    hold_id: str
    hotel_id: str
    hotel_name: str
    city: str
    check_in: str
    check_out: str
    guests: int
    price: Money
    status: str = "HELD"


@dataclass(frozen=True)
class FlightLeg:
    hold_id: str
    flight_id: str
    number: str
    origin: str
    destination: str
    departure: datetime
    price: Money
    status: str = "HELD"


@dataclass(frozen=True)
class RoundTrip:
    outbound: FlightLeg
    return_leg: FlightLeg
    passengers: int

    @property
    def price(self) -> Money:
        return Money(self.outbound.price.amount + self.return_leg.price.amount, self.outbound.price.currency)


Item = HotelStay | RoundTrip


@dataclass(frozen=True)
class Session:
    id: str
    customer_id: str
    state: State
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    version: int = 0
    hotel: HotelStay | None = None
    flights: RoundTrip | None = None
    reason: str = ""
    payment_id: str = ""
    # The terminal state a running cancellation ends in: EXPIRED for a deadline, else CANCELLED.
    cancel_target: State | None = None

    @property
    def items(self) -> list[Item]:
        return [item for item in (self.hotel, self.flights) if item is not None]

    @property
    def total(self) -> Money | None:
        prices = [item.price for item in self.items]
        if not prices:
            return None
        currencies = {p.currency for p in prices}
        if len(currencies) > 1:
            raise FailedPrecondition(
                "items are priced in different currencies", reason=ErrorReason.CURRENCY_MISMATCH
            )
        return Money(sum(p.amount for p in prices), prices[0].currency)


def parse_session_id(text: str, field_name: str = "id") -> str:
    """Session ids are UUIDs; anything else is a client mistake, not a lookup."""
    try:
        return str(uuid.UUID(text))
    except (ValueError, AttributeError):
        raise InvalidArgument(
            FieldViolation(field_name, "must be a session id (a UUID)"), reason=ErrorReason.INVALID_FIELD
        ) from None


def open_session(session_id: str, customer_id: str, now: datetime, ttl: timedelta) -> Session:
    return Session(
        id=session_id,
        customer_id=customer_id,
        state=State.OPEN,
        created_at=now,
        updated_at=now,
        expires_at=now + ttl,
    )


def as_opened(session: Session) -> Session:
    """The session as open_session made it: what its creation answered, whatever happened since."""
    return open_session(
        session.id, session.customer_id, session.created_at, session.expires_at - session.created_at
    )


def _advance(session: Session, now: datetime, **changes: object) -> Session:
    return replace(session, version=session.version + 1, updated_at=now, **changes)  # type: ignore[arg-type]


def touch(session: Session, now: datetime) -> Session:
    """A write that changes nothing but the version, so a side effect is decided exactly once."""
    return _advance(session, now)


def owned_by(session: Session | None, customer_id: str) -> Session:
    """Someone else's session looks exactly like a missing one."""
    if session is None or session.customer_id != customer_id:
        raise NotFound("session not found", reason=ErrorReason.SESSION_NOT_FOUND)
    return session


def require_open(session: Session, now: datetime) -> Session:
    if session.state is not State.OPEN:
        raise FailedPrecondition(
            f"session is {session.state.value}, not OPEN",
            reason=ErrorReason.SESSION_NOT_OPEN,
            metadata={"session_id": session.id, "state": session.state.value},
        )
    if now >= session.expires_at:
        raise FailedPrecondition(
            "session has passed its deadline",
            reason=ErrorReason.SESSION_EXPIRED,
            metadata={"session_id": session.id},
        )
    return session


def attach(session: Session, item: Item, now: datetime) -> tuple[Session, Item | None]:
    """Attach a held item; returns the session and the item it replaced (whose hold must go)."""
    require_open(session, now)
    if isinstance(item, HotelStay):
        return _advance(session, now, hotel=item), session.hotel
    return _advance(session, now, flights=item), session.flights


def begin_checkout(session: Session, now: datetime) -> Session:
    require_open(session, now)
    if not session.items:
        raise InvalidArgument(
            FieldViolation("id", "session has no items to pay for"), reason=ErrorReason.NOTHING_TO_PAY
        )
    if session.total is None or session.total.amount <= 0:
        raise InvalidArgument(
            FieldViolation("id", "session total must be positive"), reason=ErrorReason.NOTHING_TO_PAY
        )
    return _advance(session, now, state=State.PAYMENT_PENDING)


def reopen_checkout(session: Session, now: datetime) -> Session:
    if session.state is not State.PAYMENT_PENDING or session.payment_id:
        raise FailedPrecondition(
            f"session is {session.state.value} with a payment; cannot reopen",
            reason=ErrorReason.CHECKOUT_NOT_REOPENABLE,
            metadata={"session_id": session.id, "state": session.state.value},
        )
    return _advance(session, now, state=State.OPEN)


def payment_succeeded(session: Session, payment_id: str, now: datetime) -> Session | None:
    """CONFIRMING when the session awaits payment; None means the payment must be refunded."""
    if session.state is State.PAYMENT_PENDING and now < session.expires_at:
        return _advance(session, now, state=State.CONFIRMING, payment_id=payment_id)
    return None


def payment_declined(session: Session, payment_id: str, now: datetime) -> Session | None:
    if session.state is not State.PAYMENT_PENDING:
        return None
    return start_cancelling(session, Reason.PAYMENT_DECLINED, State.CANCELLED, now, payment_id)


def judge_payment(session: Session, report: PaymentReport) -> PaymentOutcome:
    """A capture counts only for the session's exact total, currency and id; anything else is a mismatch."""
    if report.outcome is not PaymentOutcome.CAPTURED:
        return report.outcome
    if report.reference != session.id or report.amount is None or report.amount != session.total:
        return PaymentOutcome.MISMATCHED
    return PaymentOutcome.CAPTURED


def payment_mismatched(session: Session, payment_id: str, now: datetime) -> Session | None:
    """CANCELLING with PAYMENT_MISMATCH while the session awaits payment; None means refund only."""
    if session.state is not State.PAYMENT_PENDING:
        return None
    return start_cancelling(session, Reason.PAYMENT_MISMATCH, State.CANCELLED, now, payment_id)


def captured_payment_to_refund(session: Session) -> str:
    """The captured payment a cancellation must give back: only a mismatched one ever is."""
    return session.payment_id if session.reason == Reason.PAYMENT_MISMATCH.value else ""


def start_cancelling(
    session: Session, reason: Reason, target: State, now: datetime, payment_id: str = ""
) -> Session:
    return _advance(
        session,
        now,
        state=State.CANCELLING,
        reason=reason.value,
        cancel_target=target,
        payment_id=payment_id or session.payment_id,
    )


def expire(session: Session, now: datetime) -> Session | None:
    """CANCELLING towards EXPIRED when the deadline passed; None when there is nothing to do."""
    if session.state not in EXPIRABLE or now < session.expires_at:
        return None
    return start_cancelling(session, Reason.EXPIRED, State.EXPIRED, now)


def customer_cancel(session: Session, now: datetime) -> Session:
    if session.state not in EXPIRABLE:
        raise FailedPrecondition(
            f"session is {session.state.value}; it cannot be cancelled now",
            reason=ErrorReason.SESSION_NOT_CANCELLABLE,
            metadata={"session_id": session.id, "state": session.state.value},
        )
    return start_cancelling(session, Reason.CUSTOMER_CANCELLED, State.CANCELLED, now)


def _confirming(session: Session) -> bool:
    """Confirming, or stopped while confirming and since replayed by an operator."""
    return session.state is State.CONFIRMING or (
        session.state is State.NEEDS_ATTENTION and session.cancel_target is None
    )


def complete(session: Session, now: datetime) -> Session | None:
    if _confirming(session):
        return _advance(session, now, state=State.CONFIRMED, reason=Reason.ALL_CONFIRMED.value)
    return None


def confirmation_failed(session: Session, reason: Reason, now: datetime) -> Session | None:
    """A confirm step was refused for good: the session heads for CANCELLED while the saga compensates."""
    if _confirming(session):
        return start_cancelling(session, reason, State.CANCELLED, now)
    return None


def cancelled(session: Session, now: datetime) -> Session | None:
    """The cancellation (or compensation) saga finished: settle in the target terminal state."""
    if session.state is State.CANCELLING or (
        session.state is State.NEEDS_ATTENTION and session.cancel_target is not None
    ):
        return _advance(session, now, state=session.cancel_target or State.CANCELLED)
    return None


def needs_attention(session: Session, now: datetime) -> Session | None:
    # cancel_target stays as it was: None while confirming, so a replay can still confirm.
    if session.state in (State.CANCELLING, State.CONFIRMING):
        return _advance(session, now, state=State.NEEDS_ATTENTION)
    return None
