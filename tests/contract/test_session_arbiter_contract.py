"""The arbiter as other services call it: the in-process fake, and the gRPC client of the real service."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
import redis
from travel.common.v1 import money_pb2
from travel.sessions.v1 import sessions_pb2 as pb
from travel.sessions.v1 import sessions_pb2_grpc

from kit.errors import FailedPrecondition, InvalidArgument, NotFound
from kit.service_identity import ServiceCredentials, dev_service_key
from kit.settings import Env
from kit.tokens import TokenIssuer, customer_token_private_key
from services.sessions.app import start as start_sessions
from services.sessions.client import ArbiterClient, SessionArbiter
from services.sessions.config import SessionsConfig
from tests.fakes.session_arbiter import FakeSessionArbiter
from tests.support.databases import migrated
from tests.support.polling import eventually
from tests.support.session_items import stay

DEADLINE_SECONDS = 15.0


@dataclass
class Backend:
    """The arbiter as hotel, payments and expiry each call it, and what a test arranges through others."""

    hotel: SessionArbiter
    payments: SessionArbiter
    expiry: SessionArbiter
    open_session: Callable[[str], Awaitable[str]]
    pass_deadline: Callable[[pb.Session], Awaitable[None]]


Start = Callable[[int], Awaitable[Backend]]


@pytest.fixture(params=["fake", "grpc"])
async def start(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Start]:
    """Start a backend whose sessions live `ttl` seconds."""
    cleanups: list[Callable[[], Awaitable[None]]] = []

    async def fake(ttl: int) -> Backend:
        arbiter = FakeSessionArbiter(ttl=timedelta(seconds=ttl))

        async def pass_deadline(session: pb.Session) -> None:
            arbiter.now = session.expires_at.ToDatetime(tzinfo=UTC) + timedelta(milliseconds=1)

        return Backend(arbiter, arbiter, arbiter, arbiter.open_session, pass_deadline)

    async def real(ttl: int) -> Backend:
        namespace = f"arbiter{uuid.uuid4().hex[:10]}"
        env = Env(
            {
                "TRAVEL_DATA_DIR": str(tmp_path),
                "REDIS_URL": request.getfixturevalue("redis_url"),
                "TRAVEL_NAMESPACE": namespace,
                "SESSIONS_PORT": "0",
                "GRPC_HOST": "127.0.0.1",
                "SESSION_TTL_SECONDS": str(ttl),
            }
        )
        config = SessionsConfig.from_env(env)
        await migrated(config.database_url, config.schema, "sessions")
        process = await start_sessions(config)
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{process.server.port}")
        stub = sessions_pb2_grpc.SessionsServiceStub(channel)
        issuer = TokenIssuer(customer_token_private_key(env), 600)

        def client(service: str) -> ArbiterClient:
            return ArbiterClient(channel, ServiceCredentials(service, dev_service_key(tmp_path, service)))

        async def open_session(customer_id: str) -> str:
            token = issuer.issue(customer_id, now=int(time.time()), token_id=str(uuid.uuid4()))
            metadata = (("authorization", f"Bearer {token}"),)
            return str((await stub.CreateSession(pb.CreateSessionRequest(), metadata=metadata)).session.id)

        async def pass_deadline(session: pb.Session) -> None:
            due = session.expires_at.ToDatetime(tzinfo=UTC)
            await eventually(
                lambda: datetime.now(UTC) > due, timeout=DEADLINE_SECONDS,
                what="the session's deadline to pass", interval=0.05,
            )  # fmt: skip

        async def stop() -> None:
            await channel.close()
            await process.stop()
            with redis.Redis.from_url(env.str("REDIS_URL", "")) as client:
                found = list(client.scan_iter(match=f"{namespace}*", count=1000))
                if found:
                    client.delete(*found)

        cleanups.append(stop)
        return Backend(client("hotel"), client("payments"), client("expiry"), open_session, pass_deadline)

    yield fake if request.param == "fake" else real
    for cleanup in cleanups:
        await cleanup()


@pytest.fixture
async def arbiter(start: Start) -> Backend:
    return await start(600)


def captured(session: pb.Session, payment_id: str, amount: int) -> pb.RecordPaymentRequest:
    return pb.RecordPaymentRequest(
        session_id=session.id,
        payment_id=payment_id,
        outcome=pb.PAYMENT_OUTCOME_SUCCEEDED,
        amount=money_pb2.Money(amount=amount, currency="EUR"),
        reference=session.id,
    )


async def test_only_the_owner_may_change_an_open_session(arbiter: Backend) -> None:
    customer = uuid.uuid4().hex
    session_id = await arbiter.open_session(customer)
    session = await arbiter.hotel.authorize_item_change(session_id, customer)
    assert (session.id, session.customer_id, session.state) == (session_id, customer, pb.STATE_OPEN)
    with pytest.raises(NotFound):
        await arbiter.hotel.authorize_item_change(session_id, uuid.uuid4().hex)
    with pytest.raises(NotFound):
        await arbiter.hotel.authorize_item_change(str(uuid.uuid4()), customer)
    with pytest.raises(InvalidArgument):
        await arbiter.hotel.authorize_item_change("not-a-session", customer)


async def test_attaching_a_second_stay_replaces_the_first(arbiter: Backend) -> None:
    customer = uuid.uuid4().hex
    session_id = await arbiter.open_session(customer)
    first = await arbiter.hotel.attach(session_id, customer, stay("hold-1"))
    assert not first.HasField("replaced")
    assert [i.hotel.hold_id for i in first.session.items] == ["hold-1"]
    second = await arbiter.hotel.attach(session_id, customer, stay("hold-2", 30_000))
    assert second.replaced.hotel.hold_id == "hold-1"
    assert [i.hotel.hold_id for i in second.session.items] == ["hold-2"]
    assert (second.session.total.amount, second.session.version) == (30_000, 2)
    with pytest.raises(NotFound):
        await arbiter.hotel.attach(session_id, uuid.uuid4().hex, stay("hold-3"))


async def test_checkout_freezes_the_session_until_reopened(arbiter: Backend) -> None:
    customer = uuid.uuid4().hex
    session_id = await arbiter.open_session(customer)
    with pytest.raises(InvalidArgument):
        await arbiter.payments.begin_checkout(session_id, customer)  # nothing to pay for
    await arbiter.hotel.attach(session_id, customer, stay("hold-1"))
    pending = await arbiter.payments.begin_checkout(session_id, customer)
    assert pending.state == pb.STATE_PAYMENT_PENDING
    again = await arbiter.payments.begin_checkout(session_id, customer)
    assert (again.state, again.version) == (pb.STATE_PAYMENT_PENDING, pending.version)
    with pytest.raises(FailedPrecondition):
        await arbiter.hotel.attach(session_id, customer, stay("hold-2"))
    reopened = await arbiter.payments.reopen_checkout(session_id)
    assert reopened.state == pb.STATE_OPEN
    with pytest.raises(FailedPrecondition):
        await arbiter.payments.reopen_checkout(session_id)


async def test_a_matching_capture_confirms_once_and_a_mismatch_is_told(arbiter: Backend) -> None:
    customer = uuid.uuid4().hex
    session_id = await arbiter.open_session(customer)
    await arbiter.hotel.attach(session_id, customer, stay("hold-1", 24_000))
    session = await arbiter.payments.begin_checkout(session_id, customer)
    paid = await arbiter.payments.record_payment(captured(session, "pay-1", 24_000))
    assert (paid.session.state, paid.outcome, paid.refund_started) == (
        pb.STATE_CONFIRMING,
        pb.PAYMENT_OUTCOME_SUCCEEDED,
        False,
    )
    repeat = await arbiter.payments.record_payment(captured(session, "pay-1", 24_000))
    assert (repeat.session.version, repeat.refund_started) == (paid.session.version, False)
    other = await arbiter.payments.record_payment(captured(session, "pay-2", 23_999))
    assert (other.outcome, other.refund_started) == (pb.PAYMENT_OUTCOME_MISMATCHED, True)
    assert other.session.payment_id == "pay-1"


async def test_past_its_deadline_a_session_expires_once_and_a_late_capture_is_refunded(start: Start) -> None:
    backend = await start(3)
    idle, paying = uuid.uuid4().hex, uuid.uuid4().hex
    idle_id, paying_id = await backend.open_session(idle), await backend.open_session(paying)
    await backend.hotel.attach(paying_id, paying, stay("hold-1", 24_000))
    session = await backend.payments.begin_checkout(paying_id, paying)
    assert await backend.expiry.expire_many([idle_id]) == []  # not due yet
    await backend.pass_deadline(session)
    assert await backend.expiry.expire_many([idle_id, str(uuid.uuid4())]) == [idle_id]
    assert await backend.expiry.expire_many([idle_id]) == []
    late = await backend.payments.record_payment(captured(session, "pay-late", 24_000))
    assert late.refund_started and late.session.state == pb.STATE_PAYMENT_PENDING
    with pytest.raises(FailedPrecondition):
        await backend.hotel.authorize_item_change(idle_id, idle)
