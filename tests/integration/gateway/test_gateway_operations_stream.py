"""The console's stream is pushed: one overview read per burst of session notices, never on a timer."""

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
from travel.operations.v1 import operations_pb2, operations_pb2_grpc
from travel.sessions.v1 import sessions_pb2

from bus.keys import BusKeys
from gateway.app import build_app
from gateway.config import GatewayConfig
from gateway.operations_events import operations_events_route
from kit.redis_connection import RedisSettings
from tests.support.gateway import serve_gateway
from tests.support.polling import eventually

DEADLINE_SECONDS = 20.0
ADMIN_TOKEN = "token-admin"


class CountedOperations(operations_pb2_grpc.OperationsServiceServicer):
    """An overview the test sets; every read is counted; only the admin's token is let in."""

    def __init__(self) -> None:
        self.attention = 0
        self.reads = 0

    async def GetOverview(self, request: Any, context: Any) -> operations_pb2.GetOverviewResponse:
        if ("authorization", f"Bearer {ADMIN_TOKEN}") not in context.invocation_metadata():
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, "GetOverview needs the admin role")
        self.reads += 1
        count = operations_pb2.StateCount(state=sessions_pb2.STATE_NEEDS_ATTENTION, count=self.attention)
        return operations_pb2.GetOverviewResponse(counts=[count])


@pytest.fixture
def keys() -> BusKeys:
    return BusKeys(f"opspush{uuid.uuid4().hex[:10]}")


@pytest.fixture
async def operations() -> AsyncIterator[tuple[CountedOperations, int]]:
    servicer = CountedOperations()
    server = grpc.aio.server()
    operations_pb2_grpc.add_OperationsServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield servicer, port
    await server.stop(grace=None)


@pytest.fixture
async def gateway_url(
    operations: tuple[CountedOperations, int], redis_url: str, keys: BusKeys
) -> AsyncIterator[str]:
    config = GatewayConfig(
        backends={"operations": (f"127.0.0.1:{operations[1]}",)},
        redis=RedisSettings.checked(redis_url),
        namespace=keys.namespace,
    )
    app = build_app(config, [operations_events_route(config.streams)], files=[operations_pb2.DESCRIPTOR])
    async with serve_gateway(app) as url:
        yield url


async def next_overview(lines: AsyncIterator[str]) -> dict[str, Any]:
    deadline = time.monotonic() + DEADLINE_SECONDS
    name = ""
    async for line in lines:
        assert time.monotonic() < deadline, "no overview frame in time"
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: ") and name == "overview":
            data: dict[str, Any] = json.loads(line.removeprefix("data: "))
            return data
    raise AssertionError("the stream ended before an overview frame")


def attention_count(overview: dict[str, Any]) -> int:
    return int(overview["counts"][0]["count"])


async def test_each_burst_of_notices_is_one_read_and_one_frame(
    operations: tuple[CountedOperations, int], gateway_url: str, redis: Redis, keys: BusKeys
) -> None:
    servicer, _ = operations
    path = f"/v1/operations/overview:stream?access_token={ADMIN_TOKEN}"
    async with (
        httpx.AsyncClient(base_url=gateway_url, timeout=DEADLINE_SECONDS) as client,
        client.stream("GET", path) as response,
    ):
        assert response.status_code == 200
        lines = response.aiter_lines()
        assert attention_count(await next_overview(lines)) == 0
        assert servicer.reads == 1

        servicer.attention = 1
        # Any session's channel wakes the console: a transition, a saga record, a replay.
        burst = [keys.session_changes(str(uuid.uuid4())) for _ in range(5)]
        for channel in burst:
            assert await redis.publish(channel, "state") == 1, "the console hears every session's channel"
        assert attention_count(await next_overview(lines)) == 1
        assert servicer.reads == 2, "a burst of notices is read once"
    await _until_unsubscribed(redis, keys)


async def test_a_customer_without_the_role_gets_403_and_no_stream(
    operations: tuple[CountedOperations, int], gateway_url: str, redis: Redis, keys: BusKeys
) -> None:
    async with httpx.AsyncClient(base_url=gateway_url, timeout=DEADLINE_SECONDS) as client:
        refused = await client.get("/v1/operations/overview:stream?access_token=token-customer")
    assert refused.status_code == 403, refused.text
    assert "admin role" in refused.json()["message"]
    await _until_unsubscribed(redis, keys)


async def _until_unsubscribed(redis: Redis, keys: BusKeys) -> None:
    """The ended or refused stream gave its subscription back: a notice now reaches nobody."""
    probe = keys.session_changes("probe")

    async def nobody_listens() -> bool:
        return await redis.publish(probe, "probe") == 0

    await eventually(
        nobody_listens,
        timeout=DEADLINE_SECONDS,
        what="the gateway to stop listening for an ended console stream",
    )
