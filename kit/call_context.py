"""The request id and trace of a gRPC call: read from metadata when served, added when calling out."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace

from kit import log_context
from kit.trace_context import TRACEPARENT, TRACESTATE, continued, current_headers

REQUEST_ID = "x-request-id"


def outgoing_metadata() -> list[tuple[str, str]]:
    """What a call to another service carries of the current context: request id and trace."""
    metadata = list(current_headers().items())
    request_id = log_context.current_request_id()
    if request_id:
        metadata.append((REQUEST_ID, request_id))
    return metadata


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class IncomingIds:
    """What a served call's log lines and trace continue: the caller's request id and trace, and the
    request's session id when it names one."""

    request_id: str
    session_id: str
    traceparent: str
    tracestate: str

    def log_fields(self) -> log_context.bound:
        return log_context.bound(request_id=self.request_id, session_id=self.session_id)

    def trace(self) -> continued:
        return continued(self.traceparent, self.tracestate)


def incoming_ids(metadata: Iterable[tuple[str, Any]] | None, request: Any) -> IncomingIds:
    """Read from the call's metadata and request.

    When OpenTelemetry's own server interceptor runs (tracing on) it has already started the call's
    span from the metadata; otherwise the caller's trace is continued without a span.
    """
    request_id = traceparent = tracestate = ""
    for key, value in metadata or ():
        if key == REQUEST_ID:
            request_id = _text(value)
        elif key == TRACEPARENT:
            traceparent = _text(value)
        elif key == TRACESTATE:
            tracestate = _text(value)
    if trace.get_current_span().get_span_context().is_valid:
        traceparent = ""  # the call's own span is current already
    session_id = getattr(request, "session_id", "")
    return IncomingIds(request_id, session_id if isinstance(session_id, str) else "", traceparent, tracestate)
