"""Session items to and from JSON text for storage; pure."""

from __future__ import annotations

import functools
import json
from datetime import datetime
from typing import Any

from services.sessions.domain import FlightLeg, HotelStay, Money, RoundTrip

# Each transition reads a session and writes it back, and items change only when one is attached:
# the same text and the same items come back several times a booking. Both sides are immutable
# (text, frozen dataclasses), so a remembered result is the result.
ITEMS_KEPT = 1024


def _money(data: dict[str, Any]) -> Money:
    return Money(int(data["amount"]), str(data["currency"]))


def _leg(data: dict[str, Any]) -> FlightLeg:
    return FlightLeg(
        hold_id=data["hold_id"],
        flight_id=data["flight_id"],
        number=data["number"],
        origin=data["origin"],
        destination=data["destination"],
        departure=datetime.fromisoformat(data["departure"]),
        price=_money(data["price"]),
        status=data.get("status", "HELD"),
    )


def _leg_dict(leg: FlightLeg) -> dict[str, Any]:
    return {
        "hold_id": leg.hold_id,
        "flight_id": leg.flight_id,
        "number": leg.number,
        "origin": leg.origin,
        "destination": leg.destination,
        "departure": leg.departure.isoformat(),
        "price": {"amount": leg.price.amount, "currency": leg.price.currency},
        "status": leg.status,
    }


@functools.lru_cache(maxsize=ITEMS_KEPT)
def encode_items(hotel: HotelStay | None, flights: RoundTrip | None) -> str:
    data: dict[str, Any] = {}
    if hotel is not None:
        data["hotel"] = {
            "hold_id": hotel.hold_id,
            "hotel_id": hotel.hotel_id,
            "hotel_name": hotel.hotel_name,
            "city": hotel.city,
            "check_in": hotel.check_in,
            "check_out": hotel.check_out,
            "guests": hotel.guests,
            "price": {"amount": hotel.price.amount, "currency": hotel.price.currency},
            "status": hotel.status,
        }
    if flights is not None:
        data["flights"] = {
            "outbound": _leg_dict(flights.outbound),
            "return_leg": _leg_dict(flights.return_leg),
            "passengers": flights.passengers,
        }
    return json.dumps(data, separators=(",", ":"))


@functools.lru_cache(maxsize=ITEMS_KEPT)
def decode_items(text: str) -> tuple[HotelStay | None, RoundTrip | None]:
    data = json.loads(text or "{}")
    hotel = None
    if "hotel" in data:
        h = data["hotel"]
        hotel = HotelStay(
            hold_id=h["hold_id"],
            hotel_id=h["hotel_id"],
            hotel_name=h["hotel_name"],
            city=h["city"],
            check_in=h["check_in"],
            check_out=h["check_out"],
            guests=int(h["guests"]),
            price=_money(h["price"]),
            status=h.get("status", "HELD"),
        )
    flights = None
    if "flights" in data:
        f = data["flights"]
        flights = RoundTrip(
            outbound=_leg(f["outbound"]), return_leg=_leg(f["return_leg"]), passengers=int(f["passengers"])
        )
    return hotel, flights
