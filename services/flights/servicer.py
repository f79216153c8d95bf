"""gRPC entry point of the flights service."""

from __future__ import annotations

from typing import Any

from travel.common.v1 import money_pb2
from travel.flights.v1 import flights_pb2 as pb
from travel.flights.v1 import flights_pb2_grpc

from kit.auth import current_caller
from kit.timestamps import timestamp
from services.flights.domain import flight_number
from services.flights.reservations import FlightReservations, leg_info

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["FlightsService"].full_name
PUBLIC_METHODS = (f"/{SERVICE_NAME}/SearchFlights",)


def _flight_message(item: dict[str, Any]) -> pb.Flight:
    price = item.get("price", {})
    return pb.Flight(
        id=item["id"],
        number=flight_number(item["id"]),
        origin=item["origin"],
        destination=item["destination"],
        departure=timestamp(leg_info(item).departure),
        price=money_pb2.Money(amount=int(price.get("amount", 0)), currency=price.get("currency", "")),
        seats_left=int(item.get("seatsAvailable", 0)),
    )


class FlightsServicer(flights_pb2_grpc.FlightsServiceServicer):
    def __init__(self, reservations: FlightReservations) -> None:
        self._reservations = reservations

    async def SearchFlights(self, request: pb.SearchFlightsRequest, context: Any) -> pb.SearchFlightsResponse:
        items = await self._reservations.search(request.origin, request.destination, request.date)
        return pb.SearchFlightsResponse(flights=[_flight_message(item) for item in items])

    async def ReserveFlights(
        self, request: pb.ReserveFlightsRequest, context: Any
    ) -> pb.ReserveFlightsResponse:
        session = await self._reservations.reserve(
            current_caller().subject,
            request.session_id,
            request.outbound_flight_id,
            request.return_flight_id,
            request.passengers,
        )
        return pb.ReserveFlightsResponse(session=session)
