"""Composition root of the hotel process."""

from __future__ import annotations

from datetime import UTC, datetime

from travel.hotel.v1 import hotel_pb2_grpc

from services.booking.config import BookingConfig
from services.booking.process import BookingParts, BookingProcess, start_booking_process
from services.booking.provider_client import ProviderClient
from services.hotel.reservations import HotelReservations
from services.hotel.saga_steps import hotel_handlers
from services.hotel.servicer import PUBLIC_METHODS, SERVICE_NAME, HotelServicer
from services.kit.grpc_server import ServedService
from services.sessions.client import ArbiterClient


def hotel_parts(provider: ProviderClient, arbiter: ArbiterClient) -> BookingParts:
    servicer = HotelServicer(HotelReservations(provider, arbiter, lambda: datetime.now(UTC).date()))
    served = ServedService(
        SERVICE_NAME, lambda s: hotel_pb2_grpc.add_HotelServiceServicer_to_server(servicer, s)
    )
    return BookingParts(served, PUBLIC_METHODS, hotel_handlers(provider))


async def start(config: BookingConfig) -> BookingProcess:
    return await start_booking_process(config, "hotel", hotel_parts)
