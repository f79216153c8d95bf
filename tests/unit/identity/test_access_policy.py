"""Access policies: internal RPCs only from the services they name, customer RPCs only from customers."""

from __future__ import annotations

import pytest
from google.api import annotations_pb2
from travel.sessions.v1 import sessions_pb2

from gateway.descriptors import load_generated_files
from kit.access_policy import AccessPolicy
from kit.errors import PermissionDenied, Unauthenticated
from kit.tokens import Caller
from services.customers.servicer import PUBLIC_METHODS as CUSTOMERS_PUBLIC
from services.customers.servicer import SERVICE_NAME as CUSTOMERS
from services.flights.servicer import PUBLIC_METHODS as FLIGHTS_PUBLIC
from services.flights.servicer import SERVICE_NAME as FLIGHTS
from services.hotel.servicer import PUBLIC_METHODS as HOTEL_PUBLIC
from services.hotel.servicer import SERVICE_NAME as HOTEL
from services.payments.access import ACCESS as PAYMENTS_ACCESS
from services.sessions.access import ACCESS as SESSIONS_ACCESS

SESSIONS = sessions_pb2.DESCRIPTOR.services_by_name["SessionsService"].full_name


def service(name: str) -> Caller:
    return Caller(subject=f"service:{name}", scope="service", service=name)


CUSTOMER = Caller(subject="c-1", scope="customer")


def path(method: str) -> str:
    return f"/{SESSIONS}/{method}"


@pytest.mark.parametrize(
    ("method", "allowed"),
    [
        ("RecordPayment", {"payments"}),
        ("BeginCheckout", {"payments"}),
        ("ReopenCheckout", {"payments"}),
        ("ExpireSessions", {"expiry"}),
        ("AttachItem", {"hotel", "flights"}),
        ("AuthorizeItemChange", {"hotel", "flights"}),
    ],
)
def test_sessions_internal_rpcs_accept_only_their_callers(method: str, allowed: set[str]) -> None:
    for name in ("sessions", "hotel", "flights", "payments", "expiry", "gateway"):
        if name in allowed:
            SESSIONS_ACCESS.check(path(method), service(name))
        else:
            with pytest.raises(PermissionDenied) as denied:
                SESSIONS_ACCESS.check(path(method), service(name))
            assert method in denied.value.message and name in denied.value.message


def test_provider_events_come_only_from_the_gateway() -> None:
    method = f"/{PAYMENTS_ACCESS.service}/HandleProviderEvent"
    PAYMENTS_ACCESS.check(method, service("gateway"))
    with pytest.raises(PermissionDenied, match="payments"):
        PAYMENTS_ACCESS.check(method, service("payments"))


def test_a_customer_cannot_call_an_internal_rpc() -> None:
    with pytest.raises(PermissionDenied, match="RecordPayment is internal"):
        SESSIONS_ACCESS.check(path("RecordPayment"), CUSTOMER)


def test_a_service_cannot_act_as_a_customer() -> None:
    SESSIONS_ACCESS.check(path("GetSession"), CUSTOMER)
    with pytest.raises(PermissionDenied, match="for customers"):
        SESSIONS_ACCESS.check(path("GetSession"), service("gateway"))


def test_no_token_is_unauthenticated_except_on_public_methods() -> None:
    with pytest.raises(Unauthenticated):
        SESSIONS_ACCESS.check(path("ExpireSessions"), None)
    customers = AccessPolicy.of(CUSTOMERS, public=CUSTOMERS_PUBLIC)
    customers.check(f"/{CUSTOMERS}/Login", None)
    customers.check(f"/{CUSTOMERS}/Login", service("gateway"))
    with pytest.raises(PermissionDenied, match="not a method"):
        customers.check(path("GetSession"), CUSTOMER)


@pytest.mark.parametrize(
    ("internal", "problem"),
    [
        ({k: v for k, v in SESSIONS_ACCESS.internal.items() if k != "RecordPayment"}, "RecordPayment has no"),
        ({**SESSIONS_ACCESS.internal, "GetSession": {"gateway"}}, "GetSession has an HTTP binding"),
        ({**SESSIONS_ACCESS.internal, "ExpireSessions": {"bench"}}, "known services"),
        ({**SESSIONS_ACCESS.internal, "ExpireSessions": set()}, "known services"),
        ({**SESSIONS_ACCESS.internal, "Nope": {"expiry"}}, "Nope is not a method"),
    ],
)
def test_a_wrong_declaration_stops_the_process(internal: dict[str, set[str]], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        AccessPolicy.of(SESSIONS, internal=internal)


def test_every_internal_rpc_in_the_protos_names_its_callers() -> None:
    declared = {
        policy.service: policy
        for policy in (
            SESSIONS_ACCESS,
            PAYMENTS_ACCESS,
            AccessPolicy.of(CUSTOMERS, public=CUSTOMERS_PUBLIC),
            AccessPolicy.of(HOTEL, public=HOTEL_PUBLIC),
            AccessPolicy.of(FLIGHTS, public=FLIGHTS_PUBLIC),
        )
    }
    for file in load_generated_files():
        for proto_service in file.services_by_name.values():
            for method in proto_service.methods:
                if method.GetOptions().HasExtension(annotations_pb2.http):
                    continue
                policy = declared[proto_service.full_name]
                assert policy.internal.get(method.name) or method.name in policy.customer_streams, (
                    f"{method.full_name} names no caller"
                )


def test_a_customer_method_without_an_http_binding_is_a_declared_server_stream() -> None:
    assert "WatchSession" in SESSIONS_ACCESS.customer_streams
    with pytest.raises(ValueError, match="GetSession is not a server stream"):
        AccessPolicy.of(
            SESSIONS, internal=dict(SESSIONS_ACCESS.internal), customer_streams={"WatchSession", "GetSession"}
        )
