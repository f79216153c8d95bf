"""The provider client over real loopback sockets: what a failed exchange means, and connections kept."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from kit.errors import DependencyUnavailable
from services.provider_client.client import AmbiguousFailure, ProviderClient, RetryBudget, provider_session
from tests.support.gateway import serve_gateway
from tests.support.ports import free_port

ONCE = RetryBudget(attempts=1)
ConnectionHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def raw_server(handle: ConnectionHandler) -> AsyncIterator[str]:
    """A TCP server on loopback running `handle` on each connection; yields its base URL."""
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


async def read_request_head(reader: asyncio.StreamReader) -> None:
    await reader.readuntil(b"\r\n\r\n")


async def test_an_unreachable_provider_surely_did_nothing() -> None:
    async with provider_session(timeout_seconds=5) as http:
        client = ProviderClient(http, f"http://127.0.0.1:{free_port()}", ONCE)
        with pytest.raises(DependencyUnavailable) as raised:
            await client.post_unambiguous("/holds", {}, idempotency_key="k")
    assert type(raised.value) is DependencyUnavailable


async def test_a_connection_dropped_after_the_request_is_ambiguous() -> None:
    requests: list[int] = []

    async def drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request_head(reader)
        requests.append(1)
        writer.close()

    async with raw_server(drop) as url, provider_session(timeout_seconds=5) as http:
        with pytest.raises(AmbiguousFailure):
            await ProviderClient(http, url, RetryBudget(attempts=3)).post_unambiguous(
                "/holds/h1/confirm", None, idempotency_key="k"
            )
    assert len(requests) == 1  # never retried: the caller must read the provider's state first


async def test_no_answer_within_the_timeout_is_ambiguous() -> None:
    release = asyncio.Event()

    async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request_head(reader)
        await release.wait()
        writer.close()

    async with raw_server(stall) as url, provider_session(timeout_seconds=0.2) as http:
        try:
            with pytest.raises(AmbiguousFailure, match="did not answer"):
                await ProviderClient(http, url, ONCE).get("/holds/h1")
        finally:
            release.set()


async def test_calls_share_one_kept_alive_connection() -> None:
    peers: list[int] = []

    async def hold(request: Request) -> JSONResponse:
        assert request.client is not None
        peers.append(request.client.port)
        return JSONResponse({"id": request.path_params["id"]})

    app = Starlette(routes=[Route("/holds/{id}", hold, methods=["GET", "POST"])])
    async with serve_gateway(app) as url, provider_session(timeout_seconds=5) as http:
        client = ProviderClient(http, url, ONCE)
        for index in range(5):
            assert await client.get(f"/holds/h{index}") == {"id": f"h{index}"}
            await client.post(f"/holds/p{index}", {"n": index}, idempotency_key=f"k{index}")
    assert len(peers) == 10
    assert len(set(peers)) == 1
