"""The client wheel in a virtualenv of its own, both examples and travel_client against the whole system."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from travel.customers.v1 import customers_pb2, customers_pb2_grpc
from travel.sessions.v1 import sessions_pb2
from travel_client import (
    AlreadyExists,
    BearerToken,
    EmailTaken,
    Endpoints,
    InvalidArgument,
    NotFound,
    SessionNotFound,
    TravelClient,
    Unauthenticated,
    plaintext_channel,
)

from tests.e2e.system import ROOT, RunningSystem, running_system
from tests.fresh_venv import UV, build_wheel, fresh_venv, run_isolated

pytestmark = pytest.mark.e2e

GRPC_SERVICES = ("customers", "sessions", "hotel", "flights", "payments")


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[RunningSystem]:
    with running_system(tmp_path_factory.mktemp("clients"), redis_url) as running:
        yield running


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="module")
def outside(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working folder outside the checkout, holding copies of the examples."""
    folder = tmp_path_factory.mktemp("outside")
    for example in (ROOT / "examples").glob("book_a_trip*.py"):
        shutil.copy(example, folder)
    return folder


@pytest.fixture(scope="module")
def client_python(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Path:
    return fresh_venv(tmp_path_factory.mktemp("client-venv") / "venv", str(wheel))


def grpc_env(system: RunningSystem) -> dict[str, str]:
    env = {f"{s.upper()}_GRPC_ADDR": system.grpc_address(s) for s in GRPC_SERVICES}
    return env | {"PAYMENT_PROVIDER_URL": system.provider_url("payment")}


def test_the_wheel_holds_every_proto_and_depends_on_grpc_and_protobuf_only(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        lines = archive.read(metadata).decode().splitlines()
    for proto in (ROOT / "protos").rglob("*.proto"):
        module = proto.relative_to(ROOT / "protos").with_suffix("")
        assert {
            f"{module}_pb2.py",
            f"{module}_pb2.pyi",
            f"{module}_pb2_grpc.pyi",
            f"{proto.relative_to(ROOT / 'protos')}",
        } <= names
    assert "travel_client/py.typed" in names and "travel/py.typed" in names
    requires = sorted(
        line.split(":", 1)[1].split("<")[0].split(">")[0].strip()
        for line in lines
        if line.startswith("Requires-Dist:")
    )
    assert requires == ["googleapis-common-protos", "grpcio", "protobuf"]
    assert "Version: 1." in "\n".join(lines)  # travel.*.v1


def test_the_wheel_works_without_the_project_on_the_path(client_python: Path, outside: Path) -> None:
    probe = (
        "import sys, importlib.util, travel_client\n"
        "from travel.sessions.v1 import sessions_pb2_grpc\n"
        f"assert not any(p.startswith({str(ROOT)!r}) for p in sys.path), sys.path\n"
        "assert importlib.util.find_spec('services') is None\n"
        "assert importlib.util.find_spec('gateway') is None\n"
        "print(travel_client.__file__)\n"
    )
    done = run_isolated(client_python, ["-c", probe], outside)
    assert done.returncode == 0, done.stderr
    assert str(client_python.parent.parent) in done.stdout


def test_the_grpc_example_books_a_trip_with_the_wheel(
    system: RunningSystem, client_python: Path, outside: Path
) -> None:
    done = run_isolated(client_python, ["book_a_trip.py", "--timeout", "90"], outside, grpc_env(system))
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    lines = done.stdout.splitlines()
    assert "session STATE_CONFIRMED ALL_CONFIRMED" in lines, done.stdout
    assert any(
        line.startswith("session STATE_PAYMENT_PENDING") or "PAYMENT_PENDING" in line for line in lines
    )


def test_the_rest_example_books_a_trip_with_a_generated_client(
    system: RunningSystem, outside: Path, tmp_path: Path
) -> None:
    generated = tmp_path / "rest-client"
    # What `make rest-client` runs, against this system's gateway.
    subprocess.run(
        [
            UV,
            "tool",
            "run",
            "--from",
            "openapi-python-client>=0.29,<0.30",
            "openapi-python-client",
            "generate",
            "--url",
            f"{system.gateway_url}/openapi.json",
            "--meta",
            "uv",
            "--output-path",
            generated,
        ],
        check=True,
        capture_output=True,
        # Its post-generation hook formats with ruff, which the project's virtualenv has.
        env=os.environ | {"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"},
    )
    python = fresh_venv(tmp_path / "venv", str(generated))
    args = [
        "book_a_trip_rest.py",
        "--gateway",
        system.gateway_url,
        "--payment-provider",
        system.provider_url("payment"),
    ]
    done = run_isolated(python, args, outside)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    assert "session STATE_CONFIRMED ALL_CONFIRMED" in done.stdout.splitlines(), done.stdout


def test_a_returning_customer_logs_in_with_the_same_email(
    system: RunningSystem, client_python: Path, outside: Path
) -> None:
    email = f"returning.{uuid.uuid4().hex[:8]}@example.com"
    for _ in range(2):
        done = run_isolated(client_python, ["book_a_trip.py", "--email", email], outside, grpc_env(system))
        assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
        assert f"logged in as {email}" in done.stdout


def endpoints_of(system: RunningSystem) -> Endpoints:
    return Endpoints(*(system.grpc_address(s) for s in GRPC_SERVICES))


def test_refusals_are_exceptions_with_their_google_rpc_details(system: RunningSystem) -> None:
    with TravelClient(endpoints_of(system)) as client:
        with pytest.raises(InvalidArgument) as refused:
            client.register("not an email", "Ana", "short")
        assert set(refused.value.field_violations) == {"email", "password"}
        assert refused.value.reason == "FIELD_RULES"
        assert isinstance(refused.value, grpc.RpcError)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT

        with pytest.raises(Unauthenticated) as anonymous:
            client.sessions.ListSessions(sessions_pb2.ListSessionsRequest())
        assert (anonymous.value.reason, anonymous.value.domain) == (
            "TOKEN_MISSING",
            "sessions.travel.example",
        )

        email = f"ana.{uuid.uuid4().hex[:8]}@example.com"
        client.register(email, "Ana", "correct horse battery")
        with pytest.raises(AlreadyExists) as taken:
            client.register(email, "Ana", "correct horse battery")
        assert isinstance(taken.value, EmailTaken)
        assert taken.value.domain == "customers.travel.example"
        client.login(email, "correct horse battery")
        with pytest.raises(NotFound) as missing:
            client.sessions.GetSession(sessions_pb2.GetSessionRequest(id=str(uuid.uuid4())))
        assert isinstance(missing.value, SessionNotFound)
        assert client.sessions.ListSessions(sessions_pb2.ListSessionsRequest()).sessions == []


def test_a_plaintext_channel_sends_the_token_as_metadata(system: RunningSystem) -> None:
    """What a client uses for a development server on another host, where local credentials do not apply."""
    email = f"bo.{uuid.uuid4().hex[:8]}@example.com"
    with TravelClient(endpoints_of(system)) as client:
        client.register(email, "Bo", "correct horse battery")
        token = BearerToken(client.login(email, "correct horse battery"))
    with plaintext_channel(system.grpc_address("customers"), token) as channel:
        me = customers_pb2_grpc.CustomersServiceStub(channel).GetMe(customers_pb2.GetMeRequest())
    assert me.customer.email == email
    token.token = "not-a-token"
    with (
        plaintext_channel(system.grpc_address("customers"), token) as channel,
        pytest.raises(Unauthenticated),
    ):
        customers_pb2_grpc.CustomersServiceStub(channel).GetMe(customers_pb2.GetMeRequest())
