"""`GET /v1/sessions/{id}/events:stream`: a session's saga timeline and state as Server-Sent Events.

Following a session is the sessions service's WatchSession: this route calls it and writes each
response as SSE frames (one `saga` per event, then `session`; `end` last). When the call breaks
(a replica restarting), the route calls again from the last sequence it got, on another replica.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import grpc
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send
from travel.sessions.v1 import sessions_pb2, sessions_pb2_grpc

from gateway.errors import GatewayError, retry_after, rpc_error_response
from gateway.request_id import request_id_of
from kit.open_streams import OpenStreams, StreamCaps
from kit.proto_json import message_to_dict
from kit.trace_context import current_headers

SESSIONS_PACKAGE = "travel.sessions.v1"
SESSIONS_SERVICE = "travel.sessions.v1.SessionsService"
STREAM_PATH = "/v1/sessions/{id}/events:stream"

# With nothing to say for this long, the stream writes a comment: a vanished client that sent no
# FIN gets noticed. WatchSession itself sends nothing while nothing changes.
HEARTBEAT_SECONDS = 15.0
# After a transient backend error, call again after this long.
TRANSIENT_RETRY_SECONDS = 1.0
CLIENT_RETRY_MS = 2000
# Worth another call: the backend is restarting, slow or briefly overloaded.
TRANSIENT_CODES = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.RESOURCE_EXHAUSTED}
)


def sse_frame(event: str, data: dict[str, Any]) -> str:
    payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return f"event: {event}\ndata: {payload}\n\n"


def as_json(message: Any) -> dict[str, Any]:
    """The same JSON mapping as the REST routes: lowerCamelCase, unpopulated fields included."""
    return message_to_dict(message)


# What gRPC metadata can carry: a token of other characters is no token this system issued.
_TOKEN_CHARACTERS = re.compile(r"[\x21-\x7e]+")


def bearer_token(request: Request) -> str | None:
    """From `Authorization`, else `?access_token=` because a browser's EventSource cannot set headers.

    Raises GatewayError (401) for a token no issuer could have made: not printable ASCII.
    """
    header = request.headers.get("authorization")
    if header:
        token = header.removeprefix("Bearer ").removeprefix("bearer ").strip() or None
    else:
        token = request.query_params.get("access_token") or None
    if token is not None and not _TOKEN_CHARACTERS.fullmatch(token):
        raise GatewayError(401, "invalid access token: a token is printable ASCII")
    return token


def refused_token(error: GatewayError) -> Response:
    return JSONResponse(error.body(), status_code=error.http_status, headers=error.headers)


class SessionWatch:
    """WatchSession calls for one stream, over the replicas: a broken call resumes where it stopped."""

    def __init__(self, stubs: Iterator[Any], session_id: str, metadata: tuple[tuple[str, str], ...]) -> None:
        self._stubs = stubs
        self._session_id = session_id
        self._metadata = metadata
        self._call: Any = None
        self.sequence = 0

    def open(self) -> None:
        self.close()
        request = sessions_pb2.WatchSessionRequest(id=self._session_id, after_sequence=self.sequence)
        # No deadline: the call lasts until the session settles or the client leaves.
        self._call = next(self._stubs).WatchSession(request, metadata=self._metadata)

    async def read(self) -> sessions_pb2.WatchSessionResponse | None:
        """The next response; None when the call ended without the session's end."""
        response = await self._call.read()
        if response is grpc.aio.EOF:
            return None
        assert isinstance(response, sessions_pb2.WatchSessionResponse)
        self.sequence = max(self.sequence, response.sequence)
        return response

    def close(self) -> None:
        if self._call is not None:
            self._call.cancel()
            self._call = None


class SentFrames:
    """What the stream wrote, so the first response of a resumed call repeats nothing."""

    def __init__(self) -> None:
        self.events: list[sessions_pb2.SessionEvent] = []
        self.session: sessions_pb2.Session | None = None

    def frames(self, response: sessions_pb2.WatchSessionResponse, resumed: bool = False) -> str:
        if response.end_state:
            return sse_frame("end", {"state": sessions_pb2.State.Name(response.end_state)})
        events = list(response.events)
        if resumed:
            # An event is known by its content: a resumed call may send the whole timeline again.
            seen = {event.SerializeToString(deterministic=True) for event in self.events}
            events = [e for e in events if e.SerializeToString(deterministic=True) not in seen]
        self.events.extend(events)
        parts = [sse_frame("saga", as_json(event)) for event in events]
        if response.HasField("session") and not (resumed and response.session == self.session):
            self.session = response.session
            parts.append(sse_frame("session", as_json(response.session)))
        return "".join(parts)


async def event_frames(
    request: Request, watch: SessionWatch, first: sessions_pb2.WatchSessionResponse
) -> AsyncIterator[str]:
    """Frames of the stream: each WatchSession response as it comes; a keep-alive comment when quiet."""
    yield f"retry: {CLIENT_RETRY_MS}\n\n"
    sent = SentFrames()
    pending: asyncio.Task[sessions_pb2.WatchSessionResponse | None] | None = None
    response: sessions_pb2.WatchSessionResponse | None = first
    resumed = False
    try:
        while True:
            if response is not None:
                frames = sent.frames(response, resumed)
                resumed = False
                if frames:
                    yield frames
                if response.end_state:
                    return
                response = None
            if pending is None:
                pending = asyncio.ensure_future(watch.read())
            done, _ = await asyncio.wait({pending}, timeout=HEARTBEAT_SECONDS)
            if not done:
                if await request.is_disconnected():
                    return
                yield ": keep-alive\n\n"
                continue
            try:
                response = pending.result()
            except grpc.aio.AioRpcError as error:
                if error.code() not in TRANSIENT_CODES:
                    _, body = rpc_error_response(error, SESSIONS_SERVICE)
                    yield sse_frame("problem", body)
                    return
                response = None
            pending = None
            if response is None:
                # The call broke or ended early (a replica stopping): call again from where it was.
                if await request.is_disconnected():
                    return
                await asyncio.sleep(TRANSIENT_RETRY_SECONDS)
                watch.open()
                resumed = True
    finally:
        if pending is not None:
            pending.cancel()
        watch.close()


class HeldStream(StreamingResponse):
    """A streaming response that gives its stream slot back however the stream ends."""

    def __init__(self, content: AsyncIterator[str], release: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


def too_many_streams(streams: OpenStreams, reason: str) -> Response:
    wait = str(streams.caps.retry_after_seconds)
    error = GatewayError(429, reason, metadata={"retry_after_seconds": wait})
    headers = {"Retry-After": wait}
    return JSONResponse(error.body(), status_code=429, headers=headers)


async def stream_session_events(request: Request, streams: OpenStreams, stubs: Iterator[Any]) -> Response:
    # Refused before any backend call: a full gateway spends nothing on a new stream.
    refused = streams.refusal()
    if refused is not None:
        return too_many_streams(streams, refused)
    try:
        token = bearer_token(request)
    except GatewayError as refusal:
        return refused_token(refusal)
    metadata = [("x-request-id", request_id_of(request.scope)), *current_headers().items()]
    if token:
        metadata.append(("authorization", f"Bearer {token}"))
    watch = SessionWatch(stubs, request.path_params["id"], tuple(metadata))
    # The first response comes before the stream starts, so a bad token or a stranger's session is
    # a plain HTTP error (EventSource gives up on those instead of reconnecting forever).
    try:
        watch.open()
        first = await watch.read()
    except grpc.aio.AioRpcError as error:
        watch.close()
        status, body = rpc_error_response(error, SESSIONS_SERVICE)
        return JSONResponse(body, status_code=status, headers=retry_after(error))
    except BaseException:
        watch.close()
        raise
    if first is None:
        watch.close()
        ended = GatewayError(503, "the sessions service ended the stream before it began")
        return JSONResponse(ended.body(), status_code=503)
    # The sessions service answered with the caller's own session: its owner is the caller.
    owner = first.session.customer_id
    refused = streams.acquire(owner)
    if refused is not None:
        watch.close()
        return too_many_streams(streams, refused)

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return HeldStream(
        event_frames(request, watch, first),
        release=lambda: streams.release(owner),
        media_type="text/event-stream",
        headers=headers,
    )


def session_events_route(caps: StreamCaps | None = None) -> Route:
    streams = OpenStreams(caps or StreamCaps())
    stubs: dict[int, Iterator[Any]] = {}

    async def endpoint(request: Request) -> Response:
        # The stubs of this app's channels, made once: each new stream starts on the next replica.
        backends = request.app.state.backends
        cycle = stubs.get(id(backends))
        if cycle is None:
            channels = backends.channels(SESSIONS_PACKAGE)
            cycle = stubs[id(backends)] = itertools.cycle(
                [sessions_pb2_grpc.SessionsServiceStub(c) for c in channels]
            )
        return await stream_session_events(request, streams, cycle)

    return Route(STREAM_PATH, endpoint, methods=["GET"])
