"""Chaos on business routes: latency, a 503 before the work, or the work then a 500 or a dropped line."""

from __future__ import annotations

import asyncio
import json
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from simulated_world.providers.chaos_control import ChaosControl
from simulated_world.providers.domain.chaos import Failure

log = logging.getLogger(__name__)
_BUSINESS_PREFIXES = ("/hotels", "/flights", "/holds", "/payments")


def chaos_applies(path: str) -> bool:
    """Business JSON routes only: never /admin, /healthz, /openapi.json or the browser checkout page."""
    if "/checkout" in path:
        return False
    return path.startswith(_BUSINESS_PREFIXES)


class ChaosMiddleware:
    def __init__(self, app: ASGIApp, chaos: ChaosControl) -> None:
        self.app = app
        self.chaos = chaos

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not chaos_applies(scope["path"]):
            await self.app(scope, receive, send)
            return
        decision = self.chaos.next_request()
        if decision.latency_ms > 0:
            await asyncio.sleep(decision.latency_ms / 1000)
        if decision.failure is Failure.NONE:
            await self.app(scope, receive, send)
        elif decision.failure is Failure.UNAVAILABLE:
            await _send_json(send, 503, "UNAVAILABLE", "injected failure: nothing was done")
        else:
            await self.app(scope, receive, _discard)  # the work happens and commits
            if decision.failure is Failure.AMBIGUOUS_500:
                await _send_json(send, 500, "INTERNAL", "injected ambiguous failure")
                return
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
                }
            )
            # Returning with the body unsent makes the server close the connection mid-response.
            log.info("chaos: dropped the connection of %s %s after the work", scope["method"], scope["path"])


async def _discard(_message: Message) -> None:
    return None


async def _send_json(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"error": code, "message": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
