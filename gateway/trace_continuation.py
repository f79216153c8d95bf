"""Honour a request's `traceparent` header when no tracing middleware has started a span for it."""

from __future__ import annotations

from opentelemetry import trace
from starlette.types import ASGIApp, Receive, Scope, Send

from kit.trace_context import TRACEPARENT, TRACESTATE, continued

_TRACEPARENT = TRACEPARENT.encode()
_TRACESTATE = TRACESTATE.encode()


class TraceContinuation:
    """Pure ASGI: with tracing off, the caller's trace still reaches the logs, the backends and the
    sagas this request starts; with tracing on, OpenTelemetry's middleware has done it already."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or trace.get_current_span().get_span_context().is_valid:
            await self.app(scope, receive, send)
            return
        traceparent = tracestate = b""
        for name, value in scope["headers"]:
            if name == _TRACEPARENT:
                traceparent = value
            elif name == _TRACESTATE:
                tracestate = value
        if not traceparent:
            await self.app(scope, receive, send)
            return
        with continued(traceparent.decode("latin-1"), tracestate.decode("latin-1")):
            await self.app(scope, receive, send)
