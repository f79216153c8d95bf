"""Following a session over real HTTP: a refused or broken-off stream is opened again until it ends."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from operations.session_stream import follow_session
from tests.support.gateway import serve_gateway

SESSION = "s-1"


def frame(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


def scripted_gateway(answers: list[Any]) -> tuple[Starlette, list[str]]:
    """Each request to the stream gets the next answer: a status code, or the frames of a stream."""
    seen: list[str] = []

    async def stream(request: Request) -> Response:
        seen.append(request.headers.get("authorization", ""))
        answer = answers.pop(0)
        if isinstance(answer, int):
            return JSONResponse(
                {"code": 14, "message": "busy"}, status_code=answer, headers={"Retry-After": "0"}
            )

        async def frames() -> AsyncIterator[str]:
            for item in answer:
                yield item

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
    async with serve_gateway(app) as url, httpx.AsyncClient(timeout=10) as client:
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
    async with serve_gateway(app) as url, httpx.AsyncClient(timeout=10) as client:
        end = await follow_session(client, url, SESSION, {}, timeout=30)
    assert (end.state, end.ended) == ("", False)
    assert len(seen) == 1
