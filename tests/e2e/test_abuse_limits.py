"""Abuse limits with every process running: 429 and Retry-After for logins, open sessions and event
streams; a client trickling its request head is cut off."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest

from tests.e2e.booking import Customer
from tests.e2e.system import RunningSystem, running_system, wait_for

LIMITS = {
    "LOGIN_LIMIT_PER_EMAIL": "3",
    "OPEN_SESSIONS_PER_CUSTOMER": "2",
    "GATEWAY_STREAMS_PER_CUSTOMER": "1",
    "GATEWAY_HEADER_TIMEOUT_SECONDS": "1",
}


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[RunningSystem]:
    with running_system(tmp_path_factory.mktemp("limits"), redis_url, LIMITS) as running:
        yield running


def assert_too_many(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert int(response.headers["retry-after"]) >= 1
    assert response.json()["code"] == 8  # RESOURCE_EXHAUSTED


def test_logins_over_the_limit_answer_429_with_retry_after(system: RunningSystem) -> None:
    email = f"l.{uuid.uuid4().hex[:12]}@example.com"
    password = "correct horse battery"
    created = system.http.post("/v1/customers", json={"email": email, "name": "Lim", "password": password})
    assert created.status_code == 200, created.text
    for _ in range(3):
        assert (
            system.http.post("/v1/auth/token", json={"email": email, "password": "wrong one!"}).status_code
            == 401
        )
    refused = system.http.post("/v1/auth/token", json={"email": email, "password": password})
    assert_too_many(refused)
    assert "too many login attempts" in refused.json()["message"]


def test_open_sessions_over_the_cap_answer_429_until_one_ends(system: RunningSystem) -> None:
    customer = Customer.signed_up(system)
    first, _ = customer.open_session(), customer.open_session()
    refused = customer.call("POST", "/v1/sessions", {})
    assert_too_many(refused)
    assert "at most 2 open sessions" in refused.json()["message"]
    customer.ok("POST", f"/v1/sessions/{first}:cancel", {})
    customer.wait_state(first, {"STATE_CANCELLED"})
    customer.open_session()


def test_a_second_event_stream_for_one_customer_answers_429(system: RunningSystem) -> None:
    customer = Customer.signed_up(system)
    one, two = customer.open_session(), customer.open_session()
    with ExitStack() as stack:
        client = stack.enter_context(httpx.Client(base_url=system.gateway_url, timeout=30))
        first = stack.enter_context(
            client.stream("GET", f"/v1/sessions/{one}/events:stream", headers=customer.headers)
        )
        assert first.status_code == 200
        frames = first.iter_lines()
        assert next(frames).startswith("retry:")
        second = client.get(f"/v1/sessions/{two}/events:stream", headers=customer.headers)
        assert_too_many(second)
        assert "per customer" in second.json()["message"]

    # The first stream is closed: its slot comes back once the gateway notices.
    def reopened() -> bool:
        path = f"/v1/sessions/{two}/events:stream"
        with (
            httpx.Client(base_url=system.gateway_url, timeout=30) as client,
            client.stream("GET", path, headers=customer.headers) as again,
        ):
            return again.status_code == 200

    wait_for(reopened, 30, "the closed stream's slot to come back")


def test_a_client_trickling_its_request_head_is_disconnected(system: RunningSystem) -> None:
    with socket.create_connection(("127.0.0.1", system.ports["gateway"]), timeout=30) as slow:
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: slow\r\n")
        answer = b""
        while chunk := slow.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 408"), answer


def test_the_limits_leave_the_usual_flow_alone(system: RunningSystem) -> None:
    customer = Customer.signed_up(system)
    session_id = customer.full_session()
    assert customer.session(session_id)["state"] == "STATE_OPEN"
