"""An event stream is pushed: a notice carrying nothing makes the gateway read the session; no timer does."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import httpx
import pytest
from redis.asyncio import Redis
from travel.sessions.v1 import sessions_pb2, sessions_pb2_grpc

from bus.keys import BusKeys
from bus.session_notices import READ_AGAIN
from gateway.app import build_app
from gateway.config import GatewayConfig
from gateway.session_changes import session_changes_hook
from gateway.session_events import session_events_route
from kit.redis_connection import RedisSettings
from tests.support.gateway import serve_gateway
from tests.support.polling import eventually

DEADLINE_SECONDS = 20.0
SESSION_ID = "0b8f2a52-4a8e-4c1e-9d55-1c2f3e4a5b6c"


class CountedSessions(sessions_pb2_grpc.SessionsServiceServicer):
    """One session whose state and events the test sets; every read is counted."""

    def __init__(self) -> None:
        self.state = sessions_pb2.STATE_PAYMENT_PENDING
        self.events: list[sessions_pb2.SessionEvent] = []
        self.reads = 0

    async def ListSessionEvents(self, request: Any, context: Any) -> sessions_pb2.ListSessionEventsResponse:
        self.reads += 1
        session = sessions_pb2.Session(id=request.id, customer_id="ana", state=self.state)
        return sessions_pb2.ListSessionEventsResponse(session=session, events=self.events)

    async def GetSession(self, request: Any, context: Any) -> sessions_pb2.GetSessionResponse:
        self.reads += 1
        session = sessions_pb2.Session(id=request.id, customer_id="ana", state=self.state)
        return sessions_pb2.GetSessionResponse(session=session)


@pytest.fixture
def keys() -> BusKeys:
    return BusKeys(f"push{uuid.uuid4().hex[:10]}")


@pytest.fixture
async def sessions() -> AsyncIterator[tuple[CountedSessions, int]]:
    servicer = CountedSessions()
    server = grpc.aio.server()
    sessions_pb2_grpc.add_SessionsServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield servicer, port
    await server.stop(grace=None)


@pytest.fixture
async def gateway_url(
    sessions: tuple[CountedSessions, int], redis_url: str, keys: BusKeys
) -> AsyncIterator[str]:
    config = GatewayConfig(
        backends={"sessions": (f"127.0.0.1:{sessions[1]}",)},
        redis=RedisSettings.checked(redis_url),
        namespace=keys.namespace,
    )
    app = build_app(
        config,
        [session_events_route(config.streams)],
        files=[sessions_pb2.DESCRIPTOR],
        lifespan_hooks=[session_changes_hook(config.require_redis(), config.namespace)],
    )
    async with serve_gateway(app) as url:
        yield url


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


async def test_notices_that_carry_nothing_cost_one_read_each_and_the_stream_ends_on_the_last_record(
    sessions: tuple[CountedSessions, int], gateway_url: str, redis: Redis, keys: BusKeys
) -> None:
    servicer, _ = sessions
    channel = keys.session_changes(SESSION_ID)
    path = f"/v1/sessions/{SESSION_ID}/events:stream?access_token=token-ana"
    async with (
        httpx.AsyncClient(base_url=gateway_url, timeout=DEADLINE_SECONDS) as client,
        client.stream("GET", path) as response,
    ):
        assert response.status_code == 200
        frames = Frames(response)
        await frames.until("session", lambda s: s["state"] == "STATE_PAYMENT_PENDING")
        assert servicer.reads == 1, "the first read answers both the access check and the first frame"

        servicer.state = sessions_pb2.STATE_CONFIRMING
        assert await redis.publish(channel, READ_AGAIN) == 1, "the gateway listens on the session's channel"
        await frames.until("session", lambda s: s["state"] == "STATE_CONFIRMING")

        servicer.state = sessions_pb2.STATE_CONFIRMED
        servicer.events = [
            sessions_pb2.SessionEvent(saga_id="confirm-1", kind="confirm", step="x", outcome="COMPLETED"),
            sessions_pb2.SessionEvent(saga_id="confirm-1", kind="confirm", outcome="SAGA_COMPLETED"),
        ]
        await redis.publish(channel, READ_AGAIN)
        end = await frames.until("end")
    assert end == {"state": "STATE_CONFIRMED"}
    assert servicer.reads == 3, "one read per such notice, nothing on a timer"
    await _until_unsubscribed(redis, channel)


async def _until_unsubscribed(redis: Redis, channel: str) -> None:
    """The ended stream gave its subscription back."""

    async def nobody_listens() -> bool:
        return (await redis.pubsub_numsub(channel))[0][1] == 0

    await eventually(
        nobody_listens,
        timeout=DEADLINE_SECONDS,
        what="the gateway to stop listening to an ended stream's session",
    )
