"""Customer token issue and verification: every claim checked, forged tokens refused."""

from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from kit.errors import Unauthenticated
from kit.settings import Env
from kit.signing_keys import new_private_pem, public_pem_of
from kit.tokens import (
    AUDIENCE,
    ISSUER,
    TokenIssuer,
    TokenVerifier,
    customer_token_private_key,
    customer_token_public_key,
)

NOW = 1_900_000_000


def _claims(**overrides: object) -> dict[str, object]:
    claims: dict[str, object] = {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "iat": NOW, "exp": NOW + 60}
    claims |= {"jti": "j", "scope": "customer"}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


@pytest.fixture
def keys() -> tuple[bytes, bytes]:
    private = new_private_pem()
    return private, public_pem_of(private)


def _signed(private: bytes, claims: dict[str, object]) -> str:
    key = serialization.load_pem_private_key(private, password=None)
    return jwt.encode(claims, key, algorithm="EdDSA")  # type: ignore[arg-type]


def test_round_trip(keys: tuple[bytes, bytes]) -> None:
    private, public = keys
    token = TokenIssuer(private, 3600).issue("cust-1", now=NOW, token_id="t1")
    caller = TokenVerifier(public, leeway_seconds=10**10).verify(token)
    assert caller.subject == "cust-1"
    assert not caller.is_service and caller.service is None


def test_expired_token_is_refused(keys: tuple[bytes, bytes]) -> None:
    private, public = keys
    token = TokenIssuer(private, 60).issue("cust-1", now=1_000, token_id="t1")
    with pytest.raises(Unauthenticated, match="expired"):
        TokenVerifier(public).verify(token)


def test_token_from_another_key_is_refused(keys: tuple[bytes, bytes]) -> None:
    _, public = keys
    token = TokenIssuer(new_private_pem(), 3600).issue("cust-1", now=NOW, token_id="t1")
    with pytest.raises(Unauthenticated):
        TokenVerifier(public, leeway_seconds=10**10).verify(token)


def test_alg_none_is_refused(keys: tuple[bytes, bytes]) -> None:
    _, public = keys
    token = jwt.encode(_claims(), key="", algorithm="none")
    with pytest.raises(Unauthenticated):
        TokenVerifier(public, leeway_seconds=10**10).verify(token)


def test_wrong_audience_is_refused(keys: tuple[bytes, bytes]) -> None:
    private, public = keys
    with pytest.raises(Unauthenticated):
        TokenVerifier(public, leeway_seconds=10**10).verify(_signed(private, _claims(aud="other")))


def test_missing_claim_is_refused(keys: tuple[bytes, bytes]) -> None:
    private, public = keys
    with pytest.raises(Unauthenticated, match="jti"):
        TokenVerifier(public, leeway_seconds=10**10).verify(_signed(private, _claims(jti=None)))


def test_a_customer_token_claiming_the_service_scope_is_refused(keys: tuple[bytes, bytes]) -> None:
    private, public = keys
    with pytest.raises(Unauthenticated, match="customer scope"):
        TokenVerifier(public, leeway_seconds=10**10).verify(_signed(private, _claims(scope="service")))


def test_dev_customer_key_is_made_once_per_data_folder(tmp_path: Path) -> None:
    env = Env({"TRAVEL_DATA_DIR": str(tmp_path)})
    first = customer_token_private_key(env)
    assert customer_token_private_key(env) == first
    assert customer_token_public_key(env) == public_pem_of(first)
    other = Env({"TRAVEL_DATA_DIR": str(tmp_path / "other")})
    assert customer_token_private_key(other) != first
