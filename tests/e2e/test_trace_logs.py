"""JSON log lines end to end: a client's traceparent reaches every process a booking touches, and a
saga started by a traced request carries the trace through each of its steps, the confirmation
started by the payment provider's webhook included."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.e2e.booking import Customer, pay
from tests.e2e.system import RunningSystem, running_system
from tests.support.polling import wait_for

pytestmark = pytest.mark.e2e

BOOKING_PROCESSES = {"gateway", "sessions", "hotel", "flights", "payments"}


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[RunningSystem]:
    env = {"LOG_FORMAT": "json", "BUS_RETRY_BASE_DELAY_SECONDS": "0.05"}
    with running_system(tmp_path_factory.mktemp("trace_logs"), redis_url, env) as running:
        yield running


@dataclass
class TracedCustomer(Customer):
    """A customer whose every call carries the same W3C traceparent, as a traced client's would."""

    trace_id: str = ""

    @classmethod
    def in_new_trace(cls, system: RunningSystem) -> TracedCustomer:
        signed_up = Customer.signed_up(system)
        return cls(system, signed_up.token, secrets.token_hex(16))

    @property
    def headers(self) -> dict[str, str]:
        return {**super().headers, "traceparent": f"00-{self.trace_id}-{secrets.token_hex(8)}-01"}


def json_lines(system: RunningSystem) -> list[dict[str, Any]]:
    """Every JSON line the processes wrote, without the launcher's `time name |` prefix."""
    found = []
    for line in system.log_path.read_text(errors="replace").splitlines():
        _, bar, rest = line.partition("| ")
        if bar and rest.startswith("{"):
            try:
                found.append(json.loads(rest))
            except json.JSONDecodeError:
                continue
    return found


def lines_of_trace(system: RunningSystem, trace_id: str) -> list[dict[str, Any]]:
    return [line for line in json_lines(system) if line.get("trace_id") == trace_id]


def test_a_bookings_trace_id_is_in_the_logs_of_every_process_it_touches(system: RunningSystem) -> None:
    customer = TracedCustomer.in_new_trace(system)
    session_id = customer.full_session()
    payment = customer.checkout(session_id)["payment"]
    pay(system, payment["id"])
    customer.wait_state(session_id, {"STATE_CONFIRMED"})

    def every_process_logged_the_trace() -> set[str] | None:
        processes = {line["process"] for line in lines_of_trace(system, customer.trace_id)}
        return processes if processes >= BOOKING_PROCESSES else None

    wait_for(every_process_logged_the_trace, 30, f"trace {customer.trace_id} in {BOOKING_PROCESSES}")
    traced = lines_of_trace(system, customer.trace_id)
    for line in traced:
        assert {"time", "level", "process", "logger", "message", "span_id"} <= line.keys(), line
    served = [line for line in traced if line["process"] == "gateway" and line.get("request_id")]
    assert any(f"/v1/sessions/{session_id}/checkout" in line["message"] for line in served)
    assert any(line.get("session_id") == session_id for line in traced if line["process"] == "sessions")


def test_a_paid_bookings_confirmation_saga_runs_in_the_trace_of_its_checkout(system: RunningSystem) -> None:
    # The webhook that starts the confirmation is the payment provider's own request, without the
    # customer's traceparent: the trace comes from the one the checkout stored with the payment.
    customer = TracedCustomer.in_new_trace(system)
    session_id = customer.full_session()
    payment = customer.checkout(session_id)["payment"]
    pay(system, payment["id"])
    customer.wait_state(session_id, {"STATE_CONFIRMED"})
    saga_id = f"confirm-{session_id}"
    # The hotel's and the flights' confirmations, and the sessions process settling the booking.
    wanted = {"hotel", "flights", "sessions"}

    def confirmation_steps_logged() -> set[str] | None:
        lines = lines_of_trace(system, customer.trace_id)
        logged = {line["process"] for line in lines if line.get("saga_id") == saga_id and line.get("step")}
        return logged if wanted <= logged else None

    wait_for(confirmation_steps_logged, 30, f"the confirmation's steps in trace {customer.trace_id}")
    lines = lines_of_trace(system, customer.trace_id)
    steps = {(line["process"], line["step"]) for line in lines if line.get("saga_id") == saga_id}
    assert {process for process, _ in steps} >= wanted, steps
    # Every step of the confirmation, wherever it ran, logged in the checkout's trace and no other.
    confirmation = [
        line for line in json_lines(system) if line.get("saga_id") == saga_id and line.get("step")
    ]
    assert {line.get("trace_id") for line in confirmation} == {customer.trace_id}
    # The arbiter heard of the payment in that trace, and the webhook's own lines name it.
    assert any(line["process"] == "sessions" and "RecordPayment" in line["message"] for line in lines), (
        "the arbiter's RecordPayment is not in the checkout's trace"
    )
    handoff = [
        line
        for line in json_lines(system)
        if line["process"] == "payments" and payment["id"] in line["message"]
    ]
    assert any(customer.trace_id in line["message"] for line in handoff), handoff


def test_a_cancellation_saga_runs_each_step_in_the_trace_of_the_request_that_started_it(
    system: RunningSystem,
) -> None:
    customer = TracedCustomer.in_new_trace(system)
    session_id = customer.full_session()
    customer.ok("POST", f"/v1/sessions/{session_id}:cancel", {})
    customer.wait_state(session_id, {"STATE_CANCELLED"})
    wanted = {("flights", "flights.release"), ("hotel", "hotel.release"), ("sessions", "sessions.cancelled")}

    def steps_logged() -> set[tuple[str, str]] | None:
        lines = lines_of_trace(system, customer.trace_id)
        logged = {(line["process"], line.get("step", "")) for line in lines}
        return logged if wanted <= logged else None

    wait_for(steps_logged, 30, f"the cancellation's steps in trace {customer.trace_id}")
    step_lines = [line for line in lines_of_trace(system, customer.trace_id) if line.get("step")]
    assert {line["saga_id"] for line in step_lines} == {f"cancel-{session_id}"}
    assert {line["session_id"] for line in step_lines} == {session_id}
