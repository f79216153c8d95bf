"""Following a session over real HTTP: a refused or broken-off stream is opened again until it ends,
and an ended stream leaves its connection for the next call."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.support.gateway import serve_gateway
from tools.http_calls import http_session
from tools.session_stream import follow_session

SESSION = "s-1"


def frame(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


def scripted_gateway(
    answers: list[Any], peers: list[int] | None = None, read: asyncio.Event | None = None
) -> tuple[Starlette, list[str]]:
    """Each request to the stream gets the next answer: a status code, or the frames of a stream.

    `peers` collects the client port of each request: the same port is the same connection. With
    `read`, a stream ends its response only once the client has read the last frame (it sets `read`),
    so the end of the response reaches the client after the frame, never in the same packet.
    """
    seen: list[str] = []

    async def stream(request: Request) -> Response:
        seen.append(request.headers.get("authorization", ""))
        if peers is not None and request.client is not None:
            peers.append(request.client.port)
        answer = answers.pop(0)
        if isinstance(answer, int):
            return JSONResponse(
                {"code": 14, "message": "busy"}, status_code=answer, headers={"Retry-After": "0"}
            )

        async def frames() -> AsyncIterator[str]:
            for item in answer:
                yield item
            if read is not None:
                await read.wait()
                read.clear()

        return StreamingResponse(frames(), media_type="text/event-stream")

    return Starlette(routes=[Route("/v1/sessions/{id}/events:stream", stream)]), seen


async def test_a_refused_then_broken_stream_is_followed_to_its_end() -> None:
    pending = {"state": "STATE_CONFIRMING"}
    app, seen = scripted_gateway(
        [
            503,
            [frame("session", pending)],  # the gateway went away before the end
            [
                frame("session", pending),
                frame("saga", {"step": "hotel.confirm"}),
                frame("end", {"state": "STATE_CONFIRMED"}),
            ],
        ]
    )
    frames: list[str] = []
    async with serve_gateway(app) as url, http_session(timeout_seconds=10) as client:
        end = await follow_session(
            client,
            url,
            SESSION,
            {"Authorization": "Bearer t"},
            timeout=30,
            on_frame=lambda n, _: frames.append(n),
        )
    assert (end.state, end.ended) == ("STATE_CONFIRMED", True)
    assert frames == ["session", "session", "saga", "end"]
    assert seen == ["Bearer t"] * 3


async def test_a_stranger_is_refused_once_and_for_all() -> None:
    app, seen = scripted_gateway([404, [frame("end", {"state": "STATE_CONFIRMED"})]])
    async with serve_gateway(app) as url, http_session(timeout_seconds=10) as client:
        end = await follow_session(client, url, SESSION, {}, timeout=30)
    assert (end.state, end.ended) == ("", False)
    assert len(seen) == 1


async def test_an_ended_stream_leaves_its_connection_for_the_next_one() -> None:
    ended = [frame("session", {"state": "STATE_CONFIRMING"}), frame("end", {"state": "STATE_CONFIRMED"})]
    peers: list[int] = []
    read = asyncio.Event()
    app, _ = scripted_gateway([ended, ended, ended], peers, read)

    def on_frame(name: str, _: Any) -> None:
        if name == "end":
            read.set()

    async with serve_gateway(app) as url, http_session(timeout_seconds=10) as client:
        ends = [await follow_session(client, url, f"s-{n}", {}, 30, on_frame) for n in range(3)]
    assert {(end.state, end.ended) for end in ends} == {("STATE_CONFIRMED", True)}
    assert len(peers) == 3
    assert len(set(peers)) == 1  # one connection, kept alive from one booking's stream to the next
