"""The slips the arbiter builds: steps, order, what is undone and what is released."""

from datetime import UTC, datetime, timedelta

from bus.slip import compensation_plan, start_compensation
from services.sagas import definitions as sagas
from services.sessions import domain
from services.sessions.domain import FlightLeg, HotelStay, Money, RoundTrip
from tools.bus_scaling import CONFIRM_SAGA_HOPS

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


def test_confirmation_confirms_then_completes_without_a_release_hop() -> None:
    slip = sagas.confirmation_slip(paid_session(), T0)
    assert [s.name for s in slip.itinerary] == ["hotel.confirm", "flights.confirm", "sessions.complete"]
    assert slip.itinerary[0].arguments["hold_id"] == "h1"
    assert slip.itinerary[1].arguments["outbound_hold_id"] == "f1"


def test_a_stray_release_keeps_the_settled_sessions_items_at_the_participants_named() -> None:
    slip = sagas.stray_release_slip("s1", paid_session(), {"hotel"}, "strays-1", T0)
    assert [s.name for s in slip.itinerary] == ["hotel.release"]
    assert slip.itinerary[0].arguments["keep"] == "f1,f2,h1"
    both = sagas.stray_release_slip("s9", None, {"hotel", "flights"}, "strays-2", T0)
    assert [s.name for s in both.itinerary] == ["flights.release", "hotel.release"]
    assert both.itinerary[0].arguments["keep"] == ""
    assert (both.saga_id, both.session_id) == ("strays-2", "s9")


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
