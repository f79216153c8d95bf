"""A payment's saga in the trace of the checkout that created the payment, linked to its webhook's.

The provider's webhook is a request of its own, in a trace of its own. The booking's trace is the
customer's: the checkout stores its traceparent with the payment, and the call that applies the
payment (and so starts the saga confirming, cancelling or refunding it) is made in that trace.
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from types import TracebackType

from opentelemetry import context, trace

from kit.trace_context import (
    TRACEPARENT,
    context_from,
    continued,
    current_headers,
    current_ids,
    is_traceparent,
)
from kit.tracing import recording_tracer
from services.payments.ports import PaymentRecord

log = logging.getLogger(__name__)

SPAN_NAME = "payments.apply_provider_event"


def current_traceparent() -> str | None:
    """The current trace as a W3C traceparent, to store with a payment created now; None outside one."""
    found = current_headers().get(TRACEPARENT, "")
    return found if is_traceparent(found) else None


class in_checkout_trace:  # named like a function, as it is used: `with in_checkout_trace(...):`
    """Within the block the current trace is the one `payment`'s checkout stored.

    With spans recorded, the block is a span child of the checkout's, linked to `event_span` (the
    webhook's request span), which gets a link back: either trace leads to the other. Without, the
    checkout's trace is continued as text, and a line in the webhook's trace names it. No (or no
    valid) traceparent, as on payments stored before checkouts kept theirs, leaves the trace as it is.
    """

    def __init__(self, payment: PaymentRecord, event_span: trace.Span) -> None:
        self._traceparent = payment.checkout_traceparent or ""
        self._event_span = event_span
        self._payment_id = payment.id
        self._scope: AbstractContextManager[object] | None = None
        self._token: object = None

    def __enter__(self) -> None:
        checkout = context_from(self._traceparent)
        if checkout is None:
            return
        checkout_span = trace.get_current_span(checkout).get_span_context()
        log.info(
            "payment %s is applied in the trace of its checkout, %s (this event's is %s)",
            self._payment_id,
            format(checkout_span.trace_id, "032x"),
            current_ids()[0] or "none",
        )
        tracer = recording_tracer(__name__)
        if tracer is None:
            self._scope = continued(self._traceparent)
            self._scope.__enter__()
            return
        event = self._event_span.get_span_context()
        links = []
        if event.is_valid:
            self._event_span.add_link(checkout_span, {"payment.id": self._payment_id})
            links.append(trace.Link(event, {"payment.id": self._payment_id}))
        self._token = context.attach(checkout)
        self._scope = tracer.start_as_current_span(
            SPAN_NAME, links=links, attributes={"payment.id": self._payment_id}
        )
        self._scope.__enter__()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._scope is not None:
            self._scope.__exit__(kind, error, tb)
        if self._token is not None:
            context.detach(self._token)  # type: ignore[arg-type]
