"""A reserve of what this process's search just returned asks the provider for the hold only."""

from __future__ import annotations

import uuid

from services.flights.reservations import FlightReservations
from services.hotel.reservations import HotelReservations
from services.reservations.recent_catalog import RecentCatalog
from tests.fakes.attempt_log import FakeAttemptLog
from tests.fakes.provider_api import FakeProvider
from tests.fakes.session_arbiter import FakeSessionArbiter
from tests.unit.reservations.test_refused_attach_release import BACK, CHECK_IN, CHECK_OUT, NOW, OUT


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_an_entry_is_kept_for_its_span_only() -> None:
    clock = Clock()
    catalog = RecentCatalog(seconds=60, capacity=10, clock=clock)
    catalog.remember([{"id": "HTL-1", "name": "Sea"}, {"name": "no id: not kept"}])
    assert catalog.get("HTL-1") == {"id": "HTL-1", "name": "Sea"}
    clock.now = 59.9
    assert catalog.get("HTL-1") is not None
    clock.now = 60.0
    assert catalog.get("HTL-1") is None


def test_the_oldest_entries_go_first_past_the_capacity() -> None:
    catalog = RecentCatalog(seconds=60, capacity=2, clock=Clock())
    catalog.remember([{"id": "a"}, {"id": "b"}, {"id": "c"}])
    assert [catalog.get(key) is not None for key in ("a", "b", "c")] == [False, True, True]


class Shop:
    """Hotel and flight reservations over one fake provider, with a customer's open session."""

    def __init__(self) -> None:
        self.provider = FakeProvider(flights={OUT["id"]: OUT, BACK["id"]: BACK})
        self.arbiter = FakeSessionArbiter(now=NOW)
        self.hotel = HotelReservations(self.provider, self.arbiter, FakeAttemptLog(), lambda: NOW.date())
        self.flights = FlightReservations(self.provider, self.arbiter, FakeAttemptLog(), lambda: NOW)
        self.customer = uuid.uuid4().hex

    async def reserve_trip(self) -> list[tuple[str, str]]:
        """Reserve the round trip; the provider calls that made."""
        session_id = await self.arbiter.open_session(self.customer)
        self.provider.calls.clear()
        await self.flights.reserve(self.customer, session_id, OUT["id"], BACK["id"], 2)
        return self.provider.calls


async def test_a_stay_found_by_a_search_is_held_without_asking_for_the_hotel_again() -> None:
    shop = Shop()
    session_id = await shop.arbiter.open_session(shop.customer)
    [found, *_] = await shop.hotel.search("LIS", CHECK_IN, CHECK_OUT, 2)
    shop.provider.calls.clear()
    await shop.hotel.reserve(shop.customer, session_id, found["id"], CHECK_IN, CHECK_OUT, 2)
    assert [method for method, _ in shop.provider.calls] == ["POST"]


async def test_legs_found_by_a_search_are_held_without_asking_for_them_again() -> None:
    shop = Shop()
    await shop.flights.search("LIS", "MAD", OUT["date"])
    await shop.flights.search("MAD", "LIS", BACK["date"])
    # Both legs in one hold.
    assert await shop.reserve_trip() == [("POST", "/holds")]


async def test_an_entry_no_search_returned_is_read_from_the_provider() -> None:
    shop = Shop()
    await shop.flights.search("LIS", "MAD", OUT["date"])
    calls = await shop.reserve_trip()
    assert ("GET", f"/flights/{BACK['id']}") in calls
    assert ("GET", f"/flights/{OUT['id']}") not in calls
