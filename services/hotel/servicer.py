"""gRPC entry point of the hotel service."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format
from travel.hotel.v1 import hotel_pb2 as pb
from travel.hotel.v1 import hotel_pb2_grpc

from kit.auth import current_caller
from services.hotel.reservations import HotelReservations

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["HotelService"].full_name
PUBLIC_METHODS = (f"/{SERVICE_NAME}/SearchHotels",)


def _hotel_message(item: dict[str, Any]) -> pb.Hotel:
    available = item.get("roomsAvailable", item.get("roomsPerNight", 0))
    return pb.Hotel(
        id=item["id"],
        name=item.get("name", ""),
        city=item.get("city", ""),
        nightly_price=json_format.ParseDict(item["nightlyPrice"], pb.Hotel().nightly_price),
        available=int(available),
        stars=int(item.get("stars", 0)),
    )


class HotelServicer(hotel_pb2_grpc.HotelServiceServicer):
    def __init__(self, reservations: HotelReservations) -> None:
        self._reservations = reservations

    async def SearchHotels(self, request: pb.SearchHotelsRequest, context: Any) -> pb.SearchHotelsResponse:
        items = await self._reservations.search(
            request.city, request.check_in, request.check_out, request.guests
        )
        return pb.SearchHotelsResponse(hotels=[_hotel_message(item) for item in items])

    async def ReserveHotel(self, request: pb.ReserveHotelRequest, context: Any) -> pb.ReserveHotelResponse:
        session = await self._reservations.reserve(
            current_caller().subject,
            request.session_id,
            request.hotel_id,
            request.check_in,
            request.check_out,
            request.guests,
        )
        return pb.ReserveHotelResponse(session=session)
