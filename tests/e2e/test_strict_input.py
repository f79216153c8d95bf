"""Strict input through the gateway: each malformed field answers 400 naming it, nothing reaches a
provider, and a schemathesis run of every check against /openapi.json finds nothing."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.booking import Customer, flight_id, holds_of, trip_dates
from tests.e2e.system import RunningSystem, running_system

pytestmark = pytest.mark.e2e

# Schemathesis registers, logs in and opens sessions far more often than a person: lift the limits.
GENEROUS_LIMITS = {
    "OPEN_SESSIONS_PER_CUSTOMER": "1000000",
    "LOGIN_LIMIT_PER_EMAIL": "1000000",
    "LOGIN_LIMIT_PER_ADDRESS": "1000000",
    "REGISTER_LIMIT_PER_EMAIL": "1000000",
    "REGISTER_LIMIT_PER_ADDRESS": "1000000",
}
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
SCHEMATHESIS_CONFIG = Path(__file__).with_name("schemathesis.toml")


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[RunningSystem]:
    with running_system(tmp_path_factory.mktemp("strict-input"), redis_url, GENEROUS_LIMITS) as running:
        yield running


@pytest.fixture
def customer(system: RunningSystem) -> Customer:
    return Customer.signed_up(system)


def assert_names_field(response: Any, field: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    violations = [v for d in body["details"] for v in d.get("fieldViolations", [])]
    assert field in {v["field"] for v in violations}, body


@pytest.mark.parametrize("token", ["%C2%B2", "99999999999999999999999", "AQAAABR", "AQAAABQ%3D", "-1"])
def test_a_page_token_not_issued_here_is_refused(customer: Customer, token: str) -> None:
    response = customer.system.http.get(f"/v1/sessions?pageToken={token}", headers=customer.headers)
    assert_names_field(response, "pageToken")


def test_a_page_token_issued_here_pages_on(customer: Customer) -> None:
    for _ in range(3):
        customer.open_session()
    first = customer.ok("GET", "/v1/sessions?pageSize=2")
    assert len(first["sessions"]) == 2 and first["nextPageToken"]
    second = customer.ok("GET", f"/v1/sessions?pageSize=2&pageToken={first['nextPageToken']}")
    seen = {s["id"] for s in first["sessions"]} & {s["id"] for s in second["sessions"]}
    assert second["sessions"] and not seen


@pytest.mark.parametrize("hotel_id", ["HTL-LIS\t01", "../hotels", "HTL LIS 01", "HTL-LIS-01\n", "x" * 65])
def test_a_malformed_hotel_id_is_refused_before_any_hold(customer: Customer, hotel_id: str) -> None:
    session_id = customer.open_session()
    check_in, check_out = trip_dates()
    body = {"hotelId": hotel_id, "checkIn": check_in, "checkOut": check_out, "guests": 1}
    assert_names_field(customer.call("POST", f"/v1/sessions/{session_id}/hotel", body), "hotelId")
    assert holds_of(customer.system, session_id) == []


@pytest.mark.parametrize("flight", ["../holds", "..", "FL/LIS", "FL-LIS-MAD\u0000"])
def test_a_malformed_flight_id_never_reaches_the_provider(customer: Customer, flight: str) -> None:
    session_id = customer.open_session()
    _, back_day = trip_dates()
    body = {"outboundFlightId": flight, "returnFlightId": flight_id("MAD", "LIS", back_day), "passengers": 1}
    assert_names_field(customer.call("POST", f"/v1/sessions/{session_id}/flights", body), "outboundFlightId")
    assert holds_of(customer.system, session_id) == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "\u0000@x.com"),
        ("email", "ana@example"),
        ("email", "ana example.com"),
        ("name", "Ana\u0007"),
        ("name", "   "),
        ("password", "correct horse\u0000battery"),
    ],
)
def test_registration_refuses_a_malformed_field(system: RunningSystem, field: str, value: str) -> None:
    email = f"r.{uuid.uuid4().hex[:10]}@example.com"
    body = {"email": email, "name": "Ana", "password": "correct horse battery", field: value}
    assert_names_field(system.http.post("/v1/customers", json=body), field)


def test_control_characters_are_refused_in_query_strings(system: RunningSystem) -> None:
    assert_names_field(system.http.get("/v1/hotels", params={"city": "LI\tS"}), "city")
    assert_names_field(system.http.get("/v1/flights", params={"date": "2030-01-01\r"}), "date")


def test_a_malformed_session_id_is_refused(customer: Customer) -> None:
    assert_names_field(customer.call("GET", "/v1/sessions/not-a-session"), "id")


def test_schemathesis_finds_nothing(system: RunningSystem, customer: Customer, tmp_path: Path) -> None:
    """Every check, bounded: deterministic generation and a few examples per operation."""
    command = [
        str(SCHEMATHESIS),
        f"--config-file={SCHEMATHESIS_CONFIG}",
        "run",
        f"{system.gateway_url}/openapi.json",
        "--checks=all",
        "--max-examples=25",
        "--generation-deterministic",
        # One worker: hypothesis describes filters with ast.parse, which CPython 3.11 cannot run in
        # two threads at once ("AST constructor recursion depth mismatch").
        "--workers=1",
        "--request-timeout=20",
        "--no-color",
        f"--header=Authorization: Bearer {customer.token}",
        "--report=junit",
        f"--report-dir={tmp_path}",
    ]
    # Run in the test's own folder: schemathesis keeps files of its own where it runs.
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False, cwd=tmp_path)
    (tmp_path / "schemathesis.txt").write_text(result.stdout + result.stderr)
    assert result.returncode == 0, result.stdout[-30000:] + result.stderr[-5000:]
