"""A booking followed through the gateway reads its session once: the rest comes in the notices.

A real sessions service (SQLite, gRPC, its saga steps and outbox relay), hotel and flights steps
that succeed on the real bus, the real gateway stream and its Redis subscription.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from google.protobuf import json_format
from prometheus_client import REGISTRY
from redis.asyncio import Redis
from travel.common.v1 import money_pb2
from travel.sessions.v1 import sessions_pb2 as pb
from travel.sessions.v1 import sessions_pb2_grpc

from bus.consumer import Participant
from bus.context import StepContext
from bus.keys import BusKeys
from bus.settings import ConsumerSettings
from gateway.app import build_app
from gateway.config import GatewayConfig
from gateway.session_changes import session_changes_hook
from gateway.session_events import session_events_route
from kit.redis_connection import RedisSettings
from kit.service_identity import ServiceCredentials, dev_service_key
from kit.settings import Env
from kit.tokens import TokenIssuer, customer_token_private_key
from services.sessions.app import SessionsProcess
from services.sessions.app import start as start_sessions
from services.sessions.client import ArbiterClient
from services.sessions.config import SessionsConfig
from tests.support.databases import migrated
from tests.support.gateway import serve_gateway

DEADLINE_SECONDS = 30.0
SESSIONS_SERVICE, LIST_EVENTS = "travel.sessions.v1.SessionsService", "ListSessionEvents"
# Steps of the confirmation saga of a session holding a hotel stay, by the participant that runs them.
STEPS = {"hotel": ["hotel.confirm", "hotel.release"], "flights": ["flights.release"]}


def list_events_served() -> float:
    """ListSessionEvents calls the sessions service served, from the metrics it exports."""
    labels = {
        "rpc_system": "grpc",
        "rpc_service": SESSIONS_SERVICE,
        "rpc_method": LIST_EVENTS,
        "rpc_grpc_status_code": "0",
    }
    value = REGISTRY.get_sample_value("rpc_server_duration_seconds_count", labels)
    return value or 0.0


@dataclass
class Booking:
    sessions: SessionsProcess
    stub: sessions_pb2_grpc.SessionsServiceStub
    gateway_url: str
    issuer: TokenIssuer
    hotel: ArbiterClient
    payments: ArbiterClient
    keys: BusKeys
    redis_url: str


async def succeed(context: StepContext) -> dict[str, str]:
    return {"ref": context.idempotency_key}


@pytest.fixture
async def booking(tmp_path: Path, redis_url: str, unique_id: str) -> AsyncIterator[Booking]:
    namespace = f"notices{unique_id}"
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
    config = GatewayConfig(
        backends={"sessions": (address,)}, redis=RedisSettings.checked(redis_url), namespace=namespace
    )
    app = build_app(
        config,
        [session_events_route(config.streams)],
        files=[pb.DESCRIPTOR],
        lifespan_hooks=[session_changes_hook(config.require_redis(), config.namespace)],
    )

    def client(service: str) -> ArbiterClient:
        return ArbiterClient(channel, ServiceCredentials(service, dev_service_key(tmp_path, service)))

    try:
        async with serve_gateway(app) as url:
            yield Booking(
                sessions,
                sessions_pb2_grpc.SessionsServiceStub(channel),
                url,
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


def stay(hold_id: str) -> pb.Item:
    return pb.Item(
        hotel=pb.HotelStay(
            hold_id=hold_id,
            hotel_id="HTL-LIS-01",
            hotel_name="Grand Lisbon Hotel",
            city="LIS",
            check_in="2031-04-01",
            check_out="2031-04-03",
            guests=2,
            price=money_pb2.Money(amount=24_000, currency="EUR"),
            status="HELD",
        )
    )


async def checked_out(booking: Booking) -> tuple[str, str]:
    """A session holding a stay, waiting for its payment: (session id, the customer's token)."""
    customer = str(uuid.uuid4())
    token = booking.issuer.issue(customer, now=int(time.time()), token_id=str(uuid.uuid4()))
    metadata = (("authorization", f"Bearer {token}"),)
    session_id = (await booking.stub.CreateSession(pb.CreateSessionRequest(), metadata=metadata)).session.id
    await booking.hotel.attach(session_id, customer, stay(f"hold-{uuid.uuid4().hex[:8]}"))
    await booking.payments.begin_checkout(session_id, customer)
    return session_id, token


async def pay(booking: Booking, session_id: str) -> None:
    await booking.payments.record_payment(
        pb.RecordPaymentRequest(
            session_id=session_id,
            payment_id=f"pay-{uuid.uuid4().hex[:8]}",
            outcome=pb.PAYMENT_OUTCOME_SUCCEEDED,
            amount=money_pb2.Money(amount=24_000, currency="EUR"),
            reference=session_id,
        )
    )


class Frames:
    """Reads SSE frames of one response as (event, data) pairs."""

    def __init__(self, response: httpx.Response) -> None:
        self._lines = response.aiter_lines()
        self.seen: list[tuple[str, Any]] = []

    async def until(self, wanted: str, check: Any = None) -> Any:
        deadline = time.monotonic() + DEADLINE_SECONDS
        name = ""
        async for line in self._lines:
            assert time.monotonic() < deadline, f"no {wanted} frame in time: {self.seen}"
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data = json.loads(line.removeprefix("data: "))
                self.seen.append((name, data))
                if name == wanted and (check is None or check(data)):
                    return data
        raise AssertionError(f"the stream ended before a {wanted} frame: {self.seen}")

    def named(self, name: str) -> list[Any]:
        return [data for event, data in self.seen if event == name]


async def follow(booking: Booking, session_id: str, token: str, between: Any) -> Frames:
    """Open the session's stream, run `between` once its first state came, read until the end."""
    path = f"/v1/sessions/{session_id}/events:stream?access_token={token}"
    async with (
        httpx.AsyncClient(base_url=booking.gateway_url, timeout=DEADLINE_SECONDS) as client,
        client.stream("GET", path) as response,
    ):
        assert response.status_code == 200
        frames = Frames(response)
        await frames.until("session", lambda s: s["state"] == "STATE_PAYMENT_PENDING")
        await between()
        end = await frames.until("end")
    assert end == {"state": "STATE_CONFIRMED"}
    return frames


async def timeline(booking: Booking, session_id: str, token: str) -> pb.ListSessionEventsResponse:
    metadata = (("authorization", f"Bearer {token}"),)
    reply: pb.ListSessionEventsResponse = await booking.stub.ListSessionEvents(
        pb.ListSessionEventsRequest(id=session_id), metadata=metadata
    )
    return reply


def as_json(message: Any) -> dict[str, Any]:
    return dict(json_format.MessageToDict(message, always_print_fields_with_no_presence=True))


def assert_every_frame_once_in_order(
    frames: Frames, final: pb.ListSessionEventsResponse, *, reread: bool = False
) -> None:
    """Every timeline entry exactly once; each saga's records, and the session's own, in their order;
    the states in the order the session went through them, ending with the session as it is."""
    sent = frames.named("saga")
    expected = [as_json(event) for event in final.events]
    assert sorted(map(json.dumps, sent)) == sorted(map(json.dumps, expected)), "each entry exactly once"
    for source in {(e["kind"] == "session", e["sagaId"]) for e in expected}:

        def of_source(events: list[dict[str, Any]], source: tuple[bool, str] = source) -> list[Any]:
            return [e for e in events if (e["kind"] == "session", e["sagaId"]) == source]

        assert of_source(sent) == of_source(expected), f"entries of {source} out of order"
    states = [s["state"] for s in frames.named("session")]
    went_through = ["STATE_PAYMENT_PENDING", "STATE_CONFIRMING", "STATE_CONFIRMED"]
    if reread:
        # A re-read sends the session as it is by then: a state it passed meanwhile is not shown.
        assert states[0] == went_through[0] and states[-1] == went_through[-1], states
        assert states == [state for state in went_through if state in states], states
    else:
        assert states == went_through
    versions = [int(s["version"]) for s in frames.named("session")]
    assert versions == sorted(set(versions))
    assert frames.named("session")[-1] == as_json(final.session)


async def test_a_whole_booking_is_streamed_with_one_read_of_the_session(booking: Booking) -> None:
    session_id, token = await checked_out(booking)
    reads_before = list_events_served()
    frames = await follow(booking, session_id, token, lambda: pay(booking, session_id))
    reads = list_events_served() - reads_before
    final = await timeline(booking, session_id, token)
    assert reads == 1, "the stream read the session when it opened, and never again"
    assert any(e.outcome == "SAGA_COMPLETED" for e in final.events)
    assert_every_frame_once_in_order(frames, final)


async def test_a_missed_notice_costs_one_read_and_no_frame(booking: Booking) -> None:
    session_id, token = await checked_out(booking)
    redis = Redis.from_url(booking.redis_url)
    reads_before = list_events_served()

    async def lose_a_notice_then_pay() -> None:
        # As if a notice had been published and lost: the next one comes with a number too far on.
        await redis.incr(booking.keys.session_notices(session_id))
        await pay(booking, session_id)

    try:
        frames = await follow(booking, session_id, token, lose_a_notice_then_pay)
    finally:
        await redis.aclose()
    reads = list_events_served() - reads_before
    final = await timeline(booking, session_id, token)
    assert reads == 2, "one read when the stream opened, one when it saw the jump"
    assert_every_frame_once_in_order(frames, final, reread=True)
