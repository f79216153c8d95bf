"""Spans over OTLP end to end: with an exporter set, a traced cancellation is one trace from the REST
call through the gateway, the arbiter's gRPC and every saga step, to the providers' HTTP calls; a
paid booking's confirmation, started by the provider's webhook, joins the trace of its checkout."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.e2e.booking import pay
from tests.e2e.system import RunningSystem, running_system
from tests.e2e.test_trace_logs import TracedCustomer
from tests.support.polling import wait_for

pytestmark = pytest.mark.e2e


class Collector(ThreadingHTTPServer):
    """Receives OTLP/HTTP protobuf exports, as an OpenTelemetry collector would, and keeps every span."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ExportHandler)
        self.spans: list[tuple[str, Any]] = []  # (service.name, span)
        self.lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def of_trace(self, trace_id: str) -> list[tuple[str, Any]]:
        with self.lock:
            return [(service, span) for service, span in self.spans if span.trace_id.hex() == trace_id]

    def linked_to(self, trace_id: str) -> list[tuple[str, Any]]:
        """Spans of other traces with a link into `trace_id`."""
        with self.lock:
            return [
                (service, span)
                for service, span in self.spans
                if span.trace_id.hex() != trace_id
                and any(link.trace_id.hex() == trace_id for link in span.links)
            ]


class _ExportHandler(BaseHTTPRequestHandler):
    server: Collector

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        export = ExportTraceServiceRequest.FromString(body)
        with self.server.lock:
            for resource_spans in export.resource_spans:
                names = [
                    a.value.string_value
                    for a in resource_spans.resource.attributes
                    if a.key == "service.name"
                ]
                for scope_spans in resource_spans.scope_spans:
                    self.server.spans += [(names[0] if names else "", span) for span in scope_spans.spans]
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def collector() -> Iterator[Collector]:
    server = Collector()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def system(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str, collector: Collector
) -> Iterator[RunningSystem]:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "200"}
    with running_system(tmp_path_factory.mktemp("trace_export"), redis_url, env) as running:
        yield running


def test_a_traced_cancellation_is_one_trace_across_processes_and_saga_steps(
    system: RunningSystem, collector: Collector
) -> None:
    customer = TracedCustomer.in_new_trace(system)
    session_id = customer.full_session()
    customer.ok("POST", f"/v1/sessions/{session_id}:cancel", {})
    customer.wait_state(session_id, {"STATE_CANCELLED"})
    steps = {"flights.release": "flights", "hotel.release": "hotel", "sessions.cancelled": "sessions"}

    def saga_steps_exported() -> list[tuple[str, Any]] | None:
        found = collector.of_trace(customer.trace_id)
        names = {(service, span.name) for service, span in found}
        return found if {(s, n) for n, s in steps.items()} <= names and release_served(found) else None

    def release_served(found: list[tuple[str, Any]]) -> bool:
        # Each process exports on its own schedule: the provider's spans may arrive after the step's.
        releases = {span.span_id for _, span in found if span.name == "flights.release"}
        calls = {
            span.span_id
            for service, span in found
            if service == "flights" and span.parent_span_id in releases
        }
        return any(service == "provider-flight" and span.parent_span_id in calls for service, span in found)

    found: list[tuple[str, Any]] = wait_for(saga_steps_exported, 30, "the saga's step and provider spans")
    services = {service for service, _ in found}
    assert {"gateway", "sessions", "hotel", "flights"} <= services, services
    by_id = {span.span_id: span for _, span in found}
    cancel = [s for _, s in found if s.name == "/travel.sessions.v1.SessionsService/CancelSession"]
    assert cancel, sorted({span.name for _, span in found})
    for name in steps:
        (step,) = [span for _, span in found if span.name == name]
        # Each step descends from the call that queued its saga (through its database transaction).
        assert cancel[0].span_id in ancestors(step, by_id), name
    # The providers' HTTP calls a step makes are spans of the same trace, under the step's span.
    (release,) = [span for _, span in found if span.name == "flights.release"]
    calls = [
        span for service, span in found if service == "flights" and span.parent_span_id == release.span_id
    ]
    assert calls and all(call.name in {"GET", "POST"} for call in calls), [c.name for c in calls]
    served = [span for service, span in found if service == "provider-flight"]
    assert {by_id[span.parent_span_id].span_id for span in served if span.parent_span_id in by_id} & {
        call.span_id for call in calls
    }


def test_a_paid_bookings_confirmation_is_in_the_trace_of_its_checkout_linked_to_the_webhooks(
    system: RunningSystem, collector: Collector
) -> None:
    customer = TracedCustomer.in_new_trace(system)
    session_id = customer.full_session()
    payment = customer.checkout(session_id)["payment"]
    pay(system, payment["id"])
    customer.wait_state(session_id, {"STATE_CONFIRMED"})
    saga_id = f"confirm-{session_id}"
    # The hotel's and the flights' confirmations, and the sessions process settling the booking.
    wanted = {"hotel", "flights", "sessions"}

    def confirmation_steps(found: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
        return [(service, span) for service, span in found if attribute(span, "travel.saga.id") == saga_id]

    def applied_here(found: list[tuple[str, Any]]) -> bool:
        return any(s.name == "payments.apply_provider_event" for service, s in found if service == "payments")

    def confirmation_exported() -> list[tuple[str, Any]] | None:
        # Each process exports its spans in its own batches: the payments span that applied the
        # webhook may arrive after the steps it started.
        found = collector.of_trace(customer.trace_id)
        steps_there = {service for service, _ in confirmation_steps(found)} >= wanted
        return found if steps_there and applied_here(found) else None

    found: list[tuple[str, Any]] = wait_for(
        confirmation_exported, 30, "the confirmation's step spans and the payment's application"
    )
    by_id = {span.span_id: span for _, span in found}
    (checkout,) = [
        s
        for service, s in found
        if service == "payments" and s.name == "/travel.payments.v1.PaymentsService/Checkout"
    ]
    (applied,) = [
        s for service, s in found if service == "payments" and s.name == "payments.apply_provider_event"
    ]
    # The payment is applied under the checkout's span, and every confirmation step descends from it.
    assert applied.parent_span_id == checkout.span_id
    for service, step in confirmation_steps(found):
        assert applied.span_id in ancestors(step, by_id), (service, step.name)
    # The webhook's own trace and the checkout's lead to each other.
    (event_link,) = applied.links
    assert event_link.trace_id.hex() != customer.trace_id

    def webhook_linked() -> list[tuple[str, Any]] | None:
        return collector.linked_to(customer.trace_id) or None

    linked = wait_for(webhook_linked, 30, "the webhook's span linked to the checkout's trace")
    assert [(service, span.name) for service, span in linked] == [
        ("payments", "/travel.payments.v1.PaymentsService/HandleProviderEvent")
    ]
    assert linked[0][1].trace_id == event_link.trace_id and linked[0][1].span_id == event_link.span_id


def attribute(span: Any, key: str) -> str | None:
    return next((a.value.string_value for a in span.attributes if a.key == key), None)


def ancestors(span: Any, by_id: dict[bytes, Any]) -> list[bytes]:
    found = []
    parent = by_id.get(span.parent_span_id)
    while parent is not None:
        found.append(parent.span_id)
        parent = by_id.get(parent.parent_span_id)
    return found
