"""Hotel and flight use cases: search, pre-reserve, confirm, cancel (also by key), get and list."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from typing import Any

from kit.database import Connection
from simulated_world.providers import representations as present
from simulated_world.providers.clock import Clock
from simulated_world.providers.domain import requests
from simulated_world.providers.domain.catalog import CURRENCY, Catalog
from simulated_world.providers.domain.errors import InvalidField, RequestRefused, ResourceNotFound
from simulated_world.providers.domain.holds import (
    Hold,
    HoldStatus,
    Segment,
    cancel_decision,
    confirm_decision,
    days_between,
    rooms_for,
    stay_price,
)
from simulated_world.providers.store import capacity, holds
from simulated_world.providers.store.idempotency import EffectOutcome, hold_created_with

_CAS_ATTEMPTS = 5


class Booking:
    """Holds on one catalog kind ("hotel" or "flight"); every effect runs on the caller's transaction."""

    def __init__(self, kind: str, catalog: Catalog, clock: Clock, window: timedelta) -> None:
        self.kind = kind
        self.catalog = catalog
        self.clock = clock
        self.window = window

    def today(self) -> date:
        return self.clock.now().date()

    # Catalog

    def search_hotels(self, conn: Connection, query: dict[str, str], page: requests.Page) -> dict[str, Any]:
        city = requests.city(query["city"], "city") if query.get("city") else None
        found = self.catalog.hotels(city)
        items = [present.hotel(h) for h in found[page.offset : page.offset + page.size]]
        if query.get("checkIn") or query.get("checkOut"):
            check_in, check_out = requests.stay(query.get("checkIn"), query.get("checkOut"), self.today())
            guests = requests.party(query, "guests")
            for item in items:
                item |= self._stay_offer(conn, item["id"], check_in, check_out, guests)
        return present.page(items, page.offset, page.size, len(found))

    def hotel(self, conn: Connection, hotel_id: str, query: dict[str, str]) -> dict[str, Any]:
        found = self.catalog.hotel(hotel_id)
        if found is None:
            raise ResourceNotFound(f"no hotel {hotel_id!r}", "HOTEL_NOT_FOUND")
        item = present.hotel(found)
        if query.get("checkIn") or query.get("checkOut"):
            check_in, check_out = requests.stay(query.get("checkIn"), query.get("checkOut"), self.today())
            guests = requests.party(query, "guests")
            item |= self._stay_offer(conn, hotel_id, check_in, check_out, guests)
        return item

    def _stay_offer(
        self, conn: Connection, hotel_id: str, check_in: date, check_out: date, guests: int
    ) -> dict[str, Any]:
        found = self.catalog.hotel(hotel_id)
        assert found is not None
        nights = days_between(check_in, check_out - timedelta(1))
        taken = capacity.taken(conn, [(hotel_id, n) for n in nights])
        free = min(found.rooms_per_night - taken.get((hotel_id, n), 0) for n in nights)
        rooms = rooms_for(guests)
        return {
            "checkIn": check_in.isoformat(),
            "checkOut": check_out.isoformat(),
            "guests": guests,
            "rooms": rooms,
            "roomsAvailable": free,
            "available": free >= rooms,
            "totalPrice": present.money(stay_price(found.nightly_price, rooms, len(nights))),
        }

    def search_flights(self, conn: Connection, query: dict[str, str], page: requests.Page) -> dict[str, Any]:
        origin = requests.city(query["origin"], "origin") if query.get("origin") else None
        destination = requests.city(query["destination"], "destination") if query.get("destination") else None
        day = requests.day(query["date"], "date") if query.get("date") else None
        today = self.today()
        found = self.catalog.flights(today, origin, destination, day)
        chosen = list(itertools.islice(found, page.offset, page.offset + page.size))
        total = page.offset + len(chosen) + sum(1 for _ in found)
        taken = capacity.taken(conn, [(f.id, f.day) for f in chosen])
        items = [present.flight(f, taken.get((f.id, f.day), 0)) for f in chosen]
        return present.page(items, page.offset, page.size, total)

    def flight(self, conn: Connection, flight_id: str) -> dict[str, Any]:
        found = self.catalog.flight(flight_id, self.today())
        if found is None:
            raise ResourceNotFound(f"no flight {flight_id!r} in the next days", "FLIGHT_NOT_FOUND")
        taken = capacity.taken(conn, [(found.id, found.day)])
        return present.flight(found, taken.get((found.id, found.day), 0))

    # Holds

    def pre_reserve(self, conn: Connection, body: dict[str, Any], key: str | None) -> EffectOutcome:
        now = self.clock.now()
        if self.kind != "hotel":
            return self._hold_seats(conn, requests.flight_hold(body), key, now)
        stay = requests.hotel_hold(body, now.date())
        hotel = self.catalog.hotel(stay.hotel_id)
        if hotel is None:
            raise ResourceNotFound(f"no hotel {stay.hotel_id!r}", "HOTEL_NOT_FOUND")
        rooms, last_night = rooms_for(stay.guests), stay.check_out - timedelta(1)
        nights = days_between(stay.check_in, last_night)
        hold = Hold(
            present.new_id("hold"), "hotel", HoldStatus.HELD, stay.reference, hotel.id,
            rooms, stay.guests, stay.check_in, last_night,
            stay_price(hotel.nightly_price, rooms, len(nights)), CURRENCY, now,
            idempotency_key=key,
        )  # fmt: skip
        if not capacity.take(conn, hold.item_id, hold.days(), hotel.rooms_per_night, hold.quantity):
            raise RequestRefused(f"not enough capacity left on {hold.item_id}", "NO_AVAILABILITY")
        holds.insert(conn, hold)
        return EffectOutcome(201, present.hold(hold, self.window), hold.id)

    def _hold_seats(
        self, conn: Connection, seats: requests.FlightHoldRequest, key: str | None, now: datetime
    ) -> EffectOutcome:
        """Seats on every flight asked for, in this one transaction: a flight short of seats rolls
        back the seats taken on the others, so an itinerary is held whole or not at all."""
        flights = []
        for flight_id in seats.flight_ids:
            flight = self.catalog.flight(flight_id, now.date())
            if flight is None:
                raise ResourceNotFound(f"no flight {flight_id!r} in the next days", "FLIGHT_NOT_FOUND")
            flights.append(flight)
        # Counters are taken in one global order, so two itineraries sharing flights cannot deadlock.
        for flight in sorted(flights, key=lambda f: (f.id, f.day)):
            if not capacity.take(conn, flight.id, [flight.day], flight.seats, seats.passengers):
                raise RequestRefused(f"not enough capacity left on {flight.id}", "NO_AVAILABILITY")
        segments = (
            tuple(Segment(f.id, f.day, seats.passengers, f.price * seats.passengers) for f in flights)
            if len(flights) > 1
            else ()
        )
        first = flights[0]
        hold = Hold(
            present.new_id("hold"), "flight", HoldStatus.HELD, seats.reference, first.id,
            seats.passengers, seats.passengers, min(f.day for f in flights), max(f.day for f in flights),
            sum(f.price for f in flights) * seats.passengers, CURRENCY, now,
            idempotency_key=key, segments=segments,
        )  # fmt: skip
        holds.insert(conn, hold)
        return EffectOutcome(201, present.hold(hold, self.window), hold.id)

    def get(self, conn: Connection, hold_id: str) -> dict[str, Any]:
        return present.hold(self._existing(conn, hold_id), self.window)

    def list(self, conn: Connection, query: dict[str, str], page: requests.Page) -> dict[str, Any]:
        status = None
        if query.get("status"):
            try:
                status = HoldStatus(query["status"].upper())
            except ValueError:
                raise InvalidField("status", "status must be HELD, CONFIRMED or CANCELLED") from None
        found, total = holds.page(conn, query.get("reference") or None, status, page.offset, page.size)
        return present.page([present.hold(h, self.window) for h in found], page.offset, page.size, total)

    def confirm(self, conn: Connection, hold_id: str) -> EffectOutcome:
        for _ in range(_CAS_ATTEMPTS):
            hold = self._existing(conn, hold_id)
            now = self.clock.now()
            if not confirm_decision(hold, now, self.window):
                return EffectOutcome(200, present.hold(hold, self.window), hold.id)
            if holds.change_status(conn, hold, HoldStatus.CONFIRMED, now):
                return EffectOutcome(200, self.get(conn, hold_id), hold.id)
        raise RequestRefused(f"hold {hold_id} keeps changing; try again", "HOLD_BUSY")

    def cancel(self, conn: Connection, hold_id: str) -> EffectOutcome:
        for _ in range(_CAS_ATTEMPTS):
            hold = self._existing(conn, hold_id)
            if not cancel_decision(hold):
                return EffectOutcome(200, present.hold(hold, self.window), hold.id)
            if holds.change_status(conn, hold, HoldStatus.CANCELLED, self.clock.now()):
                # The status change and the release commit together, so capacity is freed once.
                for item_id, days, quantity in hold.taken():
                    capacity.release(conn, item_id, days, quantity)
                return EffectOutcome(200, self.get(conn, hold_id), hold.id)
        raise RequestRefused(f"hold {hold_id} keeps changing; try again", "HOLD_BUSY")

    def cancel_by_key(self, conn: Connection, key: str) -> EffectOutcome:
        """Cancel the hold created with this pre-reserve key, or leave a tombstone that blocks it."""
        hold_id = hold_created_with(conn, key, self.clock)
        if hold_id is None:
            body = {"idempotencyKey": key, "status": "CANCELLED", "tombstone": True, "hold": None}
            return EffectOutcome(200, body)
        cancelled = self.cancel(conn, hold_id)
        body = {"idempotencyKey": key, "status": "CANCELLED", "tombstone": False, "hold": cancelled.body}
        return EffectOutcome(200, body, hold_id)

    def _existing(self, conn: Connection, hold_id: str) -> Hold:
        hold = holds.get(conn, hold_id)
        if hold is None or hold.kind != self.kind:
            raise ResourceNotFound(f"no hold {hold_id!r}", "HOLD_NOT_FOUND")
        return hold
