"""`GET /v1/sessions/{id}/events:stream`: a session's saga timeline and state as Server-Sent Events."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import grpc
from google.protobuf import json_format
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from travel.sessions.v1 import sessions_pb2, sessions_pb2_grpc

from gateway.errors import rpc_error_response
from gateway.request_id import request_id_of

SESSIONS_PACKAGE = "travel.sessions.v1"
SESSIONS_SERVICE = "travel.sessions.v1.SessionsService"
STREAM_PATH = "/v1/sessions/{id}/events:stream"

POLL_SECONDS = 0.3
HEARTBEAT_SECONDS = 15.0
# Saga records can land in the history a moment after the state they caused: read a little longer.
SETTLE_POLLS = 4
CLIENT_RETRY_MS = 2000
# NEEDS_ATTENTION waits for an operator, possibly for hours: the stream ends there too.
STREAM_END_STATES = frozenset(
    {
        sessions_pb2.STATE_CONFIRMED,
        sessions_pb2.STATE_CANCELLED,
        sessions_pb2.STATE_EXPIRED,
        sessions_pb2.STATE_NEEDS_ATTENTION,
    }
)
# Worth another poll: the backend is restarting, slow or briefly overloaded.
TRANSIENT_CODES = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.RESOURCE_EXHAUSTED}
)


def sse_frame(event: str, data: dict[str, Any]) -> str:
    payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return f"event: {event}\ndata: {payload}\n\n"


def as_json(message: Any) -> dict[str, Any]:
    """The same JSON mapping as the REST routes: lowerCamelCase, unpopulated fields included."""
    result: dict[str, Any] = json_format.MessageToDict(message, always_print_fields_with_no_presence=True)
    return result


def bearer_token(request: Request) -> str | None:
    """From `Authorization`, else `?access_token=` because a browser's EventSource cannot set headers."""
    header = request.headers.get("authorization")
    if header:
        return header.removeprefix("Bearer ").removeprefix("bearer ").strip() or None
    return request.query_params.get("access_token") or None


class SessionReader(Protocol):
    async def session(self) -> sessions_pb2.Session: ...

    async def events(self) -> list[sessions_pb2.SessionEvent]: ...


@dataclass
class SessionPoller:
    """Reads one session and its events with the caller's token, spreading calls over the replicas."""

    channels: list[grpc.aio.Channel]
    session_id: str
    metadata: tuple[tuple[str, str], ...]
    timeout: float
    _stubs: Any = field(init=False)

    def __post_init__(self) -> None:
        self._stubs = itertools.cycle([sessions_pb2_grpc.SessionsServiceStub(c) for c in self.channels])

    async def session(self) -> sessions_pb2.Session:
        reply = await next(self._stubs).GetSession(
            sessions_pb2.GetSessionRequest(id=self.session_id), metadata=self.metadata, timeout=self.timeout
        )
        return reply.session

    async def events(self) -> list[sessions_pb2.SessionEvent]:
        reply = await next(self._stubs).ListSessionEvents(
            sessions_pb2.ListSessionEventsRequest(id=self.session_id),
            metadata=self.metadata,
            timeout=self.timeout,
        )
        return list(reply.events)


@dataclass
class StreamState:
    """What this stream already told the client, so each poll pushes only what is new."""

    seen_events: set[bytes] = field(default_factory=set)
    last_session: dict[str, Any] | None = None
    settle_polls_left: int = SETTLE_POLLS

    def new_frames(self, session: sessions_pb2.Session, events: list[sessions_pb2.SessionEvent]) -> list[str]:
        frames: list[str] = []
        for event in events:
            # The timeline is re-sorted on every read, so an event is known by its content, not its index.
            key = event.SerializeToString(deterministic=True)
            if key not in self.seen_events:
                self.seen_events.add(key)
                frames.append(sse_frame("saga", as_json(event)))
        current = as_json(session)
        if current != self.last_session:
            self.last_session = current
            frames.append(sse_frame("session", current))
        return frames

    def finished(self, session: sessions_pb2.Session) -> bool:
        if session.state not in STREAM_END_STATES:
            return False
        self.settle_polls_left -= 1
        return self.settle_polls_left < 0


async def event_frames(
    request: Request, poller: SessionReader, poll_seconds: float = POLL_SECONDS
) -> AsyncIterator[str]:
    yield f"retry: {CLIENT_RETRY_MS}\n\n"
    state = StreamState()
    last_write = time.monotonic()
    while True:
        try:
            session, events = await asyncio.gather(poller.session(), poller.events())
        except grpc.aio.AioRpcError as error:
            if error.code() not in TRANSIENT_CODES:
                _, body = rpc_error_response(error, SESSIONS_SERVICE)
                yield sse_frame("problem", body)
                return
        else:
            frames = state.new_frames(session, events)
            if frames:
                yield "".join(frames)
                last_write = time.monotonic()
            if state.finished(session):
                yield sse_frame("end", {"state": sessions_pb2.State.Name(session.state)})
                return
        if time.monotonic() - last_write >= HEARTBEAT_SECONDS:
            # A write is also how a vanished client that sent no FIN gets noticed.
            yield ": keep-alive\n\n"
            last_write = time.monotonic()
        if await request.is_disconnected():
            return
        await asyncio.sleep(poll_seconds)


async def stream_session_events(request: Request) -> Response:
    token = bearer_token(request)
    metadata = [("x-request-id", request_id_of(request.scope))]
    if token:
        metadata.append(("authorization", f"Bearer {token}"))
    poller = SessionPoller(
        channels=request.app.state.backends.channels(SESSIONS_PACKAGE),
        session_id=request.path_params["id"],
        metadata=tuple(metadata),
        timeout=request.app.state.config.rpc_timeout_seconds,
    )
    # The first read happens before the stream starts, so a bad token or a stranger's session is a
    # plain HTTP error (EventSource gives up on those instead of reconnecting forever).
    try:
        await poller.session()
    except grpc.aio.AioRpcError as error:
        status, body = rpc_error_response(error, SESSIONS_SERVICE)
        return JSONResponse(body, status_code=status)
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(event_frames(request, poller), media_type="text/event-stream", headers=headers)


def session_events_route() -> Route:
    return Route(STREAM_PATH, stream_session_events, methods=["GET"])
