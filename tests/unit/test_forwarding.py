"""A forwarded client address is believed only with the gateway's token; otherwise the peer counts."""

from pathlib import Path

import pytest

from kit.forwarding import ClientAddresses, forwarding_metadata, peer_host
from kit.service_identity import ServiceCredentials, dev_service_key, trusted_service_keys
from kit.settings import Env
from kit.signing_keys import new_private_pem, public_pem_of
from kit.tokens import TokenVerifier

PEER = "ipv4:10.1.2.3:50000"


@pytest.mark.parametrize(
    ("peer", "host"),
    [
        ("ipv4:127.0.0.1:54321", "127.0.0.1"),
        ("ipv6:[::1]:54321", "::1"),
        ("ipv6:[fe80::1%eth0]:80", "fe80::1"),
        ("unix:/tmp/grpc.sock", "unix:/tmp/grpc.sock"),
    ],
)
def test_peer_host(peer: str, host: str) -> None:
    assert peer_host(peer) == host


@pytest.fixture
def addresses(tmp_path: Path) -> ClientAddresses:
    env = Env({"TRAVEL_DATA_DIR": str(tmp_path)})
    return ClientAddresses(TokenVerifier(public_pem_of(new_private_pem()), trusted_service_keys(env, ())))


def signed_by(tmp_path: Path, service: str, address: str) -> list[tuple[str, str]]:
    return forwarding_metadata(address, ServiceCredentials(service, dev_service_key(tmp_path, service)))


def test_the_gateway_vouches_for_the_address_it_forwards(addresses: ClientAddresses, tmp_path: Path) -> None:
    assert addresses.address_of(signed_by(tmp_path, "gateway", "203.0.113.9"), PEER) == "203.0.113.9"
    assert addresses.address_of(signed_by(tmp_path, "gateway", "2001:DB8::1"), PEER) == "2001:db8::1"


def test_without_the_gateways_token_the_peer_is_the_client(
    addresses: ClientAddresses, tmp_path: Path
) -> None:
    assert addresses.address_of([("x-forwarded-for", "203.0.113.9")], PEER) == "10.1.2.3"
    forged = [("x-forwarded-for", "203.0.113.9"), ("x-forwarder-authorization", "Bearer x.y.z")]
    assert addresses.address_of(forged, PEER) == "10.1.2.3"
    # Another service's token proves that service, and only the gateway forwards clients.
    assert addresses.address_of(signed_by(tmp_path, "payments", "203.0.113.9"), PEER) == "10.1.2.3"
    assert addresses.address_of(None, PEER) == "10.1.2.3"


def test_a_forwarded_value_that_is_not_an_address_is_ignored(
    addresses: ClientAddresses, tmp_path: Path
) -> None:
    assert addresses.address_of(signed_by(tmp_path, "gateway", "evil\nvalue"), PEER) == "10.1.2.3"
    # A chain: the first entry is the client the edge saw.
    assert (
        addresses.address_of(signed_by(tmp_path, "gateway", "203.0.113.9, 10.0.0.1"), PEER) == "203.0.113.9"
    )
