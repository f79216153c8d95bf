"""A process started with METRICS_PORT serves /metrics, and its counters move with the calls it handles."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from travel.customers.v1 import customers_pb2, customers_pb2_grpc

from kit.migrations import migrate
from kit.settings import Env
from tests.integration.module_process import Started, start_process
from tools.call_counts import CallCounts, counts_between, parse_call_counts, totals


def call_counts(started: Started) -> CallCounts:
    return parse_call_counts(started.metrics_text())


@pytest.fixture
def customers(tmp_path: Path, redis_url: str, unique_id: str) -> Iterator[Started]:
    env = {
        "TRAVEL_DATA_DIR": str(tmp_path),
        "CUSTOMERS_PORT": "0",
        "REDIS_URL": redis_url,
        "TRAVEL_NAMESPACE": f"metrics{unique_id}",
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_KIB": "8192",
    }
    migrate(Env(env), ["customers"])
    yield from start_process("services.customers", env, re.compile(r"gRPC server listening on [\d.]+:(\d+)"))


@pytest.fixture
def hotel_provider(tmp_path: Path) -> Iterator[Started]:
    env = {"TRAVEL_DATA_DIR": str(tmp_path), "PROVIDER_KIND": "hotel", "PROVIDER_PORT": "0"}
    yield from start_process(
        "simulated_world.providers", env, re.compile(r"Uvicorn running on http://[\d.]+:(\d+)")
    )


async def test_a_grpc_call_moves_the_calls_transactions_and_round_trips_counters(
    customers: Started, unique_id: str
) -> None:
    before = call_counts(customers)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{customers.ports['service']}") as channel:
        stub = customers_pb2_grpc.CustomersServiceStub(channel)
        await stub.Register(
            customers_pb2.RegisterRequest(
                email=f"metrics.{unique_id}@example.com", name="Metrics", password="correct horse 1"
            )
        )
    moved = counts_between(before, call_counts(customers))
    assert moved["grpc"] == {"/travel.customers.v1.CustomersService/Register": 1.0}
    assert totals(moved)["db"] >= 1
    assert totals(moved)["redis"] >= 1  # the attempt counters


async def test_http_requests_are_counted_by_route_template_never_by_raw_path(
    hotel_provider: Started, unique_id: str
) -> None:
    before = call_counts(hotel_provider)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{hotel_provider.ports['service']}") as client:
        assert (await client.get(f"/holds/missing-{unique_id}")).status_code == 404
        assert (await client.get(f"/hotels/missing-{unique_id}")).status_code == 404
        assert (await client.get("/no/such/route")).status_code == 404
    moved = counts_between(before, call_counts(hotel_provider))
    assert moved["http"] == {"/holds/{id}": 1.0, "/hotels/{id}": 1.0, "unrouted": 1.0}
    labels = [
        sample.labels
        for family in text_string_to_metric_families(hotel_provider.metrics_text())
        for sample in family.samples
        if sample.name == "http_server_request_duration_seconds_count"
        and sample.labels["http_route"] == "unrouted"
    ]
    assert labels == [
        {"http_route": "unrouted", "http_request_method": "GET", "http_response_status_code": "404"}
    ]
