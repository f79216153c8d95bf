"""The sagas the arbiter starts, as routing slips built from a session's items. Pure."""

from __future__ import annotations

from datetime import datetime

from travel.saga.v1 import saga_pb2 as pb

from bus.slip import COMPENSATABLE, RETRIABLE, StepDeclaration, build_slip
from services.sagas.vocabulary import (
    FLIGHTS_CANCEL,
    FLIGHTS_CONFIRM,
    FLIGHTS_RELEASE,
    HOTEL_CANCEL,
    HOTEL_CONFIRM,
    HOTEL_RELEASE,
    PAYMENTS_REFUND,
    SESSIONS_CANCELLED,
    SESSIONS_COMPLETE,
    StepTerm,
)
from services.sessions.domain import HotelStay, Item, RoundTrip, Session, captured_payment_to_refund


def _declare(
    term: StepTerm,
    kind: pb.StepKind.ValueType,
    compensation: StepTerm | None = None,
    arguments: dict[str, str] | None = None,
) -> StepDeclaration:
    """A step of the vocabulary, run by its participant."""
    return StepDeclaration(
        term.name, term.participant, kind, compensation.name if compensation else "", arguments or {}
    )


def _hotel_args(stay: HotelStay) -> dict[str, str]:
    return {"hold_id": stay.hold_id}


def _flight_args(trip: RoundTrip) -> dict[str, str]:
    return {"outbound_hold_id": trip.outbound.hold_id, "return_hold_id": trip.return_leg.hold_id}


def _release_steps(
    keep: set[str] | None = None, participants: set[str] | None = None
) -> list[StepDeclaration]:
    """Release every hold the providers keep for the session, but `keep`; legs first, then the stay.

    Releasing by the session's reference, not only its items, also frees a hold whose reserve
    request was cut off before it could be attached or released.
    """
    kept = ",".join(sorted(keep or ()))
    return [
        _declare(term, RETRIABLE, arguments={"keep": kept})
        for term in (FLIGHTS_RELEASE, HOTEL_RELEASE)
        if participants is None or term.participant in participants
    ]


def _item_holds(session: Session) -> set[str]:
    holds = set()
    if session.hotel is not None:
        holds.add(session.hotel.hold_id)
    if session.flights is not None:
        holds |= {session.flights.outbound.hold_id, session.flights.return_leg.hold_id}
    return holds


def _refund_step(payment_id: str) -> StepDeclaration:
    return _declare(PAYMENTS_REFUND, RETRIABLE, arguments={"payment_id": payment_id})


def _finish_step() -> StepDeclaration:
    return _declare(SESSIONS_CANCELLED, RETRIABLE)


def confirmation_slip(session: Session, now: datetime) -> pb.RoutingSlip:
    """hotel.confirm -> flights.confirm -> sessions.complete; on refusal undo, release, refund, cancel.

    No release step on the way to CONFIRMED: each confirm step first releases its provider's other
    holds for the session when a reserve attempt of the session is still recorded (one cut off
    between its hold and its attach), and the reconciler sweeps attempts recorded later.
    """
    steps = []
    if session.hotel is not None:
        steps.append(_declare(HOTEL_CONFIRM, COMPENSATABLE, HOTEL_CANCEL, _hotel_args(session.hotel)))
    if session.flights is not None:
        steps.append(_declare(FLIGHTS_CONFIRM, COMPENSATABLE, FLIGHTS_CANCEL, _flight_args(session.flights)))
    steps.append(_declare(SESSIONS_COMPLETE, RETRIABLE))
    # Cancels are idempotent at the providers, so releasing what compensation already undid is harmless.
    after = [*_release_steps(), _refund_step(session.payment_id), _finish_step()]
    return build_slip(
        saga_id=f"confirm-{session.id}",
        session_id=session.id,
        kind=pb.SAGA_KIND_CONFIRM,
        steps=steps,
        after_compensation=after,
        now=now,
    )


def cancellation_slip(session: Session, now: datetime) -> pb.RoutingSlip:
    """Release every hold, refund a mismatched capture, then let the arbiter settle the session.

    Otherwise no payment has been captured on this path: a capture that arrives later meets a
    session that is no longer PAYMENT_PENDING and gets its own refund saga.
    """
    refund = captured_payment_to_refund(session)
    steps = [*_release_steps(), *([_refund_step(refund)] if refund else []), _finish_step()]
    return build_slip(
        saga_id=f"cancel-{session.id}",
        session_id=session.id,
        kind=pb.SAGA_KIND_CANCEL,
        steps=steps,
        now=now,
    )


def refund_slip(session_id: str, payment_id: str, now: datetime) -> pb.RoutingSlip:
    """A payment the arbiter refused (it came too late) is given back."""
    return build_slip(
        saga_id=f"refund-{payment_id}",
        session_id=session_id,
        kind=pb.SAGA_KIND_REFUND,
        steps=[_refund_step(payment_id)],
        now=now,
    )


def stray_release_slip(
    session_id: str, items: Session | None, participants: set[str], saga_id: str, now: datetime
) -> pb.RoutingSlip:
    """A settled session's holds that no item points to are released at `participants`' providers:
    what a reserve cut off between its hold and its attach left after the session's own sagas ran."""
    keep = _item_holds(items) if items is not None else set()
    return build_slip(
        saga_id=saga_id,
        session_id=session_id,
        kind=pb.SAGA_KIND_CANCEL,
        steps=_release_steps(keep, participants),
        now=now,
    )


def release_slip(session: Session, item: Item, saga_id: str, now: datetime) -> pb.RoutingSlip:
    """A replaced item's hold is released."""
    if isinstance(item, HotelStay):
        step = _declare(HOTEL_CANCEL, RETRIABLE, arguments=_hotel_args(item))
    else:
        step = _declare(FLIGHTS_CANCEL, RETRIABLE, arguments=_flight_args(item))
    return build_slip(
        saga_id=saga_id,
        session_id=session.id,
        kind=pb.SAGA_KIND_CANCEL,
        steps=[step],
        now=now,
    )
