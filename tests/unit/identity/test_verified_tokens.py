"""A verified token is remembered until its expiry, never longer, and only for the very same string."""

from __future__ import annotations

import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from kit.auth import CallerCheck
from kit.errors import PermissionDenied, Unauthenticated
from kit.service_identity import ServiceCredentials
from kit.signing_keys import new_private_pem, public_key_of, public_pem_of
from kit.tokens import (
    AUDIENCE,
    ISSUER,
    SERVICE_AUDIENCE,
    Caller,
    TokenIssuer,
    TokenVerifier,
    service_issuer,
)
from kit.verified_tokens import VerifiedTokens
from services.sessions.access import ACCESS


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class SwitchableKeys:
    """Trusted service keys that a test can withdraw, to see whether a verification reads them."""

    def __init__(self) -> None:
        self.keys: dict[str, Ed25519PublicKey] = {}

    def public_key(self, service: str) -> Ed25519PublicKey | None:
        return self.keys.get(service)


def caller(name: str) -> Caller:
    return Caller(subject=name, scope="customer")


def test_an_entry_is_answered_until_its_expiry_and_not_at_it() -> None:
    clock = Clock(1_000.0)
    cache: VerifiedTokens[Caller] = VerifiedTokens(8, clock)
    cache.put("t", caller("a"), expires_at=1_060)
    clock.now = 1_059.9
    assert cache.get("t") == caller("a")
    clock.now = 1_060
    assert cache.get("t") is None
    assert len(cache) == 0
    clock.now = 1_000  # an expired entry is gone, not hidden
    assert cache.get("t") is None


def test_an_entry_already_expired_is_not_kept() -> None:
    cache: VerifiedTokens[Caller] = VerifiedTokens(8, Clock(1_000.0))
    cache.put("t", caller("a"), expires_at=1_000)
    assert cache.get("t") is None and len(cache) == 0


def test_the_least_recently_used_entry_goes_first() -> None:
    cache: VerifiedTokens[Caller] = VerifiedTokens(2, Clock(0.0))
    cache.put("a", caller("a"), expires_at=60)
    cache.put("b", caller("b"), expires_at=60)
    assert cache.get("a") == caller("a")  # now b is the least recently used
    cache.put("c", caller("c"), expires_at=60)
    assert len(cache) == 2
    assert cache.get("b") is None
    assert cache.get("a") == caller("a") and cache.get("c") == caller("c")


def test_a_cache_holds_at_least_one_token() -> None:
    with pytest.raises(ValueError, match="at least one"):
        VerifiedTokens(0, Clock(0.0))


@pytest.fixture
def keys() -> SwitchableKeys:
    return SwitchableKeys()


def expiry_credentials(keys: SwitchableKeys, now: float) -> ServiceCredentials:
    private = new_private_pem()
    keys.keys["expiry"] = public_key_of(public_pem_of(private), "expiry")
    return ServiceCredentials("expiry", private, Clock(now), ttl_seconds=120)


def token_of(credentials: ServiceCredentials) -> str:
    [(_, value)] = credentials.metadata()
    return value.removeprefix("Bearer ")


def test_a_verified_token_is_not_verified_again_before_its_expiry(keys: SwitchableKeys) -> None:
    now = time.time()
    clock = Clock(now)
    verifier = TokenVerifier(public_pem_of(new_private_pem()), keys, clock=clock)
    token = token_of(expiry_credentials(keys, now))
    assert verifier.verify(token).service == "expiry"
    # With its key withdrawn, only a verification from memory can still answer.
    del keys.keys["expiry"]
    clock.now = now + 119
    assert verifier.verify(token).service == "expiry"
    # At the token's exp the memory has forgotten it: verified in full again, and refused.
    clock.now = int(now) + 120
    with pytest.raises(Unauthenticated, match="not trusted"):
        verifier.verify(token)


def test_only_so_many_tokens_are_remembered(keys: SwitchableKeys) -> None:
    now = time.time()
    verifier = TokenVerifier(public_pem_of(new_private_pem()), keys, clock=Clock(now), cache_size=1)
    first = token_of(expiry_credentials(keys, now))
    verifier.verify(first)
    verifier.verify(signed(new_private_pem(), keys, "payments", now))  # pushes the first out
    del keys.keys["expiry"]
    with pytest.raises(Unauthenticated, match="not trusted"):
        verifier.verify(first)


def signed(private_pem: bytes, keys: SwitchableKeys, service: str, now: float, **claims: object) -> str:
    """A service token signed by `private_pem`, which becomes the trusted key of `service`."""
    key = serialization.load_pem_private_key(private_pem, password=None)
    keys.keys[service] = public_key_of(public_pem_of(private_pem), service)
    base: dict[str, object] = {
        "iss": service_issuer(service),
        "aud": SERVICE_AUDIENCE,
        "sub": f"service:{service}",
        "iat": int(now),
        "exp": int(now) + 60,
        "jti": str(uuid.uuid4()),
        "scope": "service",
    }
    return jwt.encode(base | claims, key, algorithm="EdDSA")  # type: ignore[arg-type]


def test_a_token_with_the_same_claims_but_another_signature_is_refused(keys: SwitchableKeys) -> None:
    now = time.time()
    verifier = TokenVerifier(public_pem_of(new_private_pem()), keys, clock=Clock(now))
    trusted = new_private_pem()
    genuine = signed(trusted, keys, "expiry", now)
    assert verifier.verify(genuine).service == "expiry"
    forger = serialization.load_pem_private_key(new_private_pem(), password=None)
    header, payload, _ = genuine.split(".")
    same_claims = jwt.decode(genuine, options={"verify_signature": False})
    forged = jwt.encode(same_claims, forger, algorithm="EdDSA")  # type: ignore[arg-type]
    assert forged.split(".")[:2] == [header, payload] and forged != genuine
    with pytest.raises(Unauthenticated, match="Signature verification failed"):
        verifier.verify(forged)
    assert verifier.verify(genuine).service == "expiry"


def test_a_token_for_another_audience_is_refused_while_a_good_one_is_remembered(keys: SwitchableKeys) -> None:
    now = time.time()
    customer_key = new_private_pem()
    verifier = TokenVerifier(public_pem_of(customer_key), keys, clock=Clock(now))
    customer = TokenIssuer(customer_key, 600).issue("c-1", now=int(now), token_id="t1")
    assert verifier.verify(customer).subject == "c-1"
    signer = serialization.load_pem_private_key(customer_key, password=None)
    for_services = {
        "iss": ISSUER,
        "aud": SERVICE_AUDIENCE,
        "sub": "c-1",
        "iat": int(now),
        "exp": int(now) + 600,
        "jti": "t1",
        "scope": "customer",
    }
    with pytest.raises(Unauthenticated, match="Audience"):
        verifier.verify(jwt.encode(for_services, signer, algorithm="EdDSA"))  # type: ignore[arg-type]
    # A service token naming the customers' audience is refused in the same way.
    with pytest.raises(Unauthenticated, match="Audience"):
        verifier.verify(signed(new_private_pem(), keys, "expiry", now, aud=AUDIENCE))
    with pytest.raises(Unauthenticated, match="Audience"):
        verifier.verify(signed(new_private_pem(), keys, "expiry", now, aud="other"))


def test_a_remembered_caller_is_still_held_to_each_method_s_policy(keys: SwitchableKeys) -> None:
    now = time.time()
    check = CallerCheck(TokenVerifier(public_pem_of(new_private_pem()), keys, clock=Clock(now)), ACCESS)
    metadata = expiry_credentials(keys, now).metadata()
    expire, record = f"/{ACCESS.service}/ExpireSessions", f"/{ACCESS.service}/RecordPayment"
    for _ in range(2):  # the second time from memory: the policy is asked all the same
        admitted = check.admit(expire, metadata)
        assert admitted is not None and admitted.service == "expiry"
        with pytest.raises(PermissionDenied, match="does not accept service expiry"):
            check.admit(record, metadata)


def test_a_remembered_customer_is_still_refused_an_internal_method() -> None:
    now = time.time()
    customer_key = new_private_pem()
    check = CallerCheck(TokenVerifier(public_pem_of(customer_key), clock=Clock(now)), ACCESS)
    token = TokenIssuer(customer_key, 600).issue("c-1", now=int(now), token_id=str(uuid.uuid4()))
    metadata = (("authorization", f"Bearer {token}"),)
    for _ in range(2):
        assert check.admit(f"/{ACCESS.service}/GetSession", metadata) == Caller("c-1", "customer")
        with pytest.raises(PermissionDenied, match="internal"):
            check.admit(f"/{ACCESS.service}/ExpireSessions", metadata)
