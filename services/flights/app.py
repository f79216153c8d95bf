"""Composition root of the flights process."""

from __future__ import annotations

from datetime import UTC, datetime

from travel.flights.v1 import flights_pb2_grpc

from kit.access_policy import AccessPolicy
from kit.grpc_server import ServedService
from services.flights.reservations import FlightReservations
from services.flights.servicer import PUBLIC_METHODS, SERVICE_NAME, FlightsServicer
from services.participant.config import ParticipantConfig
from services.participant.process import ParticipantParts, ParticipantProcess, start_participant_process
from services.provider_client.ports import ProviderApi
from services.reservations.attempts import AttemptLog
from services.sagas.flights_steps import flight_handlers
from services.sessions.client import SessionArbiter


def flights_parts(provider: ProviderApi, arbiter: SessionArbiter, attempts: AttemptLog) -> ParticipantParts:
    servicer = FlightsServicer(FlightReservations(provider, arbiter, attempts, lambda: datetime.now(UTC)))
    served = ServedService(
        SERVICE_NAME, lambda s: flights_pb2_grpc.add_FlightsServiceServicer_to_server(servicer, s)
    )
    access = AccessPolicy.of(SERVICE_NAME, public=PUBLIC_METHODS)
    return ParticipantParts(served, access, flight_handlers(provider, attempts))


async def start(config: ParticipantConfig) -> ParticipantProcess:
    return await start_participant_process(config, "flights", flights_parts)
