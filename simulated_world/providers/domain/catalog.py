"""The seeded demo catalog: cities, hotels per city and daily flights, computed rather than stored."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, time, timedelta

CURRENCY = "EUR"
HORIZON_DAYS = 120

CITIES: dict[str, str] = {
    "LIS": "Lisbon",
    "OPO": "Porto",
    "MAD": "Madrid",
    "BCN": "Barcelona",
    "PAR": "Paris",
    "LON": "London",
    "ROM": "Rome",
    "BER": "Berlin",
    "AMS": "Amsterdam",
    "NYC": "New York",
}

_HOTEL_NAMES = ("Grand", "Riverside", "Old Town", "Harbour", "Central", "Garden")
_HOTEL_KINDS = ("Hotel", "Suites", "Inn", "Palace")
_DEPARTURES = (time(7, 15), time(13, 40), time(19, 5))
_FLIGHT_SLOTS = 2


def _draw(*parts: object) -> int:
    """A stable pseudo-random integer from its parts (Python's hash() is salted per process)."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big")


@dataclass(frozen=True)
class Hotel:
    id: str
    name: str
    city: str
    stars: int
    nightly_price: int
    rooms_per_night: int


@dataclass(frozen=True)
class Flight:
    id: str
    origin: str
    destination: str
    day: date
    departure: time
    duration_minutes: int
    price: int
    seats: int


class Catalog:
    """Every hotel and flight, derived from a seed; flights exist for [today, today + horizon)."""

    def __init__(self, seed: str = "travel", hotels_per_city: int = 4) -> None:
        self.seed = seed
        self._hotels = {h.id: h for h in self._make_hotels(hotels_per_city)}
        self._routes = [(o, d) for o in CITIES for d in CITIES if o != d]

    def _make_hotels(self, per_city: int) -> Iterator[Hotel]:
        for city in CITIES:
            for n in range(1, per_city + 1):
                r = _draw(self.seed, "hotel", city, n)
                stars = 2 + r % 4
                name = f"{_HOTEL_NAMES[r % 6]} {CITIES[city]} {_HOTEL_KINDS[(r >> 8) % 4]}"
                price = (4000 + stars * 2500 + (r >> 16) % 6000) // 100 * 100
                rooms = 6 + (r >> 32) % 25
                yield Hotel(f"HTL-{city}-{n:02d}", name, city, stars, price, rooms)

    # Hotels

    def hotels(self, city: str | None = None) -> list[Hotel]:
        return [h for h in self._hotels.values() if city is None or h.city == city]

    def hotel(self, hotel_id: str) -> Hotel | None:
        return self._hotels.get(hotel_id)

    # Flights

    def flight(self, flight_id: str, today: date) -> Flight | None:
        """The flight with this id, if the id is well formed and its day is within the horizon."""
        parts = flight_id.split("-")
        if len(parts) != 5 or parts[0] != "FL":
            return None
        _, origin, destination, day_text, slot_text = parts
        if origin not in CITIES or destination not in CITIES or origin == destination:
            return None
        try:
            day = date(int(day_text[:4]), int(day_text[4:6]), int(day_text[6:8]))
            slot = int(slot_text)
        except ValueError:
            return None
        if len(day_text) != 8 or not 1 <= slot <= _FLIGHT_SLOTS or not self.in_horizon(day, today):
            return None
        return self._make_flight(origin, destination, day, slot)

    def flights(
        self,
        today: date,
        origin: str | None = None,
        destination: str | None = None,
        day: date | None = None,
    ) -> Iterator[Flight]:
        """Flights matching the filters, ordered by day, route and slot; lazily generated."""
        days = [day] if day is not None else [today + timedelta(n) for n in range(HORIZON_DAYS)]
        routes = [
            (o, d)
            for o, d in self._routes
            if (origin is None or o == origin) and (destination is None or d == destination)
        ]
        for d, (o, dest), slot in itertools.product(days, routes, range(1, _FLIGHT_SLOTS + 1)):
            if self.in_horizon(d, today):
                yield self._make_flight(o, dest, d, slot)

    @staticmethod
    def in_horizon(day: date, today: date) -> bool:
        return today <= day < today + timedelta(HORIZON_DAYS)

    def _make_flight(self, origin: str, destination: str, day: date, slot: int) -> Flight:
        route = _draw(self.seed, "route", min(origin, destination), max(origin, destination))
        daily = _draw(self.seed, "flight", origin, destination, day.isoformat(), slot)
        long_haul = "NYC" in (origin, destination)
        duration = (420 if long_haul else 90) + route % 120
        base = 30000 if long_haul else 5000
        price = (base + route % 9000 + daily % 7000) // 100 * 100 - 1
        departure = _DEPARTURES[(route + slot) % 3 if slot == 1 else (route + slot + 1) % 3]
        seats = 120 + daily % 70
        flight_id = f"FL-{origin}-{destination}-{day:%Y%m%d}-{slot}"
        return Flight(flight_id, origin, destination, day, departure, duration, price, seats)
