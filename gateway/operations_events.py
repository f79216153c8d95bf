"""`GET /v1/operations/overview:stream`: the operator console's overview as Server-Sent Events.

Pushed, not polled: the stream listens to every session's change channel (the sessions service
announces each transition there, the bus each saga history record, the console each replay) and
reads the overview again after a notice, at most once per `MIN_READ_INTERVAL_SECONDS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc
import jwt
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from travel.operations.v1 import operations_pb2, operations_pb2_grpc

from bus.keys import BusKeys
from gateway.errors import GatewayError, rpc_error_response
from gateway.request_id import request_id_of
from gateway.session_events import (
    CLIENT_RETRY_MS,
    HEARTBEAT_SECONDS,
    TRANSIENT_CODES,
    TRANSIENT_RETRY_SECONDS,
    HeldStream,
    as_json,
    bearer_token,
    refused_token,
    sse_frame,
    too_many_streams,
)
from kit.open_streams import OpenStreams, StreamCaps
from kit.redis_connection import pubsub_client, redis_client

OPERATIONS_PACKAGE = "travel.operations.v1"
OPERATIONS_SERVICE = "travel.operations.v1.OperationsService"
STREAM_PATH = "/v1/operations/overview:stream"
# A busy system announces changes many times a second: the console reads once for all of them.
MIN_READ_INTERVAL_SECONDS = 1.0
GATHER_SECONDS = 0.05
CONFIRM_TIMEOUT_SECONDS = 5.0
# Subscriptions being closed after their stream ended, held so the closing task is not collected.
_closing: set[asyncio.Task[None]] = set()


class ChangeSubscription:
    """One console's subscription to every session's change channel."""

    def __init__(self, redis: Redis, keys: BusKeys) -> None:
        self._redis = redis
        self._pattern = keys.session_changes("*")
        self._pubsub: PubSub = pubsub_client(redis).pubsub(ignore_subscribe_messages=False)

    async def open(self) -> None:
        """Subscribe, and wait until Redis confirmed it: notices from then on arrive."""
        await self._pubsub.psubscribe(self._pattern)
        deadline = time.monotonic() + CONFIRM_TIMEOUT_SECONDS
        while (left := deadline - time.monotonic()) > 0:
            message = await self._pubsub.get_message(timeout=left)
            if message is not None and message["type"] == "psubscribe":
                return

    async def wait(self, timeout: float) -> bool:
        """True when a notice came within `timeout` seconds."""
        try:
            message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=timeout)
        except (RedisError, OSError):
            # Notices may have been lost: read again, after a pause that spares a Redis coming back.
            await asyncio.sleep(TRANSIENT_RETRY_SECONDS)
            return True
        return message is not None

    async def drain(self) -> None:
        """Take every notice already here: the read about to happen answers them all."""
        with contextlib.suppress(RedisError, OSError):
            while await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=0) is not None:
                pass

    async def close(self) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self._pubsub.aclose()
        await self._redis.aclose()


@dataclass
class OverviewReader:
    """Reads the overview with the caller's token: the sessions process checks the admin role."""

    channel: grpc.aio.Channel
    metadata: tuple[tuple[str, str], ...]
    timeout: float

    async def read(self) -> operations_pb2.GetOverviewResponse:
        stub = operations_pb2_grpc.OperationsServiceStub(self.channel)
        reply: operations_pb2.GetOverviewResponse = await stub.GetOverview(
            operations_pb2.GetOverviewRequest(), metadata=self.metadata, timeout=self.timeout
        )
        return reply


def unchanged_part(overview: dict[str, Any]) -> dict[str, Any]:
    """What must differ for a frame to be worth sending: not the read time, nor ages that only grew."""
    sagas = [{k: v for k, v in saga.items() if k != "age"} for saga in overview.get("sagas", [])]
    return {k: v for k, v in overview.items() if k != "readTime"} | {"sagas": sagas}


async def overview_frames(
    request: Request, reader: OverviewReader, notices: ChangeSubscription, first: dict[str, Any]
) -> AsyncIterator[str]:
    yield f"retry: {CLIENT_RETRY_MS}\n\n"
    overview: dict[str, Any] | None = first
    sent: dict[str, Any] | None = None
    last_write = last_read = time.monotonic()
    while True:
        failed = False
        if overview is None:
            try:
                overview = as_json(await reader.read())
                last_read = time.monotonic()
            except grpc.aio.AioRpcError as error:
                if error.code() not in TRANSIENT_CODES:
                    _, body = rpc_error_response(error, OPERATIONS_SERVICE)
                    yield sse_frame("problem", body)
                    return
                failed = True
        if overview is not None:
            if unchanged_part(overview) != sent:
                sent = unchanged_part(overview)
                yield sse_frame("overview", overview)
                last_write = time.monotonic()
            overview = None
        if await request.is_disconnected():
            return
        now = time.monotonic()
        wait = TRANSIENT_RETRY_SECONDS if failed else max(0.0, last_write + HEARTBEAT_SECONDS - now)
        if await notices.wait(wait):
            await asyncio.sleep(max(GATHER_SECONDS, last_read + MIN_READ_INTERVAL_SECONDS - time.monotonic()))
            await notices.drain()
        elif time.monotonic() - last_write >= HEARTBEAT_SECONDS:
            yield ": keep-alive\n\n"
            last_write = time.monotonic()


def caller_of(token: str) -> str:
    """The token's subject, only to count its streams: the sessions process verified it just before."""
    try:
        return str(jwt.decode(token, options={"verify_signature": False}).get("sub", ""))
    except jwt.PyJWTError:
        return ""


async def stream_overview(request: Request, streams: OpenStreams) -> Response:
    refused = streams.refusal()
    if refused is not None:
        return too_many_streams(streams, refused)
    config = request.app.state.config
    if config.redis is None:
        return JSONResponse(GatewayError(503, "event streams are not available on this gateway").body(), 503)
    try:
        token = bearer_token(request)
    except GatewayError as refusal:
        return refused_token(refusal)
    metadata = [("x-request-id", request_id_of(request.scope))]
    if token:
        metadata.append(("authorization", f"Bearer {token}"))
    reader = OverviewReader(
        channel=request.app.state.backends.channels(OPERATIONS_PACKAGE)[0],
        metadata=tuple(metadata),
        timeout=config.rpc_timeout_seconds,
    )
    # Bytes, not text: a notice is a serialized protobuf message; the console only counts them.
    notices = ChangeSubscription(redis_client(config.redis), BusKeys(config.namespace))
    # Listening first, then the first read: a change in between is not missed. A refusal (no
    # token, not an admin) is a plain HTTP error, so EventSource gives up instead of retrying.
    try:
        await notices.open()
        first = as_json(await reader.read())
    except grpc.aio.AioRpcError as error:
        await notices.close()
        status, body = rpc_error_response(error, OPERATIONS_SERVICE)
        return JSONResponse(body, status_code=status)
    except (RedisError, OSError):
        await notices.close()
        return JSONResponse(GatewayError(503, "change notices are unavailable").body(), 503)
    except BaseException:
        await notices.close()
        raise
    owner = caller_of(token or "")
    refused = streams.acquire(owner)
    if refused is not None:
        await notices.close()
        return too_many_streams(streams, refused)

    def release() -> None:
        # Synchronous, so it also runs for a stream being cancelled; the close finishes on its own.
        streams.release(owner)
        closing = asyncio.get_running_loop().create_task(notices.close())
        _closing.add(closing)
        closing.add_done_callback(_closing.discard)

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return HeldStream(
        overview_frames(request, reader, notices, first),
        release=release,
        media_type="text/event-stream",
        headers=headers,
    )


def operations_events_route(caps: StreamCaps | None = None) -> Route:
    streams = OpenStreams(caps or StreamCaps())

    async def endpoint(request: Request) -> Response:
        return await stream_overview(request, streams)

    return Route(STREAM_PATH, endpoint, methods=["GET"])
