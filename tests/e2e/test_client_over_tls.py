"""The gRPC example books a trip with the client wheel over mutual TLS, as production servers run."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kit.certificates import write_certificates
from tests.e2e.system import ROOT, RunningSystem, running_system
from tests.fresh_venv import build_wheel, fresh_venv, run_isolated

pytestmark = pytest.mark.e2e

GRPC_SERVICES = ("customers", "sessions", "hotel", "flights", "payments")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pki")
    write_certificates(folder, ["travel", "traveller"], datetime.now(UTC))
    return folder


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory, redis_url: str, pki: Path) -> Iterator[RunningSystem]:
    env = {
        "GRPC_TLS_CA_FILE": str(pki / "ca.pem"),
        "GRPC_TLS_CERT_FILE": str(pki / "travel.pem"),
        "GRPC_TLS_KEY_FILE": str(pki / "travel.key"),
        "GRPC_TLS_CLIENT_AUTH": "true",
    }
    with running_system(tmp_path_factory.mktemp("tls"), redis_url, env) as running:
        yield running


def test_the_grpc_example_books_a_trip_over_mutual_tls(
    system: RunningSystem, pki: Path, tmp_path: Path
) -> None:
    python = fresh_venv(tmp_path / "venv", str(build_wheel(tmp_path / "wheel")))
    (tmp_path / "book_a_trip.py").write_bytes((ROOT / "examples" / "book_a_trip.py").read_bytes())
    env = {f"{s.upper()}_GRPC_ADDR": system.grpc_address(s) for s in GRPC_SERVICES} | {
        "PAYMENT_PROVIDER_URL": system.provider_url("payment"),
        # The customer's own certificate from the same CA: the servers ask every caller for one.
        "GRPC_TLS_CA_FILE": str(pki / "ca.pem"),
        "GRPC_TLS_CERT_FILE": str(pki / "traveller.pem"),
        "GRPC_TLS_KEY_FILE": str(pki / "traveller.key"),
    }
    done = run_isolated(python, ["book_a_trip.py", "--timeout", "90"], tmp_path, env)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    assert "session STATE_CONFIRMED ALL_CONFIRMED" in done.stdout.splitlines(), done.stdout
