"""Parsing request bodies and query strings into typed commands; every refusal names its field."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlsplit

from simulated_world.providers.domain.catalog import CITIES, HORIZON_DAYS
from simulated_world.providers.domain.errors import InvalidField
from simulated_world.providers.domain.payments import CURRENCIES, MAX_AMOUNT, PayerChoice

MAX_PARTY = 9
MAX_NIGHTS = 30
MAX_REFERENCE = 200
MAX_PAGE_SIZE = 500
MAX_SEGMENTS = 4
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


@dataclass(frozen=True)
class HotelHoldRequest:
    hotel_id: str
    check_in: date
    check_out: date
    guests: int
    reference: str


@dataclass(frozen=True)
class FlightHoldRequest:
    """Seats on one flight, or on every segment of an itinerary at once (all held or none)."""

    flight_ids: tuple[str, ...]
    passengers: int
    reference: str


@dataclass(frozen=True)
class PaymentRequest:
    amount: int
    currency: str
    reference: str
    webhook_url: str


def text(body: dict[str, Any], name: str, max_length: int = MAX_REFERENCE) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InvalidField(name, f"{name} is required and must be a non-empty string")
    if len(value) > max_length:
        raise InvalidField(name, f"{name} must be at most {max_length} characters")
    return value


def whole_number(body: dict[str, Any], name: str, low: int, high: int) -> int:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidField(name, f"{name} is required and must be an integer")
    if not low <= value <= high:
        raise InvalidField(name, f"{name} must be between {low} and {high}")
    return value


def day(value: Any, name: str) -> date:
    if not isinstance(value, str):
        raise InvalidField(name, f"{name} is required and must be a date YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidField(name, f"{name} must be a date YYYY-MM-DD, got {value!r}") from None


def stay(check_in_raw: Any, check_out_raw: Any, today: date) -> tuple[date, date]:
    """A valid stay: check-in within the bookable horizon, 1 to MAX_NIGHTS nights."""
    check_in, check_out = day(check_in_raw, "checkIn"), day(check_out_raw, "checkOut")
    if check_in < today:
        raise InvalidField("checkIn", f"checkIn must not be before today ({today})")
    if check_in >= today + timedelta(HORIZON_DAYS):
        raise InvalidField("checkIn", f"checkIn must be within {HORIZON_DAYS} days of today")
    if check_out <= check_in:
        raise InvalidField("checkOut", "checkOut must be after checkIn")
    if (check_out - check_in).days > MAX_NIGHTS:
        raise InvalidField("checkOut", f"a stay is at most {MAX_NIGHTS} nights")
    return check_in, check_out


def city(value: Any, name: str) -> str:
    if not isinstance(value, str) or value.upper() not in CITIES:
        raise InvalidField(name, f"{name} must be one of {', '.join(CITIES)}")
    return value.upper()


def hotel_hold(body: dict[str, Any], today: date) -> HotelHoldRequest:
    hotel_id = text(body, "hotelId")
    check_in, check_out = stay(body.get("checkIn"), body.get("checkOut"), today)
    guests = whole_number(body, "guests", 1, MAX_PARTY)
    return HotelHoldRequest(hotel_id, check_in, check_out, guests, text(body, "reference"))


def flight_hold(body: dict[str, Any]) -> FlightHoldRequest:
    if "segments" in body:
        if "flightId" in body:
            raise InvalidField("segments", "give either flightId or segments, not both")
        flight_ids = _segments(body.get("segments"))
    else:
        flight_ids = (text(body, "flightId"),)
    passengers = whole_number(body, "passengers", 1, MAX_PARTY)
    return FlightHoldRequest(flight_ids, passengers, text(body, "reference"))


def _segments(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_SEGMENTS:
        raise InvalidField("segments", f"segments must be a list of 1 to {MAX_SEGMENTS} flights")
    flight_ids = []
    for index, segment in enumerate(value):
        if not isinstance(segment, dict):
            raise InvalidField(f"segments[{index}]", "a segment must be an object with a flightId")
        try:
            flight_ids.append(text(segment, "flightId"))
        except InvalidField as error:
            raise InvalidField(f"segments[{index}].flightId", error.message) from None
    if len(set(flight_ids)) != len(flight_ids):
        raise InvalidField("segments", "a flight may appear in one segment only")
    return tuple(flight_ids)


def payment(body: dict[str, Any]) -> PaymentRequest:
    amount = whole_number(body, "amount", 1, MAX_AMOUNT)
    currency = body.get("currency")
    if not isinstance(currency, str) or currency not in CURRENCIES:
        raise InvalidField("currency", f"currency must be one of {', '.join(sorted(CURRENCIES))}")
    reference = text(body, "reference")
    url = text(body, "webhookUrl", max_length=2000)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidField("webhookUrl", "webhookUrl must be an absolute http(s) URL")
    return PaymentRequest(amount, currency, reference, url)


def outcome(body: dict[str, Any]) -> PayerChoice:
    value = body.get("outcome", PayerChoice.SUCCEED.value)
    try:
        return PayerChoice(value)
    except ValueError:
        raise InvalidField("outcome", "outcome must be 'succeed' or 'decline'") from None


def idempotency_key(value: str | None) -> str | None:
    if value is None:
        return None
    if not _KEY.match(value):
        raise InvalidField("Idempotency-Key", "Idempotency-Key must be 1-255 printable characters")
    return value


@dataclass(frozen=True)
class Page:
    offset: int
    size: int


def page(query: dict[str, str], default_size: int = 50) -> Page:
    """pageSize plus pageToken or offset (the token is the next offset, kept opaque to callers)."""
    size = _query_int(query, "pageSize", default_size, 1, MAX_PAGE_SIZE)
    name = "pageToken" if "pageToken" in query else "offset"
    offset = _query_int(query, name, 0, 0, 10**9)
    return Page(offset, size)


def _query_int(query: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidField(name, f"{name} must be an integer") from None
    if not low <= value <= high:
        raise InvalidField(name, f"{name} must be between {low} and {high}")
    return value


def party(query: dict[str, str], name: str) -> int:
    return _query_int(query, name, 1, 1, MAX_PARTY)
