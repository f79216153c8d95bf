"""Composition root of the payments process."""

from __future__ import annotations

from datetime import UTC, datetime

from travel.payments.v1 import payments_pb2_grpc

from services.booking.process import BookingParts, BookingProcess, start_booking_process
from services.booking.provider_client import ProviderClient
from services.kit.db import create_schema, make_engine
from services.kit.grpc_server import ServedService
from services.payments.checkout import Payments
from services.payments.config import PaymentsConfig
from services.payments.repository import PaymentRepository, metadata
from services.payments.saga_steps import payment_handlers
from services.payments.servicer import SERVICE_NAME, PaymentsServicer
from services.sessions.client import ArbiterClient


async def start(config: PaymentsConfig) -> BookingProcess:
    engine = make_engine(config.database_url, config.schema)
    await create_schema(engine, config.schema, metadata)

    def parts(provider: ProviderClient, arbiter: ArbiterClient) -> BookingParts:
        payments = Payments(
            PaymentRepository(engine), provider, arbiter, config.webhook_url, lambda: datetime.now(UTC)
        )
        servicer = PaymentsServicer(payments)
        served = ServedService(
            SERVICE_NAME, lambda s: payments_pb2_grpc.add_PaymentsServiceServicer_to_server(servicer, s)
        )
        return BookingParts(served, (), payment_handlers(provider), cleanups=[engine.dispose])

    return await start_booking_process(config.booking, "payments", parts)
