"""gRPC over TLS and mutual TLS on loopback, with a CA made for the test: who gets in, who does not."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from kit.certificates import write_certificates
from kit.channels import peer_channel
from kit.grpc_server import RunningServer, start_server
from kit.grpc_tls import GrpcTls
from kit.settings import Env

pytestmark = pytest.mark.integration

# A refused handshake answers at once; the deadline only bounds a test that would otherwise hang.
CALL_TIMEOUT = 10.0


@dataclass(frozen=True)
class Pki:
    """Two unrelated CAs on disk: `trusted` signs the system's certificates, `foreign` does not."""

    trusted: Path
    foreign: Path

    def tls_env(self, host: str, client_auth: bool) -> dict[str, str]:
        return {
            "GRPC_TLS_CA_FILE": str(self.trusted / "ca.pem"),
            "GRPC_TLS_CERT_FILE": str(self.trusted / f"{host}.pem"),
            "GRPC_TLS_KEY_FILE": str(self.trusted / f"{host}.key"),
            "GRPC_TLS_CLIENT_AUTH": "true" if client_auth else "false",
        }


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    now = datetime.now(UTC)
    trusted, foreign = tmp_path_factory.mktemp("trusted-ca"), tmp_path_factory.mktemp("foreign-ca")
    write_certificates(trusted, ["sessions", "gateway"], now)
    write_certificates(foreign, ["gateway"], now)
    return Pki(trusted, foreign)


def client_tls(ca_dir: Path, cert_dir: Path | None) -> grpc.ChannelCredentials:
    """A client trusting `ca_dir`'s CA, showing the gateway certificate of `cert_dir` if given."""
    root = (ca_dir / "ca.pem").read_bytes()
    if cert_dir is None:
        return grpc.ssl_channel_credentials(root_certificates=root)
    return grpc.ssl_channel_credentials(
        root_certificates=root,
        private_key=(cert_dir / "gateway.key").read_bytes(),
        certificate_chain=(cert_dir / "gateway.pem").read_bytes(),
    )


async def start_health_server(pki: Pki, client_auth: bool) -> RunningServer:
    """A real server as every process starts one: health and reflection, on loopback by default."""
    tls = GrpcTls.from_env(Env(pki.tls_env("sessions", client_auth)), serving=True)
    return await start_server([], port=0, tls=tls)


@pytest.fixture
async def mutual(pki: Pki) -> AsyncIterator[RunningServer]:
    server = await start_health_server(pki, client_auth=True)
    yield server
    await server.stop(0)


@pytest.fixture
async def server_only(pki: Pki) -> AsyncIterator[RunningServer]:
    server = await start_health_server(pki, client_auth=False)
    yield server
    await server.stop(0)


def address(server: RunningServer) -> str:
    return f"127.0.0.1:{server.port}"


async def health_status(channel: grpc.aio.Channel) -> int:
    answer = await health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(service=""), timeout=CALL_TIMEOUT
    )
    return int(answer.status)


async def listed_services(channel: grpc.aio.Channel) -> set[str]:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    names: set[str] = set()
    async for answer in stub.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=CALL_TIMEOUT
    ):
        names |= {service.name for service in answer.list_services_response.service}
    return names


async def refused(channel: grpc.aio.Channel) -> grpc.StatusCode:
    async with channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await health_status(channel)
    return caught.value.code()


async def test_mutual_tls_serves_a_client_with_a_certificate_from_the_ca(
    mutual: RunningServer, pki: Pki
) -> None:
    tls = GrpcTls.from_env(Env(pki.tls_env("gateway", client_auth=True)))
    assert tls is not None
    async with peer_channel(address(mutual), tls) as channel:
        assert await health_status(channel) == health_pb2.HealthCheckResponse.SERVING
        listed = await listed_services(channel)
        assert listed == {"grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"}


async def test_mutual_tls_by_name_and_over_a_replica_list(mutual: RunningServer, pki: Pki) -> None:
    tls = GrpcTls.from_env(Env(pki.tls_env("gateway", client_auth=True)))
    port = mutual.port
    for target in (f"localhost:{port}", f"127.0.0.1:{port},127.0.0.1:{port}"):
        async with peer_channel(target, tls) as channel:
            assert await health_status(channel) == health_pb2.HealthCheckResponse.SERVING, target


async def test_mutual_tls_refuses_plaintext_no_certificate_and_a_foreign_certificate(
    mutual: RunningServer, pki: Pki
) -> None:
    target = address(mutual)
    assert await refused(grpc.aio.insecure_channel(target)) == grpc.StatusCode.UNAVAILABLE
    no_certificate = grpc.aio.secure_channel(target, client_tls(pki.trusted, None))
    assert await refused(no_certificate) == grpc.StatusCode.UNAVAILABLE
    foreign_certificate = grpc.aio.secure_channel(target, client_tls(pki.trusted, pki.foreign))
    assert await refused(foreign_certificate) == grpc.StatusCode.UNAVAILABLE


async def test_a_client_refuses_a_server_its_ca_did_not_sign(mutual: RunningServer, pki: Pki) -> None:
    impostor_trust = grpc.aio.secure_channel(address(mutual), client_tls(pki.foreign, pki.foreign))
    assert await refused(impostor_trust) == grpc.StatusCode.UNAVAILABLE


async def test_tls_without_client_auth_serves_a_client_holding_only_the_ca(
    server_only: RunningServer, pki: Pki
) -> None:
    tls = GrpcTls.from_env(
        Env({"GRPC_TLS_CA_FILE": str(pki.trusted / "ca.pem"), "GRPC_TLS_CLIENT_AUTH": "false"})
    )
    assert tls is not None and tls.cert_pem is None
    async with peer_channel(address(server_only), tls) as channel:
        assert await health_status(channel) == health_pb2.HealthCheckResponse.SERVING
        assert "grpc.health.v1.Health" in await listed_services(channel)
    assert await refused(grpc.aio.insecure_channel(address(server_only))) == grpc.StatusCode.UNAVAILABLE


def outward_address() -> str | None:
    """This machine's address on its default route, if it has one (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.255", 9))
        except OSError:
            return None
        host = str(probe.getsockname()[0])
    return None if host.startswith("127.") else host


async def test_without_tls_settings_a_server_speaks_plaintext_on_loopback_only() -> None:
    assert GrpcTls.from_env(Env({}), serving=True) is None
    server = await start_server([], port=0)
    try:
        async with grpc.aio.insecure_channel(address(server)) as channel:
            assert await health_status(channel) == health_pb2.HealthCheckResponse.SERVING
        outward = outward_address()
        if outward is not None:
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection((outward, server.port), timeout=CALL_TIMEOUT).close()
    finally:
        await server.stop(0)
