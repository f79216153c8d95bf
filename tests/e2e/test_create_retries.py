"""A create retried across a connection killed after the server committed makes one resource (AIP-155)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import grpc
import pytest
from travel.sessions.v1 import sessions_pb2, sessions_pb2_grpc
from travel_client import Endpoints, TravelClient

from tests.e2e.booking import Customer
from tests.e2e.system import RunningSystem, running_system, wait_for
from tests.support.cut_proxy import CutProxy, cut_proxy

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[RunningSystem]:
    with running_system(tmp_path_factory.mktemp("create-retries"), redis_url) as running:
        yield running


@pytest.fixture
def proxy(system: RunningSystem) -> Iterator[CutProxy]:
    with cut_proxy(system.grpc_address("sessions")) as running:
        yield running


def sessions_of(system: RunningSystem, customer: Customer) -> list[str]:
    direct = grpc.insecure_channel(system.grpc_address("sessions"))
    with direct:
        listed = sessions_pb2_grpc.SessionsServiceStub(direct).ListSessions(
            sessions_pb2.ListSessionsRequest(), metadata=auth(customer), timeout=10
        )
    return [session.id for session in listed.sessions]


def auth(customer: Customer) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {customer.token}"),)


def cut_once_committed(system: RunningSystem, customer: Customer, proxy: CutProxy) -> str:
    """Wait until the server stored the session and its answer reached the proxy and was dropped, then cut.

    A commit alone is not enough: the server writes its answer a moment after it, and a cut in
    that moment would test a lost request rather than a lost answer.
    """
    stored = str(wait_for(lambda: sessions_of(system, customer), 30, "the session to be committed")[0])
    wait_for(lambda: proxy.has_swallowed(stored.encode()), 30, "the answer naming the session to be dropped")
    proxy.cut()
    return stored


def test_a_create_retried_after_a_killed_connection_answers_the_one_session_it_made(
    system: RunningSystem, proxy: CutProxy
) -> None:
    customer = Customer.signed_up(system)
    request = sessions_pb2.CreateSessionRequest(request_id=str(uuid.uuid4()))
    # No retry policy here: the test makes the retry itself, as any client would.
    with grpc.insecure_channel(proxy.address) as channel:
        stub = sessions_pb2_grpc.SessionsServiceStub(channel)
        stub.ListSessions(sessions_pb2.ListSessionsRequest(), metadata=auth(customer), timeout=10)
        proxy.swallow_answers()
        pending = stub.CreateSession.future(request, metadata=auth(customer), timeout=30)
        stored = cut_once_committed(system, customer, proxy)
        with pytest.raises(grpc.RpcError) as lost:
            pending.result()
        assert lost.value.code() == grpc.StatusCode.UNAVAILABLE
        # The channel may still be backing off from the reset: the retry waits for it to reconnect.
        retried = stub.CreateSession(request, metadata=auth(customer), timeout=10, wait_for_ready=True)
        again = stub.CreateSession(request, metadata=auth(customer), timeout=10, wait_for_ready=True)
    assert retried.session.id == stored
    assert again == retried
    assert sessions_of(system, customer) == [stored]
    assert proxy.swallowed > 0


def test_the_client_wheel_retries_a_cut_create_with_its_own_request_id_into_one_session(
    system: RunningSystem, proxy: CutProxy
) -> None:
    customer = Customer.signed_up(system)
    endpoints = Endpoints(sessions=proxy.address)
    with TravelClient(endpoints, token=customer.token) as client:
        client.sessions.ListSessions(sessions_pb2.ListSessionsRequest(), timeout=10)
        proxy.swallow_answers()
        # No request_id given: the wheel makes one, and its channel retries UNAVAILABLE with it.
        pending = client.sessions.CreateSession.future(sessions_pb2.CreateSessionRequest(), timeout=30)
        stored = cut_once_committed(system, customer, proxy)
        answer = pending.result()
    assert answer.session.id == stored
    assert sessions_of(system, customer) == [stored]


def test_a_request_id_through_the_gateway_answers_the_first_session(system: RunningSystem) -> None:
    customer = Customer.signed_up(system)
    body = {"requestId": str(uuid.uuid4())}
    first = customer.ok("POST", "/v1/sessions", body)
    assert customer.ok("POST", "/v1/sessions", body) == first
    assert sessions_of(system, customer) == [first["session"]["id"]]
    refused = customer.call("POST", "/v1/sessions", {"requestId": "not-a-uuid"})
    assert refused.status_code == 400, refused.text
    assert "requestId" in refused.text or "request_id" in refused.text
