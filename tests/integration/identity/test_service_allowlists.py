"""Internal RPCs over real gRPC: each accepts only the services it names, never a customer."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
import redis
from travel.payments.v1 import payments_pb2, payments_pb2_grpc
from travel.sessions.v1 import sessions_pb2, sessions_pb2_grpc

from kit.service_identity import ServiceCredentials, dev_service_key
from kit.settings import Env
from kit.signing_keys import new_private_pem
from kit.tokens import TokenIssuer, customer_token_private_key
from services.participant.process import ParticipantProcess
from services.payments.app import start as start_payments
from services.payments.config import PaymentsConfig
from services.sessions.app import SessionsProcess
from services.sessions.app import start as start_sessions
from services.sessions.config import SessionsConfig
from tests.support.databases import migrated

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class System:
    data_dir: Path
    env: Env

    def service_metadata(self, service: str) -> tuple[tuple[str, str], ...]:
        return ServiceCredentials(service, dev_service_key(self.data_dir, service)).metadata()

    def customer_metadata(self, customer_id: str) -> tuple[tuple[str, str], ...]:
        issuer = TokenIssuer(customer_token_private_key(self.env), 600)
        token = issuer.issue(customer_id, now=int(time.time()), token_id=str(uuid.uuid4()))
        return (("authorization", f"Bearer {token}"),)


@pytest.fixture
def system(tmp_path: Path, redis_url: str) -> Iterator[System]:
    namespace = f"ids{uuid.uuid4().hex[:10]}"
    env = Env(
        {
            "TRAVEL_DATA_DIR": str(tmp_path),
            "REDIS_URL": redis_url,
            "TRAVEL_NAMESPACE": namespace,
            "SESSIONS_PORT": "0",
            "PAYMENTS_PORT": "0",
            "GRPC_HOST": "127.0.0.1",
            # Nothing listens there: a call that gets past the access check fails at the provider.
            "PAYMENT_PROVIDER_URL": "http://127.0.0.1:9",
        }
    )
    yield System(tmp_path, env)
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{namespace}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
async def sessions(system: System) -> AsyncIterator[sessions_pb2_grpc.SessionsServiceStub]:
    config = SessionsConfig.from_env(system.env)
    await migrated(config.database_url, config.schema, "sessions")
    process: SessionsProcess = await start_sessions(config)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{process.server.port}") as channel:
        yield sessions_pb2_grpc.SessionsServiceStub(channel)
    await process.stop()


@pytest.fixture
async def payments(system: System) -> AsyncIterator[payments_pb2_grpc.PaymentsServiceStub]:
    config = PaymentsConfig.from_env(system.env)
    await migrated(config.database_url, config.schema, "payments")
    process: ParticipantProcess = await start_payments(config)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{process.server.port}") as channel:
        yield payments_pb2_grpc.PaymentsServiceStub(channel)
    await process.stop()


async def denied(call: grpc.aio.UnaryUnaryCall) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value


def record_payment() -> sessions_pb2.RecordPaymentRequest:
    return sessions_pb2.RecordPaymentRequest(
        session_id=str(uuid.uuid4()), payment_id="pay_1", outcome=sessions_pb2.PAYMENT_OUTCOME_DECLINED
    )


async def test_record_payment_only_from_payments(
    system: System, sessions: sessions_pb2_grpc.SessionsServiceStub
) -> None:
    error = await denied(sessions.RecordPayment(record_payment(), metadata=system.service_metadata("expiry")))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "RecordPayment" in (error.details() or "") and "expiry" in (error.details() or "")
    # Payments gets through to the arbiter, which does not know this session.
    as_payments = system.service_metadata("payments")
    passed = await denied(sessions.RecordPayment(record_payment(), metadata=as_payments))
    assert passed.code() == grpc.StatusCode.NOT_FOUND


async def test_expire_sessions_only_from_expiry(
    system: System, sessions: sessions_pb2_grpc.SessionsServiceStub
) -> None:
    request = sessions_pb2.ExpireSessionsRequest(session_ids=[str(uuid.uuid4())])
    error = await denied(sessions.ExpireSessions(request, metadata=system.service_metadata("payments")))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "ExpireSessions" in (error.details() or "") and "payments" in (error.details() or "")
    answer = await sessions.ExpireSessions(request, metadata=system.service_metadata("expiry"))
    assert list(answer.expired_session_ids) == []


async def test_a_customer_token_cannot_call_an_internal_rpc(
    system: System, sessions: sessions_pb2_grpc.SessionsServiceStub
) -> None:
    request = sessions_pb2.ExpireSessionsRequest(session_ids=[str(uuid.uuid4())])
    error = await denied(sessions.ExpireSessions(request, metadata=system.customer_metadata("expiry")))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "internal" in (error.details() or "")


async def test_a_service_cannot_act_as_a_customer(
    system: System, sessions: sessions_pb2_grpc.SessionsServiceStub
) -> None:
    customer = system.customer_metadata(f"c-{uuid.uuid4().hex[:8]}")
    created = await sessions.CreateSession(sessions_pb2.CreateSessionRequest(), metadata=customer)
    request = sessions_pb2.GetSessionRequest(id=created.session.id)
    error = await denied(sessions.GetSession(request, metadata=system.service_metadata("gateway")))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_a_service_token_signed_with_another_key_is_unauthenticated(
    system: System, sessions: sessions_pb2_grpc.SessionsServiceStub
) -> None:
    dev_service_key(system.data_dir, "payments")
    impostor = ServiceCredentials("payments", new_private_pem()).metadata()
    error = await denied(sessions.RecordPayment(record_payment(), metadata=impostor))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_provider_events_only_from_the_gateway(
    system: System, payments: payments_pb2_grpc.PaymentsServiceStub
) -> None:
    event = payments_pb2.HandleProviderEventRequest(
        event_id=f"evt_{uuid.uuid4().hex}", type="payment.succeeded", payment_id="pay_unknown"
    )
    for caller in ("payments", "sessions", "expiry"):
        error = await denied(payments.HandleProviderEvent(event, metadata=system.service_metadata(caller)))
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED, caller
    error = await denied(payments.HandleProviderEvent(event, metadata=system.customer_metadata("c-1")))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    answer = payments.HandleProviderEvent(event, metadata=system.service_metadata("gateway"))
    try:
        await answer
    except grpc.aio.AioRpcError as passed:
        # Past the access check the payment is unknown (or the provider unreachable): never a denial.
        assert passed.code() not in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED)
