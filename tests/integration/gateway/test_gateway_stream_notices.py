"""A booking followed through the gateway reads its session once: the rest comes in the notices.

A real sessions service (SQLite, gRPC, its saga steps, outbox relay and WatchSession), hotel and
flights steps that succeed on the real bus, and the real gateway stream over WatchSession.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.protobuf import json_format
from redis.asyncio import Redis
from travel.sessions.v1 import sessions_pb2 as pb

from bus.session_notices import READ_AGAIN
from gateway.app import build_app
from gateway.config import GatewayConfig
from gateway.session_events import session_events_route
from services.sessions.events import SessionTimeline
from tests.support.followed_bookings import Bookings, followed_bookings
from tests.support.gateway import serve_gateway
from tests.support.polling import eventually

DEADLINE_SECONDS = 30.0


class Booking:
    def __init__(self, bookings: Bookings, gateway_url: str, reads: list[str]) -> None:
        self.bookings = bookings
        self.gateway_url = gateway_url
        self.reads = reads  # sessions the sessions service read with their timeline, in order

    @property
    def keys(self) -> Any:
        return self.bookings.keys

    @property
    def redis_url(self) -> str:
        return self.bookings.redis_url


@pytest.fixture
async def booking(
    tmp_path: Path, redis_url: str, unique_id: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Booking]:
    reads: list[str] = []
    owned = SessionTimeline.owned

    async def counted(self: SessionTimeline, session_id: str, customer_id: str) -> Any:
        reads.append(session_id)
        return await owned(self, session_id, customer_id)

    # Counted, and still the real read: how often following a session costs a read of it.
    monkeypatch.setattr(SessionTimeline, "owned", counted)
    async with followed_bookings(tmp_path, redis_url, f"notices{unique_id}") as bookings:
        config = GatewayConfig(backends={"sessions": (bookings.address,)})
        app = build_app(config, [session_events_route(config.streams)], files=[pb.DESCRIPTOR])
        async with serve_gateway(app) as url:
            yield Booking(bookings, url, reads)


async def checked_out(booking: Booking) -> tuple[str, str]:
    return await booking.bookings.checked_out()


async def pay(booking: Booking, session_id: str) -> None:
    await booking.bookings.pay(session_id)


async def timeline(booking: Booking, session_id: str, token: str) -> pb.ListSessionEventsResponse:
    return await booking.bookings.timeline(session_id, token)


class Frames:
    """Reads SSE frames of one response as (event, data) pairs."""

    def __init__(self, response: httpx.Response) -> None:
        self._lines = response.aiter_lines()
        self.seen: list[tuple[str, Any]] = []

    async def until(self, wanted: str, check: Any = None) -> Any:
        deadline = time.monotonic() + DEADLINE_SECONDS
        name = ""
        async for line in self._lines:
            assert time.monotonic() < deadline, f"no {wanted} frame in time: {self.seen}"
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data = json.loads(line.removeprefix("data: "))
                self.seen.append((name, data))
                if name == wanted and (check is None or check(data)):
                    return data
        raise AssertionError(f"the stream ended before a {wanted} frame: {self.seen}")

    def named(self, name: str) -> list[Any]:
        return [data for event, data in self.seen if event == name]


async def follow(booking: Booking, session_id: str, token: str, between: Any) -> Frames:
    """Open the session's stream, run `between` once its first state came, read until the end."""
    path = f"/v1/sessions/{session_id}/events:stream?access_token={token}"
    async with (
        httpx.AsyncClient(base_url=booking.gateway_url, timeout=DEADLINE_SECONDS) as client,
        client.stream("GET", path) as response,
    ):
        assert response.status_code == 200
        frames = Frames(response)
        await frames.until("session", lambda s: s["state"] == "STATE_PAYMENT_PENDING")
        await between()
        end = await frames.until("end")
    assert end == {"state": "STATE_CONFIRMED"}
    return frames


def as_json(message: Any) -> dict[str, Any]:
    return dict(json_format.MessageToDict(message, always_print_fields_with_no_presence=True))


def assert_every_frame_once_in_order(
    frames: Frames, final: pb.ListSessionEventsResponse, *, reread: bool = False
) -> None:
    """Every timeline entry exactly once; each saga's records, and the session's own, in their order;
    the states in the order the session went through them, ending with the session as it is."""
    sent = frames.named("saga")
    expected = [as_json(event) for event in final.events]
    assert sorted(map(json.dumps, sent)) == sorted(map(json.dumps, expected)), "each entry exactly once"
    for source in {(e["kind"] == "session", e["sagaId"]) for e in expected}:

        def of_source(events: list[dict[str, Any]], source: tuple[bool, str] = source) -> list[Any]:
            return [e for e in events if (e["kind"] == "session", e["sagaId"]) == source]

        assert of_source(sent) == of_source(expected), f"entries of {source} out of order"
    states = [s["state"] for s in frames.named("session")]
    went_through = ["STATE_PAYMENT_PENDING", "STATE_CONFIRMING", "STATE_CONFIRMED"]
    if reread:
        # A re-read sends the session as it is by then: a state it passed meanwhile is not shown.
        assert states[0] == went_through[0] and states[-1] == went_through[-1], states
        assert states == [state for state in went_through if state in states], states
    else:
        assert states == went_through
    versions = [int(s["version"]) for s in frames.named("session")]
    assert versions == sorted(set(versions))
    assert frames.named("session")[-1] == as_json(final.session)


async def test_a_whole_booking_is_streamed_with_one_read_of_the_session(booking: Booking) -> None:
    session_id, token = await checked_out(booking)
    frames = await follow(booking, session_id, token, lambda: pay(booking, session_id))
    reads = booking.reads.count(session_id)
    final = await timeline(booking, session_id, token)
    assert reads == 1, "the stream read the session when it opened, and never again"
    assert any(e.outcome == "SAGA_COMPLETED" for e in final.events)
    assert_every_frame_once_in_order(frames, final)


async def test_a_missed_notice_costs_one_read_and_no_frame(booking: Booking) -> None:
    session_id, token = await checked_out(booking)
    redis = Redis.from_url(booking.redis_url)

    async def lose_a_notice_then_pay() -> None:
        # As if a notice had been published and lost: the next one comes with a number too far on.
        await redis.incr(booking.keys.session_notices(session_id))
        await pay(booking, session_id)

    try:
        frames = await follow(booking, session_id, token, lose_a_notice_then_pay)
    finally:
        await redis.aclose()
    reads = booking.reads.count(session_id)
    final = await timeline(booking, session_id, token)
    assert reads == 2, "one read when the stream opened, one when it saw the jump"
    assert_every_frame_once_in_order(frames, final, reread=True)


async def test_a_notice_that_carries_nothing_costs_one_read_and_the_watch_lets_go_at_the_end(
    booking: Booking,
) -> None:
    session_id, token = await checked_out(booking)
    redis = Redis.from_url(booking.redis_url)
    channel = booking.keys.session_changes(session_id)

    async def read_again_then_pay() -> None:
        assert await redis.publish(channel, READ_AGAIN) == 1, "the sessions service listens"
        await eventually(
            lambda: booking.reads.count(session_id) == 2,
            timeout=DEADLINE_SECONDS,
            what="the notice that carries nothing to make the watch read the session",
        )
        await pay(booking, session_id)

    async def nobody_listens() -> bool:
        return bool((await redis.pubsub_numsub(channel))[0][1] == 0)

    try:
        frames = await follow(booking, session_id, token, read_again_then_pay)
        await eventually(
            nobody_listens,
            timeout=DEADLINE_SECONDS,
            what="the sessions service to stop listening to an ended watch's session",
        )
    finally:
        await redis.aclose()
    assert booking.reads.count(session_id) == 2, "one read per such notice, nothing on a timer"
    assert_every_frame_once_in_order(frames, await timeline(booking, session_id, token))
