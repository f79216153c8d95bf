"""The JSON shapes the providers answer with: holds, catalog items, payments, pages and errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from simulated_world.providers.domain.catalog import CITIES, CURRENCY, Flight, Hotel
from simulated_world.providers.domain.holds import Hold, Segment
from simulated_world.providers.domain.payments import Payment


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid4().hex[:24]}"


def timestamp(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def money(amount: int) -> dict[str, Any]:
    return {"amount": amount, "currency": CURRENCY}


def hold(h: Hold, window: timedelta) -> dict[str, Any]:
    body: dict[str, Any] = {"id": h.id, "kind": h.kind, "status": h.status.value, "reference": h.reference}
    if h.kind == "hotel":
        check_out = h.last_day + timedelta(1)
        body |= {
            "hotelId": h.item_id,
            "checkIn": h.first_day.isoformat(),
            "checkOut": check_out.isoformat(),
            "nights": (check_out - h.first_day).days,
            "guests": h.party_size,
            "rooms": h.quantity,
        }
    else:
        # Every flight hold lists its flights as segments, one for a single-flight hold, each with its price.
        segments = h.segments or (Segment(h.item_id, h.first_day, h.quantity, h.amount),)
        body |= {
            "flightId": h.item_id,
            "date": h.first_day.isoformat(),
            "passengers": h.party_size,
            "segments": [
                {
                    "flightId": s.item_id,
                    "date": s.day.isoformat(),
                    "passengers": s.quantity,
                    "amount": s.amount,
                    "currency": h.currency,
                }
                for s in segments
            ],
        }
    return body | {
        "amount": h.amount,
        "currency": h.currency,
        "createdAt": timestamp(h.created_at),
        "expiresAt": timestamp(h.expires_at(window)),
        "confirmedAt": timestamp(h.confirmed_at),
        "cancelledAt": timestamp(h.cancelled_at),
        "idempotencyKey": h.idempotency_key,
    }


def hotel(h: Hotel) -> dict[str, Any]:
    return {
        "id": h.id,
        "name": h.name,
        "city": h.city,
        "cityName": CITIES[h.city],
        "stars": h.stars,
        "nightlyPrice": money(h.nightly_price),
        "roomsPerNight": h.rooms_per_night,
    }


def flight(f: Flight, taken: int) -> dict[str, Any]:
    departure = datetime.combine(f.day, f.departure)
    arrival = departure + timedelta(minutes=f.duration_minutes)
    return {
        "id": f.id,
        "origin": f.origin,
        "destination": f.destination,
        "date": f.day.isoformat(),
        "departureTime": departure.isoformat(timespec="minutes"),
        "arrivalTime": arrival.isoformat(timespec="minutes"),
        "durationMinutes": f.duration_minutes,
        "price": money(f.price),
        "seats": f.seats,
        "seatsAvailable": f.seats - taken,
    }


def payment(p: Payment, base_url: str) -> dict[str, Any]:
    return {
        "id": p.id,
        "status": p.status.value,
        "reference": p.reference,
        "amount": p.amount,
        "currency": p.currency,
        "webhookUrl": p.webhook_url,
        "checkoutUrl": f"{base_url}/payments/{p.id}/checkout",
        "createdAt": timestamp(p.created_at),
        "completedAt": timestamp(p.completed_at),
        "refundedAt": timestamp(p.refunded_at),
    }


def page(items: list[Any], offset: int, size: int, total: int) -> dict[str, Any]:
    following = offset + len(items)
    return {
        "items": items,
        "total": total,
        "nextPageToken": str(following) if following < total and items else None,
    }
