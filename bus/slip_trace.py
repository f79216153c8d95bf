"""A saga's trace in its routing slip: stamped when the saga starts, continued by every step."""

from __future__ import annotations

from contextlib import AbstractContextManager
from types import TracebackType

from opentelemetry import context, trace
from opentelemetry.context import Context
from opentelemetry.semconv._incubating.attributes import messaging_attributes as messaging
from travel.saga.v1 import saga_pb2 as pb

from kit.trace_context import TRACEPARENT, TRACESTATE, context_from, continued, current_headers


def stamp_current_trace(slip: pb.RoutingSlip) -> None:
    """Record the current trace (the request starting the saga) in a slip that carries none yet."""
    if slip.trace.traceparent:
        return
    headers = current_headers()
    if headers:
        slip.trace.traceparent = headers[TRACEPARENT]
        slip.trace.tracestate = headers.get(TRACESTATE, "")


class StepSource:
    """Where a step's entry was read: the stream, the consumer group and the entry's id."""

    __slots__ = ("entry_id", "group", "stream")

    def __init__(self, stream: str, group: str, entry_id: str) -> None:
        self.stream, self.group, self.entry_id = stream, group, entry_id


class step_scope:  # named like a function, as it is used: `with step_scope(slip, step, tracer):`
    """Run a step in its saga's trace: as a span, child of the starting request's, when `tracer`
    records; else by continuing that trace as text (log lines and outgoing calls still carry it).

    The span carries the messaging semantic conventions of a consumer processing one message
    (`messaging.*`, the version opentelemetry-semantic-conventions ships) and the saga's own
    attributes under the project's namespace (`travel.saga.*`).
    A class rather than a generator: it runs on every saga step.
    """

    __slots__ = ("_scope", "_slip", "_source", "_step", "_token", "_tracer")

    def __init__(
        self, slip: pb.RoutingSlip, step: pb.Step, tracer: trace.Tracer | None, source: StepSource
    ) -> None:
        self._slip, self._step, self._tracer, self._source = slip, step, tracer, source
        self._scope: AbstractContextManager[object] | None = None
        self._token: object = None

    def __enter__(self) -> None:
        slip = self._slip
        if self._tracer is None:
            self._scope = continued(slip.trace.traceparent, slip.trace.tracestate)
            self._scope.__enter__()
            return
        # Attached first, so the step's span and what it calls see the saga's context, not the loop's.
        self._token = context.attach(context_from(slip.trace.traceparent, slip.trace.tracestate) or Context())
        source = self._source
        attributes: dict[str, str | int] = {
            messaging.MESSAGING_SYSTEM: "redis",
            messaging.MESSAGING_DESTINATION_NAME: source.stream,
            messaging.MESSAGING_OPERATION_TYPE: messaging.MessagingOperationTypeValues.PROCESS.value,
            messaging.MESSAGING_MESSAGE_ID: source.entry_id,
            messaging.MESSAGING_CONSUMER_GROUP_NAME: source.group,
            "travel.saga.id": slip.saga_id,
            "travel.saga.session_id": slip.session_id,
            "travel.saga.step": self._step.name,
            "travel.saga.attempt": slip.attempt,
        }
        self._scope = self._tracer.start_as_current_span(
            self._step.name, kind=trace.SpanKind.CONSUMER, attributes=attributes
        )
        self._scope.__enter__()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._scope is not None:
            self._scope.__exit__(kind, error, tb)
        if self._token is not None:
            context.detach(self._token)  # type: ignore[arg-type]
