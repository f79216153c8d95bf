"""travel_client against a real gRPC server: a refusal's ErrorInfo becomes a typed error with its reason.

The server maps domain errors with the services' own mapping (kit.grpc_status); the e2e tests
raise the same errors from the running services.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest
from travel.customers.v1 import customers_pb2, customers_pb2_grpc
from travel_client import (
    BearerToken,
    FailedPrecondition,
    NotFound,
    RateLimited,
    ResourceExhausted,
    SessionExpired,
    SessionNotOpen,
    TravelError,
    open_channel,
)

from kit import errors
from kit.error_reasons import ErrorReason
from kit.grpc_status import to_rpc_status

pytestmark = pytest.mark.integration

DOMAIN = "customers.travel.example"


class RefusingCustomers(customers_pb2_grpc.CustomersServiceServicer):
    """Answers GetMe with the refusal it was given."""

    def __init__(self) -> None:
        self.refusal: Exception = errors.NotFound("nobody")

    def GetMe(
        self, request: customers_pb2.GetMeRequest, context: grpc.ServicerContext
    ) -> customers_pb2.GetMeResponse:
        context.abort_with_status(to_rpc_status(self.refusal, DOMAIN))
        raise AssertionError("abort_with_status returns only by raising")


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[RefusingCustomers, str]]:
    servicer = RefusingCustomers()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    customers_pb2_grpc.add_CustomersServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield servicer, f"127.0.0.1:{port}"
    finally:
        server.stop(grace=None)


def refusal_of(served: tuple[RefusingCustomers, str], error: Exception) -> TravelError:
    servicer, target = served
    servicer.refusal = error
    with open_channel(target, BearerToken("token")) as channel, pytest.raises(TravelError) as caught:
        customers_pb2_grpc.CustomersServiceStub(channel).GetMe(customers_pb2.GetMeRequest(), timeout=20)
    return caught.value


def test_an_expired_session_is_a_session_expired_error(served: tuple[RefusingCustomers, str]) -> None:
    refused = refusal_of(
        served,
        errors.FailedPrecondition(
            "session has passed its deadline",
            reason=ErrorReason.SESSION_EXPIRED,
            metadata={"session_id": "s1"},
        ),
    )
    assert isinstance(refused, SessionExpired) and isinstance(refused, FailedPrecondition)
    assert refused.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert (refused.reason, refused.domain, refused.metadata) == (
        "SESSION_EXPIRED",
        DOMAIN,
        {"session_id": "s1"},
    )


def test_a_closed_session_is_told_from_an_expired_one(served: tuple[RefusingCustomers, str]) -> None:
    refused = refusal_of(served, errors.FailedPrecondition("not OPEN", reason=ErrorReason.SESSION_NOT_OPEN))
    assert isinstance(refused, SessionNotOpen) and not isinstance(refused, SessionExpired)


def test_a_limit_is_rate_limited_with_its_wait(served: tuple[RefusingCustomers, str]) -> None:
    refused = refusal_of(served, errors.ResourceExhausted("too many", retry_after_seconds=9, subject="login"))
    assert isinstance(refused, RateLimited) and isinstance(refused, ResourceExhausted)
    assert refused.retry_after_seconds == 9
    assert refused.metadata == {"retry_after_seconds": "9", "subject": "login"}


def test_a_reason_without_a_class_of_its_own_keeps_the_code_s_class(
    served: tuple[RefusingCustomers, str],
) -> None:
    refused = refusal_of(served, errors.NotFound("no customer", reason=ErrorReason.CUSTOMER_NOT_FOUND))
    assert type(refused) is NotFound
    assert refused.reason == "CUSTOMER_NOT_FOUND"
