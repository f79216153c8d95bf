"""A hold the session refuses to attach is released at once: hotel stays, and both legs of a round trip."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kit.errors import Conflict, DependencyUnavailable, FailedPrecondition, InvalidArgument, NotFound
from services.flights.reservations import FlightReservations
from services.hotel.reservations import HotelReservations
from services.provider_client.client import AmbiguousFailure, ProviderRefusal
from tests.fakes.attempt_log import FakeAttemptLog
from tests.fakes.provider_api import FakeProvider
from tests.fakes.session_arbiter import FakeSessionArbiter

NOW = datetime(2031, 1, 1, 9, tzinfo=UTC)
CHECK_IN, CHECK_OUT = "2031-02-01", "2031-02-03"


def flight(
    flight_id: str, origin: str, destination: str, departs: datetime, seats: int = 9
) -> dict[str, Any]:
    return {
        "id": flight_id,
        "origin": origin,
        "destination": destination,
        "date": departs.date().isoformat(),
        "departureTime": departs.replace(tzinfo=None).isoformat(timespec="minutes"),
        "arrivalTime": (departs + timedelta(hours=2)).replace(tzinfo=None).isoformat(timespec="minutes"),
        "price": {"amount": 9_000, "currency": "EUR"},
        "seats": seats,
    }


OUT = flight("FL-LIS-MAD-20310201-1", "LIS", "MAD", NOW + timedelta(days=31))
BACK = flight("FL-MAD-LIS-20310205-1", "MAD", "LIS", NOW + timedelta(days=35))


AMBIGUOUS = AmbiguousFailure("the answer was lost")


def seats(flight: dict[str, Any], passengers: int) -> dict[str, Any]:
    return {"flightId": flight["id"], "passengers": passengers, "reference": "someone-else"}


class World:
    def __init__(self, return_seats: int = 9) -> None:
        back = BACK | {"seats": return_seats}
        self.provider = FakeProvider(flights={OUT["id"]: OUT, BACK["id"]: back}, attempts=2)
        self.arbiter = FakeSessionArbiter(now=NOW)
        self.attempts = FakeAttemptLog()
        self.hotel = HotelReservations(self.provider, self.arbiter, self.attempts, lambda: NOW.date())
        self.flights = FlightReservations(self.provider, self.arbiter, self.attempts, lambda: NOW)
        self.customer = uuid.uuid4().hex

    async def session(self) -> str:
        return await self.arbiter.open_session(self.customer)

    def statuses(self) -> list[str]:
        return [hold["status"] for hold in self.provider.holds.values()]

    async def reserve_stay(self, session_id: str) -> Any:
        return await self.hotel.reserve(self.customer, session_id, "HTL-LIS-01", CHECK_IN, CHECK_OUT, 2)

    async def reserve_trip(self, session_id: str) -> Any:
        return await self.flights.reserve(self.customer, session_id, OUT["id"], BACK["id"], 2)


@pytest.mark.parametrize(
    "refusal",
    [FailedPrecondition("session is PAYMENT_PENDING, not OPEN"), DependencyUnavailable("arbiter down")],
)
async def test_a_stay_the_session_refuses_is_released(refusal: Exception) -> None:
    world = World()
    session_id = await world.session()
    world.arbiter.fail_next("attach", refusal)
    with pytest.raises(type(refusal)):
        await world.reserve_stay(session_id)
    assert world.statuses() == ["CANCELLED"]
    [hold_id] = world.provider.holds
    assert ("POST", f"/holds/{hold_id}/cancel") in world.provider.calls
    # Released for sure: nothing is left for the session's settlement to find.
    assert [a.participant for a in world.attempts.recorded] == ["hotel"]
    assert world.attempts.open == []


async def test_an_attached_stay_keeps_its_hold() -> None:
    world = World()
    session = await world.reserve_stay(await world.session())
    assert world.statuses() == ["HELD"]
    assert [item.hotel.hold_id for item in session.items] == list(world.provider.holds)
    # The arbiter is asked once, to attach; the attempt recorded before the hold stays recorded,
    # named by the hold's key, for the confirm step to account for.
    assert world.arbiter.calls == ["attach"]
    [attempt] = world.attempts.open
    assert world.provider.holds[session.items[0].hotel.hold_id]["idempotencyKey"] == attempt.hold_key()


async def test_an_attached_trip_is_one_hold_of_both_legs_named_by_its_attempt() -> None:
    world = World()
    session = await world.reserve_trip(await world.session())
    assert world.statuses() == ["HELD"]
    assert world.arbiter.calls == ["attach"]
    [attempt] = world.attempts.open
    assert attempt.participant == "flights"
    [(hold_id, hold)] = world.provider.holds.items()
    assert hold["idempotencyKey"] == attempt.hold_key()
    [trip] = [item.flights for item in session.items]
    assert (trip.outbound.hold_id, trip.return_leg.hold_id) == (hold_id, hold_id)
    # Each leg is priced by the provider's segment for its flight, together the hold's amount.
    prices = [leg.price.amount for leg in (trip.outbound, trip.return_leg)]
    assert prices == [segment["amount"] for segment in hold["segments"]]
    assert sum(prices) == hold["amount"] == (OUT["price"]["amount"] + BACK["price"]["amount"]) * 2


async def test_a_trip_reserve_retried_after_a_lost_answer_holds_once() -> None:
    world = World()
    world.provider.fail_next("POST", "/holds", AMBIGUOUS, after_effect=True)
    session = await world.reserve_trip(await world.session())
    [hold_id] = world.provider.holds
    assert world.statuses() == ["HELD"]
    assert {item.flights.outbound.hold_id for item in session.items} == {hold_id}


@pytest.mark.parametrize("kind", ["stay", "trip"])
async def test_someone_elses_session_is_not_found_and_its_holds_are_released(kind: str) -> None:
    world = World()
    session_id = await world.arbiter.open_session(uuid.uuid4().hex)
    with pytest.raises(NotFound):
        await (world.reserve_stay(session_id) if kind == "stay" else world.reserve_trip(session_id))
    assert set(world.statuses()) == {"CANCELLED"}
    assert world.attempts.open == []
    stored = await world.arbiter.store.get(session_id)
    assert stored is not None and (stored.hotel, stored.flights, stored.version) == (None, None, 0)


async def test_a_session_no_longer_open_is_refused_as_such_and_holds_nothing() -> None:
    world = World()
    session_id = await world.session()
    await world.arbiter.arbiter.customer_cancel(session_id, world.customer)
    with pytest.raises(FailedPrecondition, match="not OPEN"):
        await world.reserve_stay(session_id)
    assert world.statuses() == ["CANCELLED"]
    assert world.attempts.open == []


async def test_bad_input_is_refused_before_any_hold_or_record_whoever_owns_the_session() -> None:
    world = World()
    session_id = await world.arbiter.open_session(uuid.uuid4().hex)
    with pytest.raises(InvalidArgument, match="hotelId"):
        await world.hotel.reserve(world.customer, session_id, "HTL-NOWHERE-01", CHECK_IN, CHECK_OUT, 2)
    assert world.provider.holds == {}
    assert world.attempts.recorded == []


async def test_both_legs_are_released_when_the_session_refuses_the_trip() -> None:
    world = World()
    session_id = await world.session()
    world.arbiter.fail_next("attach", Conflict("session is changing too fast; try again"))
    with pytest.raises(Conflict):
        await world.reserve_trip(session_id)
    assert world.statuses() == ["CANCELLED"]
    [hold_id] = world.provider.holds
    assert world.provider.calls.count(("POST", f"/holds/{hold_id}/cancel")) == 1
    assert world.attempts.open == []


async def test_no_leg_is_held_when_the_return_cannot_be_held() -> None:
    world = World(return_seats=1)
    session_id = await world.session()
    with pytest.raises(ProviderRefusal, match="capacity"):
        await world.reserve_trip(session_id)
    assert world.statuses() == []
    assert "attach" not in world.arbiter.calls
    # The hold was refused under its key, so nothing was held: nothing is left to find.
    assert world.attempts.open == []
    # The outbound's seats were never taken: the whole party can still fly it.
    assert (await world.provider.post("/holds", seats(OUT, 9), idempotency_key="other"))["status"] == "HELD"


async def test_a_release_that_fails_now_leaves_the_hold_to_the_closing_saga() -> None:
    world = World()
    session_id = await world.session()
    world.arbiter.fail_next("attach", FailedPrecondition("session has passed its deadline"))
    world.provider.go_down_for("POST", "/cancel")
    with pytest.raises(FailedPrecondition, match="deadline"):
        await world.reserve_stay(session_id)
    assert world.statuses() == ["HELD"]
    # The attempt stays recorded: the session's settlement lists its holds and releases this one.
    assert [(a.session_id, a.participant) for a in world.attempts.open] == [(session_id, "hotel")]


async def test_a_hold_request_that_failed_without_a_refusal_leaves_its_attempt_recorded() -> None:
    world = World()
    session_id = await world.session()
    world.provider.go_down_for("POST", "/holds")
    with pytest.raises(DependencyUnavailable):
        await world.reserve_trip(session_id)
    assert [(a.session_id, a.participant) for a in world.attempts.open] == [(session_id, "flights")]
