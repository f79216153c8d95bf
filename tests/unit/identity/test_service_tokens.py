"""Service tokens: each service signs as itself only; a customer token never passes as a service."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from kit.errors import Unauthenticated
from kit.service_identity import ServiceCredentials, TrustedServiceKeys, dev_service_key
from kit.signing_keys import new_private_pem, public_pem_of
from kit.tokens import SERVICE_AUDIENCE, TokenIssuer, TokenVerifier, service_issuer

NOW = 1_900_000_000


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def customer_key() -> bytes:
    return new_private_pem()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def verifier(customer_key: bytes, data_dir: Path) -> TokenVerifier:
    trusted = TrustedServiceKeys(data_dir / "secrets" / "trusted")
    return TokenVerifier(public_pem_of(customer_key), trusted, leeway_seconds=10**10)


def token_of(credentials: ServiceCredentials) -> str:
    [(_, value)] = credentials.metadata()
    return value.removeprefix("Bearer ")


def forged(private_pem: bytes, **claims: object) -> str:
    key = serialization.load_pem_private_key(private_pem, password=None)
    base: dict[str, object] = {"aud": SERVICE_AUDIENCE, "iat": NOW, "exp": NOW + 60, "jti": "j"}
    return jwt.encode(base | claims, key, algorithm="EdDSA")  # type: ignore[arg-type]


def test_a_service_token_proves_its_service(verifier: TokenVerifier, data_dir: Path) -> None:
    credentials = ServiceCredentials("payments", dev_service_key(data_dir, "payments"), Clock(NOW))
    caller = verifier.verify(token_of(credentials))
    assert caller.is_service and caller.service == "payments" and caller.subject == "service:payments"


def test_a_key_made_after_the_verifier_started_is_found(verifier: TokenVerifier, data_dir: Path) -> None:
    # Development start order: the verifier exists before the caller ever made its key.
    with pytest.raises(Unauthenticated, match="not trusted"):
        verifier.verify(
            forged(new_private_pem(), iss=service_issuer("expiry"), sub="service:expiry", scope="service")
        )
    credentials = ServiceCredentials("expiry", dev_service_key(data_dir, "expiry"), Clock(NOW))
    assert verifier.verify(token_of(credentials)).service == "expiry"


def test_service_a_cannot_claim_to_be_service_b(verifier: TokenVerifier, data_dir: Path) -> None:
    expiry_key = dev_service_key(data_dir, "expiry")
    dev_service_key(data_dir, "payments")
    as_payments = forged(expiry_key, iss=service_issuer("payments"), sub="service:payments", scope="service")
    with pytest.raises(Unauthenticated, match="Signature verification failed"):
        verifier.verify(as_payments)
    # Its own issuer, another service's subject: refused too.
    mixed = forged(expiry_key, iss=service_issuer("expiry"), sub="service:payments", scope="service")
    with pytest.raises(Unauthenticated, match="names its own service"):
        verifier.verify(mixed)


def test_a_customer_token_is_never_a_service(
    verifier: TokenVerifier, customer_key: bytes, data_dir: Path
) -> None:
    customer = TokenIssuer(customer_key, 3600).issue("service:payments", now=NOW, token_id="t")
    caller = verifier.verify(customer)
    assert not caller.is_service and caller.service is None
    # The customer key cannot sign a service token either: each service's own key checks it.
    dev_service_key(data_dir, "payments")
    as_service = forged(customer_key, iss=service_issuer("payments"), sub="service:payments", scope="service")
    with pytest.raises(Unauthenticated, match="Signature verification failed"):
        verifier.verify(as_service)


@pytest.mark.parametrize("issuer", ["travel.service.../../etc/passwd", "travel.service.bench", "someone"])
def test_unknown_issuers_are_refused(verifier: TokenVerifier, issuer: str) -> None:
    with pytest.raises(Unauthenticated, match="unknown issuer"):
        verifier.verify(forged(new_private_pem(), iss=issuer, sub="service:x", scope="service"))


def test_a_long_lived_service_token_is_refused(verifier: TokenVerifier, data_dir: Path) -> None:
    key = dev_service_key(data_dir, "gateway")
    day = NOW + 86_400
    token = forged(key, iss=service_issuer("gateway"), sub="service:gateway", scope="service", exp=day)
    with pytest.raises(Unauthenticated, match="short-lived"):
        verifier.verify(token)


def test_credentials_renew_at_half_life(data_dir: Path) -> None:
    clock = Clock(NOW)
    credentials = ServiceCredentials("hotel", dev_service_key(data_dir, "hotel"), clock, ttl_seconds=120)
    first = credentials.metadata()
    clock.now += 59
    assert credentials.metadata() == first
    clock.now += 2
    assert credentials.metadata() != first


def test_only_known_identities_can_sign() -> None:
    with pytest.raises(ValueError, match="unknown service identity"):
        ServiceCredentials("bench", new_private_pem())
