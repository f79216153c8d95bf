"""A real sessions service with hotel and flights steps that succeed, to follow bookings through."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
from redis.asyncio import Redis
from travel.common.v1 import money_pb2
from travel.sessions.v1 import sessions_pb2 as pb
from travel.sessions.v1 import sessions_pb2_grpc

from bus.consumer import Participant
from bus.context import StepContext
from bus.keys import BusKeys
from bus.settings import ConsumerSettings
from kit.open_streams import StreamCaps
from kit.service_identity import ServiceCredentials, dev_service_key
from kit.settings import Env
from kit.tokens import TokenIssuer, customer_token_private_key
from services.sessions.app import SessionsProcess
from services.sessions.app import start as start_sessions
from services.sessions.client import ArbiterClient
from services.sessions.config import SessionsConfig
from tests.support.databases import migrated
from tests.support.session_items import stay

# Steps of the confirmation saga of a session holding a hotel stay, by the participant that runs them.
STEPS = {"hotel": ["hotel.confirm", "hotel.release"], "flights": ["flights.release"]}


@dataclass
class Bookings:
    sessions: SessionsProcess
    address: str
    stub: sessions_pb2_grpc.SessionsServiceStub
    issuer: TokenIssuer
    hotel: ArbiterClient
    payments: ArbiterClient
    keys: BusKeys
    redis_url: str

    def token(self, customer: str | None = None) -> str:
        return self.issuer.issue(
            customer or str(uuid.uuid4()), now=int(time.time()), token_id=str(uuid.uuid4())
        )

    async def checked_out(self) -> tuple[str, str]:
        """A session holding a stay, waiting for its payment: (session id, the customer's token)."""
        customer = str(uuid.uuid4())
        token = self.token(customer)
        metadata = (("authorization", f"Bearer {token}"),)
        session_id = (await self.stub.CreateSession(pb.CreateSessionRequest(), metadata=metadata)).session.id
        await self.hotel.attach(session_id, customer, stay(f"hold-{uuid.uuid4().hex[:8]}"))
        await self.payments.begin_checkout(session_id, customer)
        return session_id, token

    async def pay(self, session_id: str) -> None:
        await self.payments.record_payment(
            pb.RecordPaymentRequest(
                session_id=session_id,
                payment_id=f"pay-{uuid.uuid4().hex[:8]}",
                outcome=pb.PAYMENT_OUTCOME_SUCCEEDED,
                amount=money_pb2.Money(amount=24_000, currency="EUR"),
                reference=session_id,
            )
        )

    async def timeline(self, session_id: str, token: str) -> pb.ListSessionEventsResponse:
        metadata = (("authorization", f"Bearer {token}"),)
        reply: pb.ListSessionEventsResponse = await self.stub.ListSessionEvents(
            pb.ListSessionEventsRequest(id=session_id), metadata=metadata
        )
        return reply


async def succeed(context: StepContext) -> dict[str, str]:
    return {"ref": context.idempotency_key}


@asynccontextmanager
async def followed_bookings(
    tmp_path: Path, redis_url: str, namespace: str, watch_caps: StreamCaps | None = None
) -> AsyncIterator[Bookings]:
    """The sessions service (SQLite, gRPC, its saga steps, outbox relay and watches) and the steps."""
    env = Env(
        {
            "TRAVEL_DATA_DIR": str(tmp_path),
            "REDIS_URL": redis_url,
            "TRAVEL_NAMESPACE": namespace,
            "SESSIONS_PORT": "0",
            "GRPC_HOST": "127.0.0.1",
        }
    )
    config = SessionsConfig.from_env(env)
    if watch_caps is not None:
        config = dataclasses.replace(config, watch_caps=watch_caps)
    await migrated(config.database_url, config.schema, "sessions")
    sessions = await start_sessions(config)
    address = f"127.0.0.1:{sessions.server.port}"
    channel = grpc.aio.insecure_channel(address)
    participants = [
        Participant(
            redis_url,
            namespace=namespace,
            participant=name,
            consumer="c1",
            handlers={step: succeed for step in steps},
            settings=ConsumerSettings(block_ms=1000),
        )
        for name, steps in STEPS.items()
    ]
    tasks = [asyncio.create_task(p.run()) for p in participants]

    def client(service: str) -> ArbiterClient:
        return ArbiterClient(channel, ServiceCredentials(service, dev_service_key(tmp_path, service)))

    try:
        yield Bookings(
            sessions,
            address,
            sessions_pb2_grpc.SessionsServiceStub(channel),
            TokenIssuer(customer_token_private_key(env), 600),
            client("hotel"),
            client("payments"),
            BusKeys(namespace),
            redis_url,
        )
    finally:
        for participant in participants:
            participant.stop()
        await asyncio.gather(*tasks)
        await channel.close()
        await sessions.stop()
        cleanup = Redis.from_url(redis_url)
        found = [key async for key in cleanup.scan_iter(match=f"{namespace}:*")]
        if found:
            await cleanup.delete(*found)
        await cleanup.aclose()
