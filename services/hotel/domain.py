"""What a valid stay request is. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from kit.error_reasons import ErrorReason
from kit.errors import FieldViolation, InvalidArgument
from services.reservations.validation import check_id, check_not_past, check_party, parse_day

MAX_NIGHTS = 30


@dataclass(frozen=True)
class StayRequest:
    hotel_id: str
    check_in: date
    check_out: date
    guests: int


def validate_stay(hotel_id: str, check_in: str, check_out: str, guests: int, today: date) -> StayRequest:
    violations: list[FieldViolation] = []
    check_id(hotel_id, "hotelId", violations)
    first = parse_day(check_in, "checkIn", violations)
    last = parse_day(check_out, "checkOut", violations)
    check_not_past(first, today, "checkIn", violations)
    if first is not None and last is not None:
        if last <= first:
            violations.append(FieldViolation("checkOut", "must be after checkIn"))
        elif (last - first).days > MAX_NIGHTS:
            violations.append(FieldViolation("checkOut", f"stays are at most {MAX_NIGHTS} nights"))
    check_party(guests, "guests", violations)
    if violations:
        raise InvalidArgument(violations, reason=ErrorReason.INVALID_FIELD)
    assert first is not None and last is not None
    return StayRequest(hotel_id.strip(), first, last, guests)


def validate_search(city: str, check_in: str, check_out: str, guests: int) -> None:
    violations: list[FieldViolation] = []
    if city and (len(city) != 3 or not city.isalpha()):
        violations.append(FieldViolation("city", "must be a 3-letter city code, e.g. LIS"))
    first = parse_day(check_in, "checkIn", violations) if check_in else None
    last = parse_day(check_out, "checkOut", violations) if check_out else None
    if first and last and last <= first:
        violations.append(FieldViolation("checkOut", "must be after checkIn"))
    if guests:
        check_party(guests, "guests", violations)
    if violations:
        raise InvalidArgument(violations, reason=ErrorReason.INVALID_FIELD)
