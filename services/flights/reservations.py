"""Flight use cases: search the provider's catalog; hold both legs of a round trip, both or neither."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from travel.common.v1 import money_pb2
from travel.sessions.v1 import sessions_pb2 as sessions_pb

from services.flights.domain import LegInfo, check_legs, flight_number, validate_search, validate_trip
from services.kit.errors import DomainError, FieldViolation, InvalidArgument, NotFound, TransientError
from services.provider_client.client import provider_path
from services.provider_client.ports import ProviderApi
from services.sessions.client import SessionArbiter
from services.sessions.messages import timestamp

SEARCH_PAGE = 50


def leg_info(flight: dict[str, Any]) -> LegInfo:
    departure = datetime.fromisoformat(flight["departureTime"]).replace(tzinfo=UTC)
    arrival = (
        datetime.fromisoformat(flight["arrivalTime"]).replace(tzinfo=UTC)
        if flight.get("arrivalTime")
        else departure + timedelta(minutes=int(flight.get("durationMinutes", 0)))
    )
    return LegInfo(flight["id"], flight["origin"], flight["destination"], departure, arrival)


class FlightReservations:
    def __init__(self, provider: ProviderApi, arbiter: SessionArbiter, now: Callable[[], datetime]) -> None:
        self._provider = provider
        self._arbiter = arbiter
        self._now = now

    async def search(self, origin: str, destination: str, day: str) -> list[dict[str, Any]]:
        validate_search(origin, destination, day)
        params: dict[str, Any] = {"pageSize": SEARCH_PAGE}
        for name, value in (("origin", origin.upper()), ("destination", destination.upper()), ("date", day)):
            if value:
                params[name] = value
        page = await self._provider.get("/flights", params)
        return list(page.get("items", []))

    async def _flight(self, flight_id: str, field: str) -> dict[str, Any]:
        try:
            found: dict[str, Any] = await self._provider.get(provider_path("flights", flight_id))
            return found
        except NotFound:
            raise InvalidArgument(FieldViolation(field, f"no flight {flight_id!r}")) from None

    async def reserve(
        self, customer_id: str, session_id: str, outbound_id: str, return_id: str, passengers: int
    ) -> sessions_pb.Session:
        # The session first: a session the caller cannot change is refused as such, whatever it asks.
        await self._arbiter.authorize_item_change(session_id, customer_id)
        trip = validate_trip(outbound_id, return_id, passengers)
        outbound = await self._flight(trip.outbound_flight_id, "outboundFlightId")
        back = await self._flight(trip.return_flight_id, "returnFlightId")
        check_legs(leg_info(outbound), leg_info(back), self._now())
        key = f"{session_id}:flights:{uuid.uuid4().hex}"
        held: list[tuple[str, str]] = []
        try:
            legs = []
            for name, flight in (("outbound", outbound), ("return", back)):
                leg_key = f"{key}:{name}"
                hold = await self._provider.post(
                    "/holds",
                    {"flightId": flight["id"], "passengers": trip.passengers, "reference": session_id},
                    idempotency_key=leg_key,
                )
                held.append((hold["id"], leg_key))
                legs.append(self._leg_message(flight, hold))
            item = sessions_pb.Item(
                flights=sessions_pb.RoundTrip(
                    outbound=legs[0], return_leg=legs[1], passengers=trip.passengers
                )
            )
            attached = await self._arbiter.attach(session_id, customer_id, item)
        except (DomainError, TransientError):
            # Both or neither: a leg held before the failure is released at once.
            for hold_id, leg_key in held:
                await self._provider.release_hold(hold_id, leg_key)
            raise
        return attached.session

    @staticmethod
    def _leg_message(flight: dict[str, Any], hold: dict[str, Any]) -> sessions_pb.FlightLeg:
        info = leg_info(flight)
        return sessions_pb.FlightLeg(
            hold_id=hold["id"],
            flight_id=flight["id"],
            number=flight_number(flight["id"]),
            origin=info.origin,
            destination=info.destination,
            departure=timestamp(info.departure),
            price=money_pb2.Money(amount=int(hold["amount"]), currency=hold["currency"]),
            status=hold["status"],
        )
