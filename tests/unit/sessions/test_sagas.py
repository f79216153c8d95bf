"""The slips the arbiter builds: steps, order, what is undone and what is released."""

from datetime import UTC, datetime, timedelta

from bus.slip import compensation_plan, start_compensation
from operations.bus_scaling import CONFIRM_SAGA_HOPS
from services.sessions import domain, sagas
from services.sessions.domain import FlightLeg, HotelStay, Money, RoundTrip

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def paid_session() -> domain.Session:
    session = domain.open_session("s1", "c1", T0, timedelta(minutes=10))
    stay = HotelStay("h1", "HTL-LIS-01", "Hotel", "LIS", "2030-02-01", "2030-02-03", 2, Money(100, "EUR"))
    leg = FlightLeg("f1", "FL-1", "TA 1", "LIS", "MAD", T0, Money(50, "EUR"))
    trip = RoundTrip(leg, FlightLeg("f2", "FL-2", "TA 2", "MAD", "LIS", T0, Money(50, "EUR")), 2)
    session, _ = domain.attach(session, stay, T0)
    session, _ = domain.attach(session, trip, T0)
    session = domain.begin_checkout(session, T0)
    confirming = domain.payment_succeeded(session, "pay-1", T0)
    assert confirming is not None
    return confirming


def test_a_confirmed_booking_costs_the_hops_the_scaling_model_counts() -> None:
    assert len(sagas.confirmation_slip(paid_session(), T0).itinerary) == CONFIRM_SAGA_HOPS


def test_confirmation_confirms_releases_strays_then_completes() -> None:
    slip = sagas.confirmation_slip(paid_session(), T0)
    assert [s.name for s in slip.itinerary] == [
        "hotel.confirm",
        "flights.confirm",
        "flights.release",
        "hotel.release",
        "sessions.complete",
    ]
    assert slip.itinerary[2].arguments["keep"] == "f1,f2,h1"
    assert slip.itinerary[3].arguments["keep"] == "f1,f2,h1"


def test_refused_flight_undoes_hotel_releases_everything_and_refunds() -> None:
    slip = sagas.confirmation_slip(paid_session(), T0)
    from bus.slip import complete_current

    slip = complete_current(slip, {"hold_id": "h1"}, T0)
    turned = start_compensation(slip, "FLIGHT_REJECTED: HOLD_EXPIRED", T0)
    assert [s.name for s in turned.itinerary] == [
        "hotel.cancel",
        "flights.release",
        "hotel.release",
        "payments.refund",
        "sessions.cancelled",
    ]
    assert turned.itinerary[1].arguments["keep"] == ""
    assert turned.itinerary[3].arguments["payment_id"] == "pay-1"
    assert compensation_plan(slip)[0].arguments["hold_id"] == "h1"


def test_cancellation_releases_everything_for_the_session() -> None:
    session = domain.open_session("s1", "c1", T0, timedelta(minutes=10))
    slip = sagas.cancellation_slip(session, T0)
    assert [s.name for s in slip.itinerary] == ["flights.release", "hotel.release", "sessions.cancelled"]
    assert slip.saga_id == "cancel-s1"
