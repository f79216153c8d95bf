"""The walking skeleton through the gateway: register, log in, read me, and every bad input."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.system import ROOT, RunningSystem, running_system

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[RunningSystem]:
    with running_system(tmp_path_factory.mktemp("skeleton"), redis_url) as running:
        yield running


def register(system: RunningSystem, email: str, password: str = "correct horse 1") -> dict:
    response = system.http.post("/v1/customers", json={"email": email, "name": "Ana", "password": password})
    assert response.status_code == 200, response.text
    return response.json()["customer"]


def login(system: RunningSystem, email: str, password: str = "correct horse 1") -> str:
    response = system.http.post("/v1/auth/token", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return str(response.json()["accessToken"])


def test_register_login_me(system: RunningSystem) -> None:
    email = f"ana.{uuid.uuid4().hex[:8]}@example.com"
    customer = register(system, email)
    token = login(system, email.upper())
    me = system.http.get("/v1/customers/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json()["customer"]["id"] == customer["id"]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"email": "nope", "name": "A", "password": "correct horse 1"}, 400, "email"),
        ({"email": "a@b.com", "name": "A", "password": "short"}, 400, "password"),
        ({"email": "a@b.com", "password": "correct horse 1"}, 400, "name"),
        ({"email": "a@b.com", "name": "N" * 500, "password": "correct horse 1"}, 400, "name"),
        ({"email": 5, "name": "A", "password": "correct horse 1"}, 400, "email"),
        ({"email": "a@b.com", "name": "A", "password": "correct horse 1", "admin": True}, 400, "admin"),
    ],
)
def test_bad_registrations_name_the_field(system: RunningSystem, body: dict, status: int, field: str) -> None:
    response = system.http.post("/v1/customers", json=body)
    assert response.status_code == status, response.text
    assert field in response.text
    assert set(response.json()) == {"code", "message", "details"}


def test_malformed_json_and_unknown_route(system: RunningSystem) -> None:
    malformed = system.http.post(
        "/v1/customers", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 400
    assert system.http.get("/v1/nothing-here").status_code == 404


def test_duplicate_email_is_a_conflict_and_writes_nothing(system: RunningSystem) -> None:
    email = f"bo.{uuid.uuid4().hex[:8]}@example.com"
    register(system, email)
    again = system.http.post(
        "/v1/customers", json={"email": email.upper(), "name": "Other", "password": "another password"}
    )
    assert again.status_code == 409
    assert login(system, email)  # the first password still works: nothing was overwritten


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer not.a.token", "Basic abc", "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."],
)
def test_bad_tokens_are_unauthenticated(system: RunningSystem, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = system.http.get("/v1/customers/me", headers=headers)
    assert response.status_code == 401, response.text


def test_wrong_password_is_unauthenticated(system: RunningSystem) -> None:
    email = f"cy.{uuid.uuid4().hex[:8]}@example.com"
    register(system, email)
    response = system.http.post("/v1/auth/token", json={"email": email, "password": "wrong password"})
    assert response.status_code == 401


def test_openapi_and_healthz(system: RunningSystem) -> None:
    spec = system.http.get("/openapi.json").json()
    assert "/v1/customers" in spec["paths"]
    assert system.http.get("/healthz").json()["status"] == "SERVING"


def grpcurl(*args: str) -> str:
    binary = Path(ROOT, ".venv", "bin", "grpcurl")
    result = subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=30, check=True)
    return result.stdout


def test_grpcurl_lists_and_calls_through_reflection(system: RunningSystem) -> None:
    address = system.grpc_address("customers")
    services = grpcurl("-plaintext", address, "list").split()
    assert "travel.customers.v1.CustomersService" in services
    assert "grpc.health.v1.Health" in services
    assert any(s.startswith("grpc.reflection") for s in services)
    email = f"di.{uuid.uuid4().hex[:8]}@example.com"
    payload = json.dumps({"email": email, "name": "Di", "password": "correct horse 1"})
    out = grpcurl("-plaintext", "-d", payload, address, "travel.customers.v1.CustomersService/Register")
    assert json.loads(out)["customer"]["email"] == email
    health = grpcurl("-plaintext", address, "grpc.health.v1.Health/Check")
    assert "SERVING" in health
