"""Session event streams are capped per customer and in total; a slot frees when its stream ends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import grpc
import httpx
import pytest
from travel.sessions.v1 import sessions_pb2, sessions_pb2_grpc

from gateway.app import build_app
from gateway.config import GatewayConfig
from gateway.session_events import session_events_route
from kit import errors
from kit.grpc_status import to_rpc_status
from kit.open_streams import StreamCaps
from tests.support.gateway import serve_gateway
from tests.support.polling import eventually

CAPS = StreamCaps(per_customer=2, total=3, retry_after_seconds=7)
DEADLINE_SECONDS = 20.0


class OpenSessions(sessions_pb2_grpc.SessionsServiceServicer):
    """Every session stays OPEN and belongs to the caller named by its token, `Bearer token-<id>`."""

    @staticmethod
    async def _owner(context: Any) -> str:
        authorization = dict(context.invocation_metadata() or ()).get("authorization", "")
        if not authorization.startswith("Bearer token-"):
            await context.abort_with_status(to_rpc_status(errors.Unauthenticated("who are you?")))
        return str(authorization.removeprefix("Bearer token-"))

    async def GetSession(self, request: Any, context: Any) -> sessions_pb2.GetSessionResponse:
        owner = await self._owner(context)
        session = sessions_pb2.Session(id=request.id, customer_id=owner, state=sessions_pb2.STATE_OPEN)
        return sessions_pb2.GetSessionResponse(session=session)

    async def WatchSession(
        self, request: Any, context: Any
    ) -> AsyncIterator[sessions_pb2.WatchSessionResponse]:
        owner = await self._owner(context)
        session = sessions_pb2.Session(id=request.id, customer_id=owner, state=sessions_pb2.STATE_OPEN)
        yield sessions_pb2.WatchSessionResponse(sequence=1, session=session)
        # An OPEN session that never changes: the watch lasts until the gateway cancels it.
        await asyncio.Event().wait()


@pytest.fixture
async def gateway_url() -> AsyncIterator[str]:
    server = grpc.aio.server()
    sessions_pb2_grpc.add_SessionsServiceServicer_to_server(OpenSessions(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    config = GatewayConfig(
        backends={"sessions": (f"127.0.0.1:{port}",)},
        streams=CAPS,
    )
    app = build_app(
        config,
        [session_events_route(config.streams)],
        files=[sessions_pb2.DESCRIPTOR],
    )
    try:
        async with serve_gateway(app) as url:
            yield url
    finally:
        await server.stop(grace=None)


async def open_stream(
    stack: AsyncExitStack, client: httpx.AsyncClient, customer: str, n: int
) -> httpx.Response:
    """Open a stream and, when it is accepted, read its first frame so it is surely running."""
    reply = await stack.enter_async_context(
        client.stream("GET", f"/v1/sessions/s-{customer}-{n}/events:stream?access_token=token-{customer}")
    )
    if reply.status_code == 200:
        frames = reply.aiter_text()
        await anext(frames)
        # Held until the stack closes: a dropped iterator would close the stream with it.
        stack.push_async_callback(frames.aclose)
    else:
        await reply.aread()
    return reply


async def test_streams_are_capped_per_customer_and_in_total(gateway_url: str) -> None:
    limits = httpx.Limits(max_connections=20)
    async with AsyncExitStack() as stack:
        client = await stack.enter_async_context(
            httpx.AsyncClient(base_url=gateway_url, limits=limits, timeout=DEADLINE_SECONDS)
        )
        for n in range(2):
            assert (await open_stream(stack, client, "ana", n)).status_code == 200
        over_customer = await open_stream(stack, client, "ana", 2)
        assert over_customer.status_code == 429
        assert over_customer.headers["retry-after"] == "7"
        assert "per customer" in over_customer.json()["message"]
        assert (await open_stream(stack, client, "bo", 0)).status_code == 200
        over_total = await open_stream(stack, client, "cy", 0)
        assert over_total.status_code == 429
        assert over_total.headers["retry-after"] == "7"
        assert "at most 3 event streams" in over_total.json()["message"]


async def test_a_closed_stream_gives_its_slot_back(gateway_url: str) -> None:
    async with httpx.AsyncClient(base_url=gateway_url, timeout=DEADLINE_SECONDS) as client:
        async with AsyncExitStack() as first:
            for n in range(2):
                assert (await open_stream(first, client, "di", n)).status_code == 200
            assert (await open_stream(first, client, "di", 2)).status_code == 429

        # Both streams were closed by the client; the gateway notices the disconnect.
        async def a_slot_is_free() -> bool:
            async with AsyncExitStack() as again:
                return (await open_stream(again, client, "di", 3)).status_code == 200

        await eventually(
            a_slot_is_free, timeout=DEADLINE_SECONDS, what="the closed streams to give their slots back"
        )


async def test_a_refused_token_takes_no_slot(gateway_url: str) -> None:
    async with httpx.AsyncClient(base_url=gateway_url, timeout=DEADLINE_SECONDS) as client:
        for _ in range(4):
            reply = await client.get("/v1/sessions/s-x/events:stream?access_token=garbage")
            assert reply.status_code == 401
        async with AsyncExitStack() as stack:
            for n in range(2):
                assert (await open_stream(stack, client, "ed", n)).status_code == 200


@pytest.mark.parametrize("raw", ["%C3%A9t%C3%A9", "%FF%FE", "a%00b", "a%0Ab", "%E2%80%AE"])
async def test_a_token_of_any_bytes_is_refused_as_a_bad_token(gateway_url: str, raw: str) -> None:
    async with httpx.AsyncClient(base_url=gateway_url, timeout=DEADLINE_SECONDS) as client:
        reply = await client.get(f"/v1/sessions/s-x/events:stream?access_token={raw}")
        assert reply.status_code == 401
        assert "access token" in reply.json()["message"]
        header = await client.get(
            "/v1/sessions/s-x/events:stream", headers={"Authorization": "Bearer caf\xe9".encode("latin-1")}
        )
        assert header.status_code == 401
