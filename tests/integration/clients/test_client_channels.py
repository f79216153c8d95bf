"""travel_client on the wire against a real gRPC server: the retry policy, mutual TLS, the bearer token.

The server is a generated servicer that fails on purpose, which the real services cannot be made
to do on cue; tests/e2e/test_clients.py runs the client against the real services.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
from travel.customers.v1 import customers_pb2, customers_pb2_grpc
from travel_client import BearerToken, Endpoints, TlsSettings, TravelClient, Unavailable, open_channel

from kit.certificates import write_certificates

pytestmark = pytest.mark.integration


@dataclass
class FlakyCustomers(customers_pb2_grpc.CustomersServiceServicer):
    """Answers GetMe UNAVAILABLE `failures` times, then with the caller's authorization header as the name."""

    failures: int
    seen: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def GetMe(
        self, request: customers_pb2.GetMeRequest, context: grpc.ServicerContext
    ) -> customers_pb2.GetMeResponse:
        metadata = {key: str(value) for key, value in context.invocation_metadata()}
        with self.lock:
            self.seen.append(metadata)
            failing = len(self.seen) <= self.failures
        if failing:
            context.abort(grpc.StatusCode.UNAVAILABLE, "restarting")
        name = metadata.get("authorization", "")
        return customers_pb2.GetMeResponse(customer=customers_pb2.Customer(name=name))


@contextmanager
def serving(servicer: FlakyCustomers, credentials: grpc.ServerCredentials | None = None) -> Iterator[str]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    customers_pb2_grpc.add_CustomersServiceServicer_to_server(servicer, server)
    address = "127.0.0.1:0"
    port = (
        server.add_insecure_port(address)
        if credentials is None
        else server.add_secure_port(address, credentials)
    )
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(grace=None)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pki")
    write_certificates(folder, ["customers", "traveller"], datetime.now(UTC))
    return folder


def get_me(target: str, token: BearerToken, tls: TlsSettings | None = None) -> customers_pb2.GetMeResponse:
    with open_channel(target, token, tls) as channel:
        return customers_pb2_grpc.CustomersServiceStub(channel).GetMe(
            customers_pb2.GetMeRequest(), timeout=20
        )


def test_unavailable_is_retried_by_the_channel_until_it_answers() -> None:
    servicer = FlakyCustomers(failures=2)
    with serving(servicer) as target:
        me = get_me(target, BearerToken("t0k"))
    assert me.customer.name == "Bearer t0k"
    # gRPC numbers each retry of a call (gRFC A6): one call, three attempts on the wire.
    assert [m.get("grpc-previous-rpc-attempts") for m in servicer.seen] == [None, "1", "2"]


def test_a_service_that_stays_unavailable_raises_after_the_policys_attempts() -> None:
    servicer = FlakyCustomers(failures=100)
    with serving(servicer) as target, pytest.raises(Unavailable) as refused:
        get_me(target, BearerToken("t0k"))
    assert refused.value.details() == "restarting"
    assert len(servicer.seen) == 5


def test_mutual_tls_carries_the_bearer_token(pki: Path) -> None:
    server_credentials = grpc.ssl_server_credentials(
        [((pki / "customers.key").read_bytes(), (pki / "customers.pem").read_bytes())],
        root_certificates=(pki / "ca.pem").read_bytes(),
        require_client_auth=True,
    )
    servicer = FlakyCustomers(failures=0)
    tls = TlsSettings(pki / "ca.pem", pki / "traveller.pem", pki / "traveller.key", server_name="customers")
    with serving(servicer, server_credentials) as target:
        client = TravelClient(Endpoints(customers=target), tls)
        with client:
            client.bearer.token = "secret"
            me = client.customers.GetMe(customers_pb2.GetMeRequest(), timeout=20)
        assert me.customer.name == "Bearer secret"
        # Without a client certificate the server refuses the handshake.
        with pytest.raises(Unavailable):
            get_me(target, BearerToken("secret"), TlsSettings(pki / "ca.pem", server_name="customers"))
    assert len(servicer.seen) == 1
