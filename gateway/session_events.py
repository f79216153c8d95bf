"""`GET /v1/sessions/{id}/events:stream`: a session's saga timeline and state as Server-Sent Events.

Pushed, not polled: the stream reads the session once when it opens, then forwards what each
notice on the session's change channel carries; only a notice it missed makes it read again.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import grpc
from google.protobuf import json_format
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send
from travel.sessions.v1 import sessions_pb2, sessions_pb2_grpc

from bus.history import HistoryEvent
from gateway.errors import GatewayError, rpc_error_response
from kit.open_streams import OpenStreams, StreamCaps
from gateway.request_id import request_id_of
from gateway.session_changes import ChangeWatch, SessionChanges
from kit.trace_context import current_headers

SESSIONS_PACKAGE = "travel.sessions.v1"
SESSIONS_SERVICE = "travel.sessions.v1.SessionsService"
STREAM_PATH = "/v1/sessions/{id}/events:stream"

# With nothing to say for this long, the stream writes a comment (a vanished client that sent no
# FIN gets noticed) and reads the session once more, in case its last notice was lost.
HEARTBEAT_SECONDS = 15.0
# The last saga records land a moment after the end state they caused: wait for them this long at most.
SETTLE_SECONDS = 2.0
# After a transient backend error, read again after this long even without a notice.
TRANSIENT_RETRY_SECONDS = 1.0
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
# The last record of a saga: once every saga of an ended session has one, nothing more will come.
# A saga step's outcome is its history event, upper-cased (services/sessions/events.py).
SAGA_END_OUTCOMES = frozenset(
    event.value.upper()
    for event in (HistoryEvent.SAGA_COMPLETED, HistoryEvent.SAGA_COMPENSATED, HistoryEvent.DEAD_LETTERED)
)
# Worth another read: the backend is restarting, slow or briefly overloaded.
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


@dataclass(frozen=True)
class Snapshot:
    """A session and its whole timeline, and how many of its notices the read covers."""

    session: sessions_pb2.Session
    events: list[sessions_pb2.SessionEvent]
    covered: int = 0  # every notice numbered up to this is in the read


class NoticesUnavailable(Exception):
    """The notice count could not be read: the read is retried like a backend that is restarting."""


class SessionReader(Protocol):
    async def read(self) -> Snapshot: ...


class ChangeSignal(Protocol):
    async def take(self, timeout: float) -> list[sessions_pb2.SessionNotice]: ...


class NoticeCount(Protocol):
    async def published(self) -> int: ...


@dataclass
class SessionEventsReader:
    """Reads one session with its events in one call, with the caller's token, over the replicas."""

    channels: list[grpc.aio.Channel]
    session_id: str
    metadata: tuple[tuple[str, str], ...]
    timeout: float
    notices: NoticeCount
    _stubs: Any = field(init=False)

    def __post_init__(self) -> None:
        self._stubs = itertools.cycle([sessions_pb2_grpc.SessionsServiceStub(c) for c in self.channels])

    async def read(self) -> Snapshot:
        # The count first: a notice counted before it describes a change the read already sees.
        try:
            async with asyncio.timeout(self.timeout):
                covered = await self.notices.published()
        except (RedisError, OSError, TimeoutError) as error:
            raise NoticesUnavailable(str(error)) from error
        reply = await next(self._stubs).ListSessionEvents(
            sessions_pb2.ListSessionEventsRequest(id=self.session_id),
            metadata=self.metadata,
            timeout=self.timeout,
        )
        return Snapshot(reply.session, list(reply.events), covered)


@dataclass
class StreamState:
    """What this stream already told the client, so each read or notice pushes only what is new."""

    seen_events: set[bytes] = field(default_factory=set)
    last_session: dict[str, Any] | None = None
    session: sessions_pb2.Session | None = None
    covered: int = 0
    sagas: set[str] = field(default_factory=set)
    ended_sagas: set[str] = field(default_factory=set)
    settle_until: float | None = None

    def read_frames(self, snapshot: Snapshot) -> list[str]:
        """Frames of a read: every event not sent yet, and the session if it changed."""
        self.covered = snapshot.covered
        frames = self._event_frames(snapshot.events)
        current = as_json(snapshot.session)
        if current != self.last_session:
            frames.append(self._session_frame(snapshot.session, current))
        return frames

    def needs_read(self, notice: sessions_pb2.SessionNotice) -> bool:
        """The notice does not carry its change, or a notice before it never came."""
        if notice.seq and notice.seq <= self.covered:
            return False  # in what the stream already read or was told
        return notice.read_again or not notice.seq or notice.seq > self.covered + 1

    def notice_frames(self, notice: sessions_pb2.SessionNotice) -> list[str]:
        """Frames of the next notice in order (`needs_read` said no): what it carries that is new."""
        if notice.seq <= self.covered:
            return []
        self.covered = notice.seq
        frames = self._event_frames(notice.events)
        # A read may already have shown this state or a later one.
        if notice.HasField("session") and (
            self.session is None or notice.session.version > self.session.version
        ):
            frames.append(self._session_frame(notice.session, as_json(notice.session)))
        return frames

    def _event_frames(self, events: Iterable[sessions_pb2.SessionEvent]) -> list[str]:
        frames: list[str] = []
        for event in events:
            if event.saga_id and event.kind != "session":
                self.sagas.add(event.saga_id)
            if event.outcome in SAGA_END_OUTCOMES:
                self.ended_sagas.add(event.saga_id)
            # A read re-sorts the timeline, and a read and a notice may both carry an event:
            # an event is known by its content, not its index.
            key = event.SerializeToString(deterministic=True)
            if key not in self.seen_events:
                self.seen_events.add(key)
                frames.append(sse_frame("saga", as_json(event)))
        return frames

    def _session_frame(self, session: sessions_pb2.Session, current: dict[str, Any]) -> str:
        self.session = session
        self.last_session = current
        return sse_frame("session", current)

    def finished(self, now: float) -> bool:
        """The session ended and its sagas wrote their last records, or waited long enough for them."""
        if self.session is None or self.session.state not in STREAM_END_STATES:
            return False
        if self.settle_until is None:
            self.settle_until = now + SETTLE_SECONDS
        return self.sagas <= self.ended_sagas or now >= self.settle_until

    def next_wake(self, now: float, last_write: float, failed: bool) -> float:
        """Seconds to wait for a notice before reading anyway."""
        wake = last_write + HEARTBEAT_SECONDS
        if self.settle_until is not None:
            wake = min(wake, self.settle_until)
        if failed:
            wake = min(wake, now + TRANSIENT_RETRY_SECONDS)
        return max(0.0, wake - now)


async def event_frames(
    request: Request, reader: SessionReader, changes: ChangeSignal, first: Snapshot | None = None
) -> AsyncIterator[str]:
    """Frames of the stream: one read, then what each notice carries; a missed notice costs a read.

    `first` is a snapshot already read (after `changes` began listening), so nothing is missed.
    """
    yield f"retry: {CLIENT_RETRY_MS}\n\n"
    state = StreamState()
    last_write = time.monotonic()
    pending: deque[sessions_pb2.SessionNotice] = deque()
    snapshot, read_due, failed = first, first is None, False
    while True:
        frames: list[str] = []
        if read_due:
            try:
                snapshot = await reader.read()
                read_due = failed = False
            except NoticesUnavailable:
                failed = True
            except grpc.aio.AioRpcError as error:
                if error.code() not in TRANSIENT_CODES:
                    _, body = rpc_error_response(error, SESSIONS_SERVICE)
                    yield sse_frame("problem", body)
                    return
                failed = True
        if snapshot is not None:
            frames += state.read_frames(snapshot)
            snapshot = None
        while pending and not read_due:
            notice = pending.popleft()
            if state.needs_read(notice):
                # The read counts at least this notice: it was published before the read began.
                read_due = True
            else:
                frames += state.notice_frames(notice)
        if frames:
            yield "".join(frames)
            last_write = time.monotonic()
        if read_due and not failed:
            continue
        if not read_due and state.finished(time.monotonic()):
            assert state.session is not None
            yield sse_frame("end", {"state": sessions_pb2.State.Name(state.session.state)})
            return
        if await request.is_disconnected():
            return
        notices = await changes.take(state.next_wake(time.monotonic(), last_write, failed))
        if notices:
            pending.extend(notices)
            continue
        # Nothing came in time: the heartbeat, the end of settling, or a retry after a failed read.
        if time.monotonic() - last_write >= HEARTBEAT_SECONDS:
            # A write is also how a vanished client that sent no FIN gets noticed.
            yield ": keep-alive\n\n"
            last_write = time.monotonic()
        read_due = True  # and a read, in case the last notice was lost


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


def watch_session(request: Request, session_id: str) -> ChangeWatch | None:
    """Start listening for the session's changes; None when this gateway has no subscription."""
    changes: SessionChanges | None = getattr(request.app.state, "session_changes", None)
    if changes is None:
        return None
    try:
        return changes.watch(session_id)
    except ValueError:
        return ChangeWatch()  # no channel carries such an id; the sessions service refuses it below


async def stream_session_events(request: Request, streams: OpenStreams) -> Response:
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
    session_id = request.path_params["id"]
    watch = watch_session(request, session_id)
    if watch is None:
        error = GatewayError(503, "event streams are not available on this gateway")
        return JSONResponse(error.body(), status_code=503)
    reader = SessionEventsReader(
        channels=request.app.state.backends.channels(SESSIONS_PACKAGE),
        session_id=session_id,
        metadata=tuple(metadata),
        timeout=request.app.state.config.rpc_timeout_seconds,
        notices=watch,
    )
    # Listening first, then the first read: a change in between is not missed. The read happens
    # before the stream starts, so a bad token or a stranger's session is a plain HTTP error
    # (EventSource gives up on those instead of reconnecting forever).
    try:
        await watch.subscribed()
        first = await reader.read()
    except grpc.aio.AioRpcError as error:
        watch.close()
        status, body = rpc_error_response(error, SESSIONS_SERVICE)
        return JSONResponse(body, status_code=status)
    except NoticesUnavailable:
        watch.close()
        return JSONResponse(GatewayError(503, "change notices are unavailable").body(), status_code=503)
    except BaseException:
        watch.close()
        raise
    # The sessions service answered with the caller's own session: its owner is the caller.
    owner = first.session.customer_id
    refused = streams.acquire(owner)
    if refused is not None:
        watch.close()
        return too_many_streams(streams, refused)

    def release() -> None:
        streams.release(owner)
        watch.close()

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return HeldStream(
        event_frames(request, reader, watch, first),
        release=release,
        media_type="text/event-stream",
        headers=headers,
    )


def session_events_route(caps: StreamCaps | None = None) -> Route:
    streams = OpenStreams(caps or StreamCaps())

    async def endpoint(request: Request) -> Response:
        return await stream_session_events(request, streams)

    return Route(STREAM_PATH, endpoint, methods=["GET"])
