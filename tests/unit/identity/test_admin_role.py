"""The admin role: carried in a verified customer token, required by every operator RPC."""

from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from travel.operations.v1 import operations_pb2
from travel.sessions.v1 import sessions_pb2

from kit.access_policy import AccessPolicy, ServerAccess
from kit.errors import PermissionDenied, Unauthenticated
from kit.signing_keys import new_private_pem, public_pem_of
from kit.tokens import AUDIENCE, ISSUER, Caller, TokenIssuer, TokenVerifier
from services.customers.servicer import ADMIN_METHODS as CUSTOMERS_ADMIN
from services.customers.servicer import PUBLIC_METHODS as CUSTOMERS_PUBLIC
from services.customers.servicer import SERVICE_NAME as CUSTOMERS
from services.sessions.access import ACCESS as SESSIONS_ACCESS
from services.sessions.operations.access import ACCESS as OPERATIONS_ACCESS

OPERATIONS = operations_pb2.DESCRIPTOR.services_by_name["OperationsService"]
SESSIONS = sessions_pb2.DESCRIPTOR.services_by_name["SessionsService"].full_name
ADMIN = Caller(subject="a-1", scope="customer", roles=frozenset({"admin"}))
CUSTOMER = Caller(subject="c-1", scope="customer")
GATEWAY = Caller(subject="service:gateway", scope="service", service="gateway")
SESSIONS_SERVER = ServerAccess((SESSIONS_ACCESS, OPERATIONS_ACCESS))


@pytest.fixture
def private_pem() -> bytes:
    return new_private_pem()


def test_issued_roles_come_back_from_a_verified_token(private_pem: bytes) -> None:
    issuer, verifier = TokenIssuer(private_pem, 600), TokenVerifier(public_pem_of(private_pem))
    now = int(time.time())
    admin = verifier.verify(issuer.issue("a-1", now=now, token_id="t1", roles={"admin"}))
    customer = verifier.verify(issuer.issue("c-1", now=now, token_id="t2"))
    assert admin.is_admin and admin.roles == {"admin"}
    assert not customer.is_admin and customer.roles == frozenset()
    plain = jwt.decode(issuer.issue("c-1", now=now, token_id="t3"), options={"verify_signature": False})
    assert "roles" not in plain


def test_a_roles_claim_that_is_not_a_list_of_names_is_refused(private_pem: bytes) -> None:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "iat": now, "exp": now + 60, "jti": "j"}
    key = serialization.load_pem_private_key(private_pem, password=None)
    token = jwt.encode(claims | {"scope": "customer", "roles": "admin"}, key, algorithm="EdDSA")  # type: ignore[arg-type]
    with pytest.raises(Unauthenticated, match="roles"):
        TokenVerifier(public_pem_of(private_pem)).verify(token)


def test_an_admin_token_signed_by_another_key_is_refused(private_pem: bytes) -> None:
    other = TokenIssuer(new_private_pem(), 600)
    forged = other.issue("x", now=int(time.time()), token_id="t", roles={"admin"})
    with pytest.raises(Unauthenticated):
        TokenVerifier(public_pem_of(private_pem)).verify(forged)


def test_a_service_never_counts_as_admin() -> None:
    claimed = Caller("service:gateway", scope="service", service="gateway", roles=frozenset({"admin"}))
    assert not claimed.is_admin


@pytest.mark.parametrize("method", [m.name for m in OPERATIONS.methods])
def test_every_operations_rpc_needs_the_admin_role(method: str) -> None:
    path = f"/{OPERATIONS.full_name}/{method}"
    SESSIONS_SERVER.check(path, ADMIN)
    with pytest.raises(PermissionDenied, match="needs the admin role"):
        SESSIONS_SERVER.check(path, CUSTOMER)
    with pytest.raises(PermissionDenied, match="for customers"):
        SESSIONS_SERVER.check(path, GATEWAY)
    with pytest.raises(Unauthenticated):
        SESSIONS_SERVER.check(path, None)
    assert not SESSIONS_SERVER.is_public(path)


def test_the_sessions_server_still_judges_its_own_rpcs_by_its_own_policy() -> None:
    SESSIONS_SERVER.check(f"/{SESSIONS}/GetSession", CUSTOMER)
    SESSIONS_SERVER.check(f"/{SESSIONS}/RecordPayment", Caller("service:payments", "service", "payments"))
    with pytest.raises(PermissionDenied, match="internal"):
        SESSIONS_SERVER.check(f"/{SESSIONS}/RecordPayment", ADMIN)
    with pytest.raises(PermissionDenied, match="not a method this server serves"):
        SESSIONS_SERVER.check("/travel.payments.v1.PaymentsService/Checkout", ADMIN)
    assert SESSIONS_SERVER.callers() == SESSIONS_ACCESS.callers()


def test_finding_a_customer_by_email_is_for_admins() -> None:
    policy = AccessPolicy.of(CUSTOMERS, public=CUSTOMERS_PUBLIC, admin=CUSTOMERS_ADMIN)
    policy.check(f"/{CUSTOMERS}/FindCustomer", ADMIN)
    policy.check(f"/{CUSTOMERS}/GetMe", CUSTOMER)
    with pytest.raises(PermissionDenied, match="needs the admin role"):
        policy.check(f"/{CUSTOMERS}/FindCustomer", CUSTOMER)


def test_a_policy_refuses_admin_methods_that_are_internal_or_public() -> None:
    with pytest.raises(ValueError, match="RecordPayment is internal, so it cannot be for admins"):
        AccessPolicy.of(SESSIONS, internal=dict(SESSIONS_ACCESS.internal), admin=["RecordPayment"])
    with pytest.raises(ValueError, match="Register cannot be both public and for admins"):
        AccessPolicy.of(CUSTOMERS, public=CUSTOMERS_PUBLIC, admin=["Register"])
