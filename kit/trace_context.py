"""W3C trace context in and out of carriers (HTTP headers, gRPC metadata, routing slips).

With the SDK installed the current trace is OpenTelemetry's current span. Without it (no exporter)
nothing is recorded, and a caller's trace is carried as its checked `traceparent` text in a context
variable: continuing it costs a regular-expression match, and the text is only taken apart when a
log line or an outgoing call asks for it. The API's own extraction costs ten times more, on every
saga step.
"""

from __future__ import annotations

import re
from contextvars import ContextVar, Token
from types import TracebackType

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from kit.context_vars import reset

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"

_W3C = TraceContextTextMapPropagator()
# version-traceid-parentid-flags, lower-case hex; all-zero ids and version ff are invalid.
_TRACEPARENT = re.compile(r"(?!ff)[0-9a-f]{2}-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}")
# Passed on as received, so it only has to be safe in a header or metadata value.
_TRACESTATE = re.compile(r"[\x20-\x7e]{1,512}")
_REMOTE: ContextVar[tuple[str, str]] = ContextVar("remote_trace", default=("", ""))


def is_traceparent(value: str) -> bool:
    return _TRACEPARENT.fullmatch(value) is not None


def context_from(traceparent: str, tracestate: str = "") -> Context | None:
    """An OpenTelemetry context whose current span is the remote parent named, or None."""
    if not traceparent:
        return None
    carrier = {TRACEPARENT: traceparent}
    if tracestate:
        carrier[TRACESTATE] = tracestate
    # A fresh base: what the current context holds (e.g. suppressed instrumentation) stays behind.
    found = _W3C.extract(carrier, context=Context())
    return found if trace.get_current_span(found).get_span_context().is_valid else None


class continued:  # named like a function, as it is used: `with continued(traceparent):`
    """Within the block the current trace is the one named, carried as text (no span is started).

    A value that is not a valid traceparent leaves the current trace as it is.
    """

    __slots__ = ("_token", "_value")

    def __init__(self, traceparent: str, tracestate: str = "") -> None:
        if not traceparent or not is_traceparent(traceparent):
            self._value: tuple[str, str] | None = None
        else:
            self._value = (traceparent, tracestate if _TRACESTATE.fullmatch(tracestate) else "")
        self._token: Token[tuple[str, str]] | None = None

    def __enter__(self) -> None:
        if self._value is not None:
            self._token = _REMOTE.set(self._value)

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._token is not None:
            reset(_REMOTE, self._token)


def current_headers() -> dict[str, str]:
    """`traceparent` (and `tracestate`) of the current trace; empty when there is none."""
    if trace.get_current_span().get_span_context().is_valid:
        carrier: dict[str, str] = {}
        _W3C.inject(carrier)
        return carrier
    traceparent, tracestate = _REMOTE.get()
    if not traceparent:
        return {}
    return {TRACEPARENT: traceparent, TRACESTATE: tracestate} if tracestate else {TRACEPARENT: traceparent}


def current_ids() -> tuple[str, str]:
    """The current trace id and span id in hex (the caller's span when none is recorded here), or
    two empty strings."""
    span_context = trace.get_current_span().get_span_context()
    if span_context.is_valid:
        return format(span_context.trace_id, "032x"), format(span_context.span_id, "016x")
    traceparent = _REMOTE.get()[0]
    if not traceparent:
        return "", ""
    return traceparent[3:35], traceparent[36:52]
