"""Give every request an x-request-id (the client's when sane), echo it, and log the request under it."""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kit import log_context

log = logging.getLogger(__name__)

SCOPE_KEY = "gateway.request_id"
_SANE = re.compile(rb"[A-Za-z0-9._:/+=-]{1,128}")
# Probes call it all day; a line each would drown the requests that matter.
_UNLOGGED_PATHS = frozenset({"/healthz"})


def request_id_of(scope: Scope) -> str:
    """The id the middleware chose for this request (a new one outside the middleware)."""
    value = scope.get(SCOPE_KEY)
    return str(value) if value else uuid.uuid4().hex


class RequestIdMiddleware:
    """Pure ASGI (no Request objects) because it runs on every call, transcoded or not."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chosen = b""
        for name, value in scope["headers"]:
            if name == b"x-request-id" and _SANE.fullmatch(value):
                chosen = value
                break
        # A client id that is not a safe metadata value is replaced rather than forwarded.
        if not chosen:
            chosen = uuid.uuid4().hex.encode()
        request_id = scope[SCOPE_KEY] = chosen.decode()
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", chosen))
                message = {**message, "headers": headers}
                if scope["path"] not in _UNLOGGED_PATHS:
                    elapsed_ms = (time.perf_counter() - started) * 1000
                    status = message["status"]
                    log.info("%s %s %d in %.1f ms", scope["method"], scope["path"], status, elapsed_ms)
            await send(message)

        # Every line logged while serving the request (and the calls it makes) carries its id.
        with log_context.bound(request_id=request_id):
            await self.app(scope, receive, send_with_id)
