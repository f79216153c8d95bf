"""Request bodies are capped while they stream in: a body over the cap is refused before it ends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import grpc
import pytest
from travel.customers.v1 import customers_pb2

from gateway.app import build_app
from gateway.payment_webhooks import MAX_WEBHOOK_BYTES, payment_webhook_route
from kit.service_identity import service_credentials
from kit.settings import Env
from tests.integration.gateway.fake_backends import CallLog, start_backend
from tests.support.gateway import gateway_config, serve_gateway
from tests.unit.gateway.echo_proto import echo_file

CAP = 1024
DEADLINE_SECONDS = 20.0


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[tuple[str, int, CallLog]]:
    """(host, port, backend call log) of a gateway whose body cap is CAP bytes, webhook route included."""
    log = CallLog()
    server, port, _ = await start_backend(log)
    webhook = payment_webhook_route(
        secret="s" * 32,
        credentials=service_credentials(Env({"TRAVEL_DATA_DIR": str(tmp_path)}), "gateway"),
        channel=lambda request: grpc.aio.insecure_channel(f"127.0.0.1:{port}"),
    )
    config = replace(gateway_config(f"127.0.0.1:{port}"), max_body_bytes=CAP)
    app = build_app(config, [webhook], files=[customers_pb2.DESCRIPTOR, echo_file()])
    try:
        async with serve_gateway(app) as url:
            parts = urlsplit(url)
            assert parts.hostname is not None and parts.port is not None
            yield parts.hostname, parts.port, log
    finally:
        await server.stop(grace=None)


async def answer_to_unfinished_chunked_body(host: str, port: int, path: str, size: int) -> bytes:
    """Send a head and `size` bytes of a chunked body, never its last chunk; read the answer."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
        )
        for _ in range(0, size, 256):
            writer.write(b"100\r\n" + b"x" * 256 + b"\r\n")
        await writer.drain()
        # The body has not ended: an answer can only come from a server that stopped reading early.
        return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), DEADLINE_SECONDS)
    finally:
        writer.close()


async def answer_to_declared_length(host: str, port: int, path: str, length: int) -> bytes:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Length: {length}\r\n\r\n".encode())
        await writer.drain()
        return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), DEADLINE_SECONDS)
    finally:
        writer.close()


async def test_a_chunked_body_over_the_cap_is_413_before_it_ends(gateway: tuple[str, int, CallLog]) -> None:
    host, port, log = gateway
    head = await answer_to_unfinished_chunked_body(host, port, "/v1/customers", CAP + 512)
    assert head.startswith(b"HTTP/1.1 413"), head
    assert log.calls == []


async def test_a_declared_length_over_the_cap_is_413_before_any_byte_of_body(
    gateway: tuple[str, int, CallLog],
) -> None:
    host, port, log = gateway
    head = await answer_to_declared_length(host, port, "/v1/customers", 10**9)
    assert head.startswith(b"HTTP/1.1 413"), head
    assert log.calls == []


async def test_the_webhook_body_is_capped_while_it_streams_in(gateway: tuple[str, int, CallLog]) -> None:
    host, port, _ = gateway
    head = await answer_to_unfinished_chunked_body(
        host, port, "/v1/webhooks/payments", MAX_WEBHOOK_BYTES + 512
    )
    assert head.startswith(b"HTTP/1.1 413"), head
    head = await answer_to_declared_length(host, port, "/v1/webhooks/payments", MAX_WEBHOOK_BYTES + 1)
    assert head.startswith(b"HTTP/1.1 413"), head


async def test_a_body_within_the_cap_still_reaches_the_backend(gateway: tuple[str, int, CallLog]) -> None:
    host, port, log = gateway
    body = b'{"email":"ana@example.com","name":"Ana","password":"long enough"}'
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(
            b"POST /v1/customers HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), DEADLINE_SECONDS)
    finally:
        writer.close()
    assert head.startswith(b"HTTP/1.1 200"), head
    assert [name for name, _ in log.calls] == ["Register"]
