"""Every process serves /metrics; one booking moves the figures it should; a stuck saga is flagged."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.booking import Customer, pay, set_chaos
from tests.e2e.system import ROOT, RunningSystem, running_system, wait_for
from tools.supervision import read_procfile

pytestmark = pytest.mark.e2e

PROCESSES = tuple(read_procfile(ROOT / "Procfile"))
STUCK_AFTER_SECONDS = 2
SESSIONS = "travel.sessions.v1.SessionsService"

# (sample name, labels) -> value
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[RunningSystem]:
    env = {"STUCK_SAGA_AFTER_SECONDS": str(STUCK_AFTER_SECONDS), "BUS_RETRY_BASE_DELAY_SECONDS": "0.05"}
    with running_system(tmp_path_factory.mktemp("metrics"), redis_url, env) as running:
        set_chaos(
            running, {"failureRate": 0.0, "ambiguousRate": 0.0, "latencyMs": 0, "webhookDuplicateRate": 0.0}
        )
        yield running


def scrape(system: RunningSystem, process: str) -> Samples:
    answer = httpx.get(system.metrics_url(process), timeout=10)
    assert answer.status_code == 200, answer.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(value for (sample, found), value in samples.items() if sample == name and wanted <= found)


def answered_2xx(samples: Samples, name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels` and whose HTTP status code is 2xx."""
    wanted = set(labels.items())
    return sum(
        value
        for (sample, found), value in samples.items()
        if sample == name and wanted <= found and _code(found).startswith("2")
    )


def _code(labels: frozenset[tuple[str, str]]) -> str:
    return dict(labels).get("http_response_status_code", "")


def present(samples: Samples, name: str, **labels: str) -> bool:
    wanted = set(labels.items())
    return any(sample == name and wanted <= found for sample, found in samples)


def booked(system: RunningSystem) -> str:
    customer = Customer.signed_up(system)
    session_id = customer.full_session()
    payment = customer.checkout(session_id)["payment"]
    pay(system, payment["id"])
    customer.wait_state(session_id, {"STATE_CONFIRMED"})
    return session_id


def test_one_booking_moves_every_process_figures(system: RunningSystem) -> None:
    before = {process: scrape(system, process) for process in PROCESSES}
    booked(system)
    # The saga's last figures are counted after its last commit, a moment after the state is read.
    wait_for(
        lambda: (
            total(scrape(system, "sessions"), "travel_saga_duration_seconds_count", kind="confirm")
            > total(before["sessions"], "travel_saga_duration_seconds_count", kind="confirm")
        ),
        30,
        "the confirmation saga's duration",
    )
    after = {process: scrape(system, process) for process in PROCESSES}

    def moved(process: str, name: str, **labels: str) -> float:
        return total(after[process], name, **labels) - total(before[process], name, **labels)

    def moved_2xx(process: str, name: str, **labels: str) -> float:
        return answered_2xx(after[process], name, **labels) - answered_2xx(before[process], name, **labels)

    rpc = "rpc_server_duration_seconds"
    create = {"rpc_system": "grpc", "rpc_service": SESSIONS, "rpc_method": "CreateSession"}
    assert moved("sessions", f"{rpc}_count", **create, rpc_grpc_status_code="0") >= 1
    assert moved("sessions", f"{rpc}_bucket", **create, rpc_grpc_status_code="0", le="+Inf") >= 1
    assert moved("customers", f"{rpc}_count", rpc_grpc_status_code="0") >= 2  # register and log in
    for service in ("hotel", "flights", "payments"):
        assert moved(service, f"{rpc}_count", rpc_grpc_status_code="0") >= 1, service
    route = "http_server_request_duration_seconds_count"
    assert moved_2xx("gateway", route, http_route="/v1/sessions", http_request_method="POST") >= 1
    assert moved_2xx("gateway", route, http_route="/v1/webhooks/payments", http_request_method="POST") >= 1
    for kind in ("hotel", "flight", "payment"):
        assert moved_2xx(f"provider-{kind}", route) >= 1, kind
    calls = "travel_provider_calls_total"
    assert moved("hotel", calls, operation="POST /holds/{id}/confirm", outcome="ok") >= 1
    assert moved("flights", calls, operation="POST /holds/{id}/confirm", outcome="ok") >= 1  # both legs
    assert moved("payments", calls, outcome="ok") >= 1
    assert moved("sessions", "travel_saga_duration_seconds_count", kind="confirm", outcome="completed") >= 1
    assert total(after["sessions"], "travel_sessions", state="CONFIRMED") >= 1
    assert present(after["sessions"], "travel_outbox_unsent_rows")
    for participant, process in (("sessions", "sessions"), ("hotel", "hotel"), ("flights", "flights")):
        for gauge in (
            "travel_bus_stream_lag",
            "travel_bus_pending_entries",
            "travel_bus_oldest_pending_age_seconds",
        ):
            assert present(after[process], gauge, participant=participant), (process, gauge)
    assert present(after["payments"], "travel_bus_pending_entries", participant="payments")
    assert present(after["expiry"], "travel_expiry_lateness_seconds_count")
    assert present(after["expiry"], "travel_stuck_sagas", participant="flights")


def test_a_saga_whose_step_cannot_progress_is_flagged_stuck(system: RunningSystem) -> None:
    customer = Customer.signed_up(system)
    session_id = customer.full_session()
    payment = customer.checkout(session_id)["payment"]
    flags_before = total(scrape(system, "expiry"), "travel_stuck_saga_flags_total", participant="flights")
    # The flight provider answers every call with a 503: flights.confirm retries and never completes.
    set_chaos(system, {"failureRate": 1.0}, kinds=("flight",))
    try:
        pay(system, payment["id"])

        def flagged() -> list[dict]:
            return [e for e in customer.events(session_id) if e["outcome"] == "FLAGGED_STUCK"]

        flags = wait_for(flagged, 60, "a FLAGGED_STUCK event in the session's timeline")
        assert [e["step"] for e in flags] == ["flights.confirm"]
        assert "no progress for" in flags[0]["detail"]
        expiry = wait_for(
            lambda: (
                (found := scrape(system, "expiry"))
                and total(found, "travel_stuck_sagas", participant="flights") >= 1
                and found
            ),
            30,
            "the stuck-sagas gauge",
        )
        assert total(expiry, "travel_stuck_saga_flags_total", participant="flights") == flags_before + 1
        wait_for(
            lambda: total(
                scrape(system, "flights"), "travel_bus_retries_scheduled_total", participant="flights"
            ),
            30,
            "a retry of flights.confirm",
        )
    finally:
        set_chaos(system, {"failureRate": 0.0}, kinds=("flight",))
    customer.wait_state(session_id, {"STATE_CONFIRMED"}, timeout=90)
    flags_later = [e for e in customer.events(session_id) if e["outcome"] == "FLAGGED_STUCK"]
    assert len(flags_later) == 1  # one stuck episode, one flag
