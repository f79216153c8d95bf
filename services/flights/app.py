"""Composition root of the flights process."""

from __future__ import annotations

from datetime import UTC, datetime

from travel.flights.v1 import flights_pb2_grpc

from services.booking.config import BookingConfig
from services.booking.process import BookingParts, BookingProcess, start_booking_process
from services.booking.provider_client import ProviderClient
from services.flights.reservations import FlightReservations
from services.flights.saga_steps import flight_handlers
from services.flights.servicer import PUBLIC_METHODS, SERVICE_NAME, FlightsServicer
from services.kit.grpc_server import ServedService
from services.sessions.client import ArbiterClient


def flights_parts(provider: ProviderClient, arbiter: ArbiterClient) -> BookingParts:
    servicer = FlightsServicer(FlightReservations(provider, arbiter, lambda: datetime.now(UTC)))
    served = ServedService(
        SERVICE_NAME, lambda s: flights_pb2_grpc.add_FlightsServiceServicer_to_server(servicer, s)
    )
    return BookingParts(served, PUBLIC_METHODS, flight_handlers(provider))


async def start(config: BookingConfig) -> BookingProcess:
    return await start_booking_process(config, "flights", flights_parts)
