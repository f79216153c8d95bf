"""A hold the session refuses to attach is released at once: hotel stays, and both legs of a round trip."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.flights.reservations import FlightReservations
from services.hotel.reservations import HotelReservations
from services.kit.errors import Conflict, DependencyUnavailable, FailedPrecondition
from services.provider_client.client import ProviderRefusal
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


class World:
    def __init__(self, return_seats: int = 9) -> None:
        back = BACK | {"seats": return_seats}
        self.provider = FakeProvider(flights={OUT["id"]: OUT, BACK["id"]: back}, attempts=2)
        self.arbiter = FakeSessionArbiter(now=NOW)
        self.hotel = HotelReservations(self.provider, self.arbiter, lambda: NOW.date())
        self.flights = FlightReservations(self.provider, self.arbiter, lambda: NOW)
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


async def test_an_attached_stay_keeps_its_hold() -> None:
    world = World()
    session = await world.reserve_stay(await world.session())
    assert world.statuses() == ["HELD"]
    assert [item.hotel.hold_id for item in session.items] == list(world.provider.holds)


async def test_both_legs_are_released_when_the_session_refuses_the_trip() -> None:
    world = World()
    session_id = await world.session()
    world.arbiter.fail_next("attach", Conflict("session is changing too fast; try again"))
    with pytest.raises(Conflict):
        await world.reserve_trip(session_id)
    assert world.statuses() == ["CANCELLED", "CANCELLED"]


async def test_the_outbound_leg_is_released_when_the_return_cannot_be_held() -> None:
    world = World(return_seats=1)
    session_id = await world.session()
    with pytest.raises(ProviderRefusal, match="capacity"):
        await world.reserve_trip(session_id)
    assert world.statuses() == ["CANCELLED"]
    assert "attach" not in world.arbiter.calls


async def test_a_release_that_fails_now_leaves_the_hold_to_the_closing_saga() -> None:
    world = World()
    session_id = await world.session()
    world.arbiter.fail_next("attach", FailedPrecondition("session has passed its deadline"))
    world.provider.go_down_for("POST", "/cancel")
    with pytest.raises(FailedPrecondition, match="deadline"):
        await world.reserve_stay(session_id)
    assert world.statuses() == ["HELD"]
