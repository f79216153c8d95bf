"""The request id and trace of a gRPC call: read from metadata when served, added when calling out."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from grpc_interceptor.server import AsyncServerInterceptor
from opentelemetry import trace

from services.kit import log_context
from services.kit.trace_context import TRACEPARENT, TRACESTATE, continued, current_headers

log = logging.getLogger(__name__)

REQUEST_ID = "x-request-id"
# Probes and tooling call these all day; a line per call would drown the ones that matter.
_UNLOGGED = ("/grpc.health.", "/grpc.reflection.")


def outgoing_metadata() -> list[tuple[str, str]]:
    """What a call to another service carries of the current context: request id and trace."""
    metadata = list(current_headers().items())
    request_id = log_context.current_request_id()
    if request_id:
        metadata.append((REQUEST_ID, request_id))
    return metadata


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class CallContextInterceptor(AsyncServerInterceptor):
    """Binds the caller's request id, the request's session id and the caller's trace for the call's
    log lines, and logs one line per call served.

    When OpenTelemetry's own server interceptor runs (tracing on) it has already started the call's
    span from the metadata; otherwise the caller's trace is continued without a span.
    """

    async def intercept(
        self, method: Callable[..., Any], request_or_iterator: Any, context: Any, method_name: str
    ) -> Any:
        if method_name.startswith(_UNLOGGED):
            return await super().intercept(method, request_or_iterator, context, method_name)
        request_id = traceparent = tracestate = ""
        for key, value in context.invocation_metadata() or ():
            if key == REQUEST_ID:
                request_id = _text(value)
            elif key == TRACEPARENT:
                traceparent = _text(value)
            elif key == TRACESTATE:
                tracestate = _text(value)
        if trace.get_current_span().get_span_context().is_valid:
            traceparent = ""  # the call's own span is current already
        session_id = getattr(request_or_iterator, "session_id", "")
        fields = {"request_id": request_id, "session_id": session_id if isinstance(session_id, str) else ""}
        response = method(request_or_iterator, context)
        if hasattr(response, "__aiter__"):
            return self._streamed(response, fields, traceparent, tracestate, method_name)
        with log_context.bound(**fields), continued(traceparent, tracestate):
            started = time.perf_counter()
            try:
                result = await response
            except BaseException:
                log.info("%s failed in %.1f ms", method_name, (time.perf_counter() - started) * 1000)
                raise
            log.info("%s served in %.1f ms", method_name, (time.perf_counter() - started) * 1000)
            return result

    async def _streamed(
        self, responses: Any, fields: dict[str, str], traceparent: str, tracestate: str, method_name: str
    ) -> AsyncIterator[Any]:
        with log_context.bound(**fields), continued(traceparent, tracestate):
            log.info("%s stream opened", method_name)
            async for response in responses:
                yield response
