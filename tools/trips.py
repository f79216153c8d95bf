"""Varied trips for simulated customers, so a long run does not exhaust any hotel or flight. Pure."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

# The providers' catalog: ten cities, four hotels each, two flights a day between every pair.
CITIES = ("LIS", "OPO", "MAD", "BCN", "PAR", "LON", "ROM", "BER", "AMS", "NYC")
HOTELS_PER_CITY = 4
FLIGHT_SLOTS = (1, 2)
# The providers' catalog reaches 120 days ahead; stay clear of both ends (time zones, the return leg).
FIRST_DAY, LAST_DAY = 2, 110


@dataclass(frozen=True)
class Trip:
    home: str
    city: str
    check_in: str
    check_out: str
    guests: int
    hotel_preference: str
    outbound_slot: int
    return_slot: int

    @property
    def outbound_flight(self) -> str:
        return flight_id(self.home, self.city, self.check_in, self.outbound_slot)

    @property
    def return_flight(self) -> str:
        return flight_id(self.city, self.home, self.check_out, self.return_slot)


def flight_id(origin: str, destination: str, day: str, slot: int) -> str:
    return f"FL-{origin}-{destination}-{day.replace('-', '')}-{slot}"


def hotel_id(city: str, number: int) -> str:
    return f"HTL-{city}-{number:02d}"


def random_trip(rng: random.Random, today: date) -> Trip:
    home, city = rng.sample(CITIES, 2)
    start = today + timedelta(days=rng.randint(FIRST_DAY, LAST_DAY))
    end = start + timedelta(days=rng.randint(1, 4))
    return Trip(
        home=home,
        city=city,
        check_in=start.isoformat(),
        check_out=end.isoformat(),
        guests=rng.randint(1, 2),
        hotel_preference=hotel_id(city, rng.randint(1, HOTELS_PER_CITY)),
        outbound_slot=rng.choice(FLIGHT_SLOTS),
        return_slot=rng.choice(FLIGHT_SLOTS),
    )
