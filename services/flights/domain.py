"""What a valid round-trip request is, and whether two legs chain. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kit.error_reasons import ErrorReason
from kit.errors import FieldViolation, InvalidArgument
from services.reservations.validation import check_id, check_party, parse_day


@dataclass(frozen=True)
class TripRequest:
    outbound_flight_id: str
    return_flight_id: str
    passengers: int


@dataclass(frozen=True)
class LegInfo:
    flight_id: str
    origin: str
    destination: str
    departure: datetime
    arrival: datetime


def validate_trip(outbound_id: str, return_id: str, passengers: int) -> TripRequest:
    violations: list[FieldViolation] = []
    check_id(outbound_id, "outboundFlightId", violations)
    check_id(return_id, "returnFlightId", violations)
    if outbound_id and outbound_id == return_id:
        violations.append(FieldViolation("returnFlightId", "must differ from outboundFlightId"))
    check_party(passengers, "passengers", violations)
    if violations:
        raise InvalidArgument(violations, reason=ErrorReason.INVALID_FIELD)
    return TripRequest(outbound_id.strip(), return_id.strip(), passengers)


def check_legs(outbound: LegInfo, return_leg: LegInfo, now: datetime) -> None:
    """The return goes back to the origin, after the outbound lands, and nothing has left yet."""
    violations: list[FieldViolation] = []
    if outbound.departure <= now:
        violations.append(FieldViolation("outboundFlightId", "has already departed"))
    if return_leg.origin != outbound.destination or return_leg.destination != outbound.origin:
        violations.append(
            FieldViolation(
                "returnFlightId",
                f"must fly {outbound.destination}->{outbound.origin} to chain with the outbound "
                f"{outbound.origin}->{outbound.destination}",
            )
        )
    if return_leg.departure <= outbound.arrival:
        violations.append(FieldViolation("returnFlightId", "must depart after the outbound lands"))
    if violations:
        raise InvalidArgument(violations, reason=ErrorReason.INVALID_FIELD)


def validate_search(origin: str, destination: str, day: str) -> None:
    violations: list[FieldViolation] = []
    for name, value in (("origin", origin), ("destination", destination)):
        if value and (len(value) != 3 or not value.isalpha()):
            violations.append(FieldViolation(name, "must be a 3-letter city code, e.g. LIS"))
    if day:
        parse_day(day, "date", violations)
    if violations:
        raise InvalidArgument(violations, reason=ErrorReason.INVALID_FIELD)


def flight_number(flight_id: str) -> str:
    """A readable flight number derived from the provider's id, e.g. FL-LIS-MAD-20300201-1 -> TA LISMAD1."""
    parts = flight_id.split("-")
    if len(parts) == 5:
        return f"TA {parts[1]}{parts[2]}{parts[4]}"
    return flight_id
