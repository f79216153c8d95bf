"""Composition root of the payments process."""

from __future__ import annotations

from datetime import UTC, datetime

from travel.payments.v1 import payments_pb2_grpc

from kit.grpc_server import ServedService
from kit.migrations import open_migrated_database
from services.participant.process import ParticipantParts, ParticipantProcess, start_participant_process
from services.payments.access import ACCESS
from services.payments.checkout import Checkout
from services.payments.config import PaymentsConfig
from services.payments.provider_events import ProviderEvents
from services.payments.repository import PaymentRepository
from services.payments.servicer import SERVICE_NAME, PaymentsServicer
from services.provider_client.ports import ProviderApi
from services.reservations.attempts import AttemptLog
from services.sagas.payment_steps import payment_handlers
from services.sessions.client import SessionArbiter


def clock() -> datetime:
    return datetime.now(UTC)


async def start(config: PaymentsConfig) -> ParticipantProcess:
    database = await open_migrated_database(config.database_url, config.schema, "payments")

    def parts(provider: ProviderApi, arbiter: SessionArbiter, _attempts: AttemptLog) -> ParticipantParts:
        repository = PaymentRepository(database)
        checkout = Checkout(repository, provider, arbiter, config.webhook_url, clock)
        servicer = PaymentsServicer(checkout, ProviderEvents(repository, provider, arbiter, clock))
        served = ServedService(
            SERVICE_NAME, lambda s: payments_pb2_grpc.add_PaymentsServiceServicer_to_server(servicer, s)
        )
        return ParticipantParts(served, ACCESS, payment_handlers(provider), cleanups=[database.close])

    return await start_participant_process(config.participant, "payments", parts)
