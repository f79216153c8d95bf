"""Every metric the Grafana dashboard and the alert rules query is served by a process of the system."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.booking import Customer, pay
from tests.e2e.system import ROOT, RunningSystem, running_system, wait_for
from tests.support.observability_queries import exported_as, queried_metrics
from tools.supervision import read_procfile

pytestmark = pytest.mark.e2e

PROCESSES = tuple(read_procfile(ROOT / "Procfile"))


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[RunningSystem]:
    with running_system(tmp_path_factory.mktemp("observability"), redis_url) as running:
        yield running


def served_names(system: RunningSystem, process: str) -> tuple[set[str], set[str]]:
    """The families a process declares on /metrics (a labelled one may have no sample yet), and its series."""
    answer = httpx.get(system.metrics_url(process), timeout=10)
    assert answer.status_code == 200, answer.text
    families, series = set(), set()
    for family in text_string_to_metric_families(answer.text):
        families.add(family.name)
        series.update(sample.name for sample in family.samples)
    return families, series


def test_every_queried_metric_is_served_after_a_booking(system: RunningSystem) -> None:
    customer = Customer.signed_up(system)
    session_id = customer.full_session()
    payment = customer.checkout(session_id)["payment"]
    pay(system, payment["id"])
    customer.wait_state(session_id, {"STATE_CONFIRMED"})

    def confirmation_counted() -> bool:
        # The saga's last figures are counted after its last commit, a moment after the state is read.
        _, series = served_names(system, "sessions")
        return "travel_saga_duration_seconds_count" in series

    wait_for(confirmation_counted, 30, "the confirmation saga's duration")
    families: set[str] = set()
    series: set[str] = set()
    for process in PROCESSES:
        declared, sampled = served_names(system, process)
        families |= declared
        series |= sampled
    queried = queried_metrics()
    assert queried
    missing = {name: readers for name, readers in queried.items() if not exported_as(name, families | series)}
    assert not missing, missing
    # What the booking itself moved is there as series, not only as a declared family.
    for name in (
        "rpc_server_duration_seconds_count",
        "http_server_request_duration_seconds_count",
        "travel_bus_step_duration_seconds_bucket",
        "travel_saga_duration_seconds_bucket",
        "travel_provider_calls_total",
        "travel_bus_pending_entries",
        "travel_bus_oldest_pending_age_seconds",
        "travel_stuck_sagas",
    ):
        assert name in series, name
