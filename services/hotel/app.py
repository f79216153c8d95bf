"""Composition root of the hotel process."""

from __future__ import annotations

from datetime import UTC, datetime

from travel.hotel.v1 import hotel_pb2_grpc

from kit.access_policy import AccessPolicy
from kit.grpc_server import ServedService
from services.hotel.reservations import HotelReservations
from services.hotel.servicer import PUBLIC_METHODS, SERVICE_NAME, HotelServicer
from services.participant.config import ParticipantConfig
from services.participant.process import ParticipantParts, ParticipantProcess, start_participant_process
from services.provider_client.ports import ProviderApi
from services.reservations.attempts import AttemptLog
from services.sagas.hotel_steps import hotel_handlers
from services.sessions.client import SessionArbiter


def hotel_parts(provider: ProviderApi, arbiter: SessionArbiter, attempts: AttemptLog) -> ParticipantParts:
    servicer = HotelServicer(HotelReservations(provider, arbiter, attempts, lambda: datetime.now(UTC).date()))
    served = ServedService(
        SERVICE_NAME, lambda s: hotel_pb2_grpc.add_HotelServiceServicer_to_server(servicer, s)
    )
    access = AccessPolicy.of(SERVICE_NAME, public=PUBLIC_METHODS)
    return ParticipantParts(served, access, hotel_handlers(provider, attempts))


async def start(config: ParticipantConfig) -> ParticipantProcess:
    return await start_participant_process(config, "hotel", hotel_parts)
