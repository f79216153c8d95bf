"""Token issue and verification: every claim checked, forged tokens refused."""

from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.kit.errors import Unauthenticated
from services.kit.tokens import AUDIENCE, ISSUER, TokenIssuer, TokenVerifier, ensure_dev_keys

NOW = 1_900_000_000


@pytest.fixture
def keys(tmp_path: Path) -> tuple[bytes, bytes]:
    pair = ensure_dev_keys(tmp_path / "keys")
    assert pair.private_pem is not None
    return pair.private_pem, pair.public_pem


def test_round_trip(keys: tuple[bytes, bytes]) -> None:
    private, public = keys
    token = TokenIssuer(private, 3600).issue("cust-1", now=NOW, token_id="t1")
    caller = TokenVerifier(public, leeway_seconds=10**10).verify(token)
    assert caller.subject == "cust-1"
    assert not caller.is_service


def test_expired_token_is_refused(keys: tuple[bytes, bytes]) -> None:
    private, public = keys
    token = TokenIssuer(private, 60).issue("cust-1", now=1_000, token_id="t1")
    with pytest.raises(Unauthenticated, match="expired"):
        TokenVerifier(public).verify(token)


def test_token_from_another_key_is_refused(keys: tuple[bytes, bytes], tmp_path: Path) -> None:
    _, public = keys
    other = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    token = TokenIssuer(other, 3600).issue("cust-1", now=NOW, token_id="t1")
    with pytest.raises(Unauthenticated):
        TokenVerifier(public, leeway_seconds=10**10).verify(token)


def test_alg_none_is_refused(keys: tuple[bytes, bytes]) -> None:
    _, public = keys
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "iat": NOW, "exp": NOW + 60, "jti": "j"}
    token = jwt.encode(claims, key="", algorithm="none")
    with pytest.raises(Unauthenticated):
        TokenVerifier(public, leeway_seconds=10**10).verify(token)


def test_wrong_audience_is_refused(keys: tuple[bytes, bytes]) -> None:
    private, public = keys
    key = serialization.load_pem_private_key(private, password=None)
    claims = {"iss": ISSUER, "aud": "other", "sub": "x", "iat": NOW, "exp": NOW + 60, "jti": "j"}
    token = jwt.encode(claims, key, algorithm="EdDSA")  # type: ignore[arg-type]
    with pytest.raises(Unauthenticated):
        TokenVerifier(public, leeway_seconds=10**10).verify(token)


def test_missing_claim_is_refused(keys: tuple[bytes, bytes]) -> None:
    private, public = keys
    key = serialization.load_pem_private_key(private, password=None)
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "iat": NOW, "exp": NOW + 60}
    token = jwt.encode(claims, key, algorithm="EdDSA")  # type: ignore[arg-type]
    with pytest.raises(Unauthenticated, match="jti"):
        TokenVerifier(public, leeway_seconds=10**10).verify(token)


def test_dev_keys_are_created_once(tmp_path: Path) -> None:
    first = ensure_dev_keys(tmp_path / "keys")
    second = ensure_dev_keys(tmp_path / "keys")
    assert first == second
