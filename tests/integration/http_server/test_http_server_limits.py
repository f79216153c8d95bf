"""The HTTP server's limits against real sockets: slow heads, huge heads, too many connections."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from kit.http_server import HttpServerLimits, server_config
from tests.support.polling import eventually

DEADLINE_SECONDS = 20.0


class Holding:
    """A route that keeps its requests in flight until released."""

    def __init__(self) -> None:
        self.held = 0
        self.arrived = asyncio.Condition()
        self.release = asyncio.Event()

    async def hold(self, _: Request) -> PlainTextResponse:
        async with self.arrived:
            self.held += 1
            self.arrived.notify_all()
        await self.release.wait()
        return PlainTextResponse("released")

    async def wait_for_held(self, count: int) -> None:
        async with self.arrived:
            await asyncio.wait_for(self.arrived.wait_for(lambda: self.held >= count), DEADLINE_SECONDS)


async def hello(_: Request) -> PlainTextResponse:
    return PlainTextResponse("hello")


@asynccontextmanager
async def serving(limits: HttpServerLimits, holding: Holding | None = None) -> AsyncIterator[int]:
    routes = [Route("/", hello)]
    if holding is not None:
        routes.append(Route("/hold", holding.hold))
    config = server_config(Starlette(routes=routes), "127.0.0.1", 0, limits, log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    await eventually(
        lambda: server.started, timeout=DEADLINE_SECONDS, what="uvicorn to start", interval=0.01,
        abort_if=lambda: task.done() and "uvicorn stopped",
    )  # fmt: skip
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        if holding is not None:
            holding.release.set()
        server.should_exit = True
        await task


async def read_until_closed(reader: asyncio.StreamReader) -> bytes:
    return await asyncio.wait_for(reader.read(), DEADLINE_SECONDS)


async def test_a_client_trickling_its_head_is_answered_408_and_disconnected() -> None:
    async with serving(HttpServerLimits(header_timeout_seconds=0.5, keep_alive_seconds=30)) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: slow\r\n")
        lines_sent = 0
        deadline = time.monotonic() + DEADLINE_SECONDS
        answer = b""
        # A header line every 100 ms keeps uvicorn's own timers happy; the head deadline is not.
        while not reader.at_eof() and time.monotonic() < deadline:
            try:
                answer += await asyncio.wait_for(reader.read(1024), 0.1)
            except TimeoutError:
                writer.write(b"X-Slow-%d: still coming\r\n" % lines_sent)
                lines_sent += 1
                continue
            if not answer or reader.at_eof():
                break
        answer += await read_until_closed(reader)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 408"), answer
        assert lines_sent >= 1


async def test_an_idle_connection_that_never_sends_a_byte_is_closed() -> None:
    async with serving(HttpServerLimits(header_timeout_seconds=0.3, keep_alive_seconds=30)) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await read_until_closed(reader) == b""
        writer.close()


async def test_a_head_larger_than_the_cap_is_431() -> None:
    async with serving(HttpServerLimits(max_header_bytes=2048)) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: big\r\n" + b"X-Big: " + b"a" * 8192 + b"\r\n")
        answer = await read_until_closed(reader)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 431"), answer


async def test_keep_alive_requests_each_get_a_fresh_head_deadline() -> None:
    async with (
        serving(HttpServerLimits(header_timeout_seconds=0.5)) as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client,
    ):
        for _ in range(3):
            reply = await client.get("/")
            assert (reply.status_code, reply.text) == (200, "hello")


async def test_requests_beyond_the_connection_limit_get_503() -> None:
    holding = Holding()
    # uvicorn counts the connection a request arrives on: with 3 allowed, 2 others may be busy.
    async with (
        serving(HttpServerLimits(max_connections=3), holding) as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=DEADLINE_SECONDS) as client,
    ):
        held = [asyncio.create_task(client.get("/hold")) for _ in range(2)]
        await holding.wait_for_held(2)
        refused = await client.get("/")
        assert refused.status_code == 503
        holding.release.set()
        assert [reply.status_code for reply in await asyncio.gather(*held)] == [200, 200]
        assert (await client.get("/")).status_code == 200
