"""Reading a request body under a size cap while it streams in: refused with 413 before it is held whole."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
from starlette.requests import ClientDisconnect, Request
from starlette.types import Receive, Scope

from gateway.errors import GatewayError

# A client trickling its body holds a connection and a task: the whole body must arrive in this time.
BODY_TIMEOUT_SECONDS = 30.0


def _too_large(limit: int) -> GatewayError:
    return GatewayError(413, f"the request body exceeds {limit} bytes")


def declared_length(content_length: str | None, limit: int) -> None:
    """Refuse a declared Content-Length that is malformed or above the cap, before reading anything."""
    if content_length is None:
        return
    value = content_length.strip()
    if not value.isdigit() or not value.isascii():
        raise GatewayError(400, "invalid Content-Length")
    if int(value) > limit:
        raise _too_large(limit)


async def read_capped(
    chunks: AsyncIterator[bytes], limit: int, timeout: float = BODY_TIMEOUT_SECONDS
) -> bytes:
    """The body, chunk by chunk; stops at the first chunk that takes it over `limit`, or at `timeout`."""
    parts: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise _too_large(limit)
                parts.append(chunk)
    except ClientDisconnect:
        raise GatewayError(400, "the client went away") from None
    except TimeoutError:
        message = f"the request body did not arrive within {timeout:g} s"
        raise GatewayError(408, message, grpc_code=grpc.StatusCode.DEADLINE_EXCEEDED) from None
    return b"".join(parts)


async def read_request_body(request: Request, limit: int, timeout: float = BODY_TIMEOUT_SECONDS) -> bytes:
    """A Starlette request's body, under the cap."""
    declared_length(request.headers.get("content-length"), limit)
    return await read_capped(request.stream(), limit, timeout)


async def read_scope_body(
    scope: Scope, receive: Receive, limit: int, timeout: float = BODY_TIMEOUT_SECONDS
) -> bytes:
    """A raw ASGI request's body, under the cap."""
    return await read_request_body(Request(scope, receive), limit, timeout)
