"""Flight use cases: search the provider's catalog; hold both legs of a round trip as one hold."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from travel.common.v1 import money_pb2
from travel.sessions.v1 import sessions_pb2 as sessions_pb

from kit.error_reasons import ErrorReason
from kit.errors import (
    DependencyUnavailable,
    DomainError,
    FieldViolation,
    InvalidArgument,
    NotFound,
    TransientError,
)
from kit.timestamps import timestamp
from services.flights.domain import LegInfo, check_legs, flight_number, validate_search, validate_trip
from services.provider_client.client import provider_path
from services.provider_client.ports import ProviderApi
from services.reservations.attempts import AttemptLog, ReserveAttempt
from services.reservations.recent_catalog import RecentCatalog
from services.sagas.vocabulary import FLIGHTS_CONFIRM
from services.sessions.client import SessionArbiter

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
    def __init__(
        self,
        provider: ProviderApi,
        arbiter: SessionArbiter,
        attempts: AttemptLog,
        now: Callable[[], datetime],
        catalog: RecentCatalog | None = None,
    ) -> None:
        self._provider = provider
        self._arbiter = arbiter
        self._attempts = attempts
        self._now = now
        self._catalog = catalog or RecentCatalog()

    async def search(self, origin: str, destination: str, day: str) -> list[dict[str, Any]]:
        validate_search(origin, destination, day)
        params: dict[str, Any] = {"pageSize": SEARCH_PAGE}
        for name, value in (("origin", origin.upper()), ("destination", destination.upper()), ("date", day)):
            if value:
                params[name] = value
        page = await self._provider.get("/flights", params)
        found = list(page.get("items", []))
        self._catalog.remember(found)
        return found

    async def _flight(self, flight_id: str, field: str) -> dict[str, Any]:
        known = self._catalog.get(flight_id)
        if known is not None:
            return known
        try:
            found: dict[str, Any] = await self._provider.get(provider_path("flights", flight_id))
            return found
        except NotFound:
            raise InvalidArgument(
                FieldViolation(field, f"no flight {flight_id!r}"), reason=ErrorReason.UNKNOWN_CATALOG_ITEM
            ) from None

    async def reserve(
        self, customer_id: str, session_id: str, outbound_id: str, return_id: str, passengers: int
    ) -> sessions_pb.Session:
        # The session is judged once, by AttachItem in its own transaction: a session the caller
        # cannot change gets both legs released at once and the arbiter's refusal as the answer.
        trip = validate_trip(outbound_id, return_id, passengers)
        outbound = await self._flight(trip.outbound_flight_id, "outboundFlightId")
        back = await self._flight(trip.return_flight_id, "returnFlightId")
        check_legs(leg_info(outbound), leg_info(back), self._now())
        # Recorded before any leg is held: if this request is cut off before it attaches or
        # releases the legs, whoever settles the session finds the record and frees them.
        attempt = await self._attempts.record(session_id, FLIGHTS_CONFIRM.participant)
        held: list[tuple[str, str]] = []
        # A hold request that failed without a refusal may have held both legs unknown to us.
        unknown = False
        try:
            # Both legs in one hold under one key, held together or not at all; the key names the
            # attempt, so the confirm step accounts for it by the hold it confirms.
            key = attempt.hold_key()
            unknown = True
            hold = await self._provider.post(
                "/holds",
                {
                    "segments": [{"flightId": outbound["id"]}, {"flightId": back["id"]}],
                    "passengers": trip.passengers,
                    "reference": session_id,
                },
                idempotency_key=key,
            )
            unknown = False
            held.append((hold["id"], key))
            out_leg, back_leg = (self._leg_message(flight, hold) for flight in (outbound, back))
            item = sessions_pb.Item(
                flights=sessions_pb.RoundTrip(
                    outbound=out_leg, return_leg=back_leg, passengers=trip.passengers
                )
            )
            attached = await self._arbiter.attach(session_id, customer_id, item)
        except DomainError:
            # A refusal under the key means nothing was held; a hold made before the failure is
            # released at once.
            await self._release(attempt, held, unknown=False)
            raise
        except TransientError:
            await self._release(attempt, held, unknown=unknown)
            raise
        # Attached: the record stays until the confirm step, which matches it to the hold it confirms.
        return attached.session

    async def _release(self, attempt: ReserveAttempt, held: list[tuple[str, str]], unknown: bool) -> None:
        """Release what was held; the attempt is settled only if nothing can be left at the provider."""
        released = [await self._provider.release_hold(hold_id, key) for hold_id, key in held]
        if all(released) and not unknown:
            await self._attempts.settle(attempt)

    @staticmethod
    def _leg_message(flight: dict[str, Any], hold: dict[str, Any]) -> sessions_pb.FlightLeg:
        """The leg as the session keeps it: both legs name the one hold, each priced by its segment."""
        info = leg_info(flight)
        segment = _segment_of(hold, flight["id"])
        return sessions_pb.FlightLeg(
            hold_id=hold["id"],
            flight_id=flight["id"],
            number=flight_number(flight["id"]),
            origin=info.origin,
            destination=info.destination,
            departure=timestamp(info.departure),
            price=money_pb2.Money(amount=int(segment["amount"]), currency=segment["currency"]),
            status=hold["status"],
        )


def _segment_of(hold: dict[str, Any], flight_id: str) -> dict[str, Any]:
    """The hold's segment for `flight_id`: the price of a leg is the provider's, never the catalog's."""
    for segment in hold.get("segments") or ():
        if segment.get("flightId") == flight_id:
            return dict(segment)
    # Not what was asked for: released as any failed hold, and the request may be retried.
    raise DependencyUnavailable(f"the provider's hold {hold.get('id')} has no segment for {flight_id}")
