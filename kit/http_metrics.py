"""HTTP requests served, timed by route template and status code: never by raw path (an id is no label)."""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kit.metrics import observe_http_served

# A client picks the method: anything else is one label, so no client can grow the label set.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def method_of(scope: Scope) -> str:
    method = scope.get("method", "")
    return method if method in _METHODS else "OTHER"


def route_template(scope: Scope) -> str:
    """`METHOD /template` of the Starlette route that took the request, or `METHOD unrouted`."""
    path = getattr(scope.get("route"), "path", None)
    return f"{method_of(scope)} {path if isinstance(path, str) else 'unrouted'}"


class CountedRequests:
    """Pure ASGI, outermost, so it sees the route the router recorded in the scope once it has run."""

    def __init__(self, app: ASGIApp, label: Callable[[Scope], str] = route_template) -> None:
        self.app = app
        self.label = label

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        # A request that ends before answering counts as the 500 the ASGI server then sends.
        status = 500

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            observe_http_served(self.label(scope), status, time.perf_counter() - started)
