"""Every process over mutual TLS, on a TLS Redis as an ACL user held to its namespace: a booking confirms."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from kit.certificates import write_certificates
from tests.e2e.booking import Customer, pay
from tests.e2e.system import RunningSystem, running_system
from tests.private_redis import APP_PASSWORD, APP_USER, DEFAULT_PASSWORD, private_redis

pytestmark = pytest.mark.e2e

GRPC_SERVICES = ("customers", "sessions", "hotel", "flights", "payments")


@pytest.fixture(scope="module")
def tls_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pki")
    # One certificate for every process: they all run on this machine and share one environment.
    write_certificates(folder, ["redis", "travel", "operator"], datetime.now(UTC))
    return folder


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory, tls_dir: Path) -> Iterator[RunningSystem]:
    namespace = f"mtls{uuid.uuid4().hex[:10]}"
    # The ACL user may touch its namespace only: every key the system writes lives there.
    redis_dir = tmp_path_factory.mktemp("redis")
    with private_redis(redis_dir, tls_dir, client_certs=True, app_keys=f"{namespace}:*") as redis:
        env = {
            "TRAVEL_NAMESPACE": namespace,
            "GRPC_TLS_CA_FILE": str(tls_dir / "ca.pem"),
            "GRPC_TLS_CERT_FILE": str(tls_dir / "travel.pem"),
            "GRPC_TLS_KEY_FILE": str(tls_dir / "travel.key"),
            "GRPC_TLS_CLIENT_AUTH": "true",
            "REDIS_TLS_CA_FILE": str(tls_dir / "ca.pem"),
            "REDIS_TLS_CERT_FILE": str(tls_dir / "travel.pem"),
            "REDIS_TLS_KEY_FILE": str(tls_dir / "travel.key"),
        }
        url = redis.url(APP_USER, APP_PASSWORD)
        with running_system(tmp_path_factory.mktemp("mtls"), url, env) as running:
            yield running


def health(address: str, credentials: grpc.ChannelCredentials | None) -> int:
    channel = (
        grpc.insecure_channel(address) if credentials is None else grpc.secure_channel(address, credentials)
    )
    with channel:
        answer = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    return int(answer.status)


def test_a_booking_confirms_with_every_hop_encrypted(system: RunningSystem) -> None:
    customer = Customer.signed_up(system)
    session_id = customer.full_session()
    payment = customer.checkout(session_id)["payment"]
    pay(system, payment["id"])
    final = customer.wait_state(session_id, {"STATE_CONFIRMED", "STATE_CANCELLED"})
    assert (final["state"], final["reason"]) == ("STATE_CONFIRMED", "ALL_CONFIRMED")


def test_services_answer_only_clients_with_a_certificate_from_the_ca(
    system: RunningSystem, tls_dir: Path
) -> None:
    ca = (tls_dir / "ca.pem").read_bytes()
    operator = grpc.ssl_channel_credentials(
        ca, (tls_dir / "operator.key").read_bytes(), (tls_dir / "operator.pem").read_bytes()
    )
    for service in GRPC_SERVICES:
        address = system.grpc_address(service)
        assert health(address, operator) == health_pb2.HealthCheckResponse.SERVING, service
        for refused in (None, grpc.ssl_channel_credentials(ca)):
            with pytest.raises(grpc.RpcError) as caught:
                health(address, refused)
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE, service


def test_logs_never_show_a_redis_password(system: RunningSystem) -> None:
    log = system.log_path.read_text(errors="replace")
    assert "connected to Redis at rediss://app:***@127.0.0.1" in log
    assert APP_PASSWORD not in log and DEFAULT_PASSWORD not in log
