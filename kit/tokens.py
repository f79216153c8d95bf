"""Ed25519-signed JWTs: customer tokens signed by the customers service, each service token by its signer."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from kit.error_reasons import ErrorReason
from kit.errors import Unauthenticated
from kit.secret_files import SecretLayout
from kit.settings import ConfigError, Env, Mode
from kit.shared_settings import CUSTOMER_TOKEN_PRIVATE_KEY_FILE, CUSTOMER_TOKEN_PUBLIC_KEY_FILE
from kit.signing_keys import (
    configured_private_pem,
    configured_public_pem,
    ensure_key_pair,
    private_key_of,
    public_key_of,
    public_pem_of,
)
from kit.verified_tokens import VerifiedTokens

ALGORITHM = "EdDSA"
ISSUER = "travel.customers"
AUDIENCE = "travel.api"
SERVICE_ISSUER_PREFIX = "travel.service."
SERVICE_AUDIENCE = "travel.internal"
SCOPE_CUSTOMER = "customer"
SCOPE_SERVICE = "service"
# The customer token's list of roles beyond being a customer, e.g. ["admin"]; absent means none.
ROLES_CLAIM = "roles"
ROLE_ADMIN = "admin"
# A service token lives minutes at most: a leaked one is soon worthless.
MAX_SERVICE_TOKEN_SECONDS = 300
REQUIRED_CLAIMS = ["iss", "aud", "sub", "exp", "iat", "jti", "scope"]
# Tokens a verifier remembers: every service token in use and the customers of a busy minute.
VERIFIED_TOKENS_KEPT = 4096

# Every service identity there is; a token naming any other is refused before any key is looked up.
SERVICE_IDENTITIES = ("sessions", "hotel", "flights", "payments", "expiry", "gateway")


@dataclass(frozen=True)
class Caller:
    """Who is calling, as proven by a verified token: a customer, or a named service."""

    subject: str
    scope: str
    service: str | None = None
    roles: frozenset[str] = frozenset()

    @property
    def is_service(self) -> bool:
        return self.scope == SCOPE_SERVICE and self.service is not None

    @property
    def is_admin(self) -> bool:
        return self.scope == SCOPE_CUSTOMER and ROLE_ADMIN in self.roles


def service_issuer(service: str) -> str:
    return f"{SERVICE_ISSUER_PREFIX}{service}"


def service_subject(service: str) -> str:
    return f"service:{service}"


class TokenIssuer:
    """Signs customer tokens; only the customers service holds this key."""

    def __init__(self, private_pem: bytes, ttl_seconds: int) -> None:
        self._key = private_key_of(private_pem, "the customer token key")
        self.ttl_seconds = ttl_seconds

    def issue(self, subject: str, now: int, token_id: str, roles: Iterable[str] = ()) -> str:
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": subject,
            "iat": now,
            "exp": now + self.ttl_seconds,
            "jti": token_id,
            "scope": SCOPE_CUSTOMER,
        }
        if roles:
            claims[ROLES_CLAIM] = sorted(roles)
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)


def sign_service_token(key: Ed25519PrivateKey, service: str, now: int, token_id: str, ttl: int) -> str:
    """A token by which `service` proves itself; it can name no other service than its signer's."""
    claims = {
        "iss": service_issuer(service),
        "aud": SERVICE_AUDIENCE,
        "sub": service_subject(service),
        "iat": now,
        "exp": now + ttl,
        "jti": token_id,
        "scope": SCOPE_SERVICE,
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM)


class ServicePublicKeys(Protocol):
    def public_key(self, service: str) -> Ed25519PublicKey | None: ...


class NoTrustedServices:
    def public_key(self, service: str) -> Ed25519PublicKey | None:
        return None


class TokenVerifier:
    """Verifies a customer token with the customers key, a service token with its own service's key.

    A token that verified is answered from memory until its `exp`: nothing can withdraw a token
    before then (there is no revocation, and a key once read stays trusted), so the answer cannot
    change, and a caller presenting the same token on every call pays the signature check once.
    """

    def __init__(
        self,
        customer_public_pem: bytes,
        services: ServicePublicKeys | None = None,
        leeway_seconds: int = 5,
        clock: Callable[[], float] = time.time,
        cache_size: int = VERIFIED_TOKENS_KEPT,
    ) -> None:
        self._customer_key = public_key_of(customer_public_pem, "the customer token public key")
        self._services = services or NoTrustedServices()
        self._leeway = leeway_seconds
        self._verified: VerifiedTokens[Caller] = VerifiedTokens(cache_size, clock)

    def verify(self, token: str) -> Caller:
        caller = self._verified.get(token)
        if caller is None:
            caller, expires_at = self._verify_signed(token)
            # Kept until `exp` itself, not `exp` plus leeway: a late call is verified again in full.
            self._verified.put(token, caller, expires_at)
        return caller

    def _verify_signed(self, token: str) -> tuple[Caller, int]:
        """The caller the token proves and its expiry, every check made by pyjwt with the issuer's key."""
        issuer = _unverified_issuer(token)
        if issuer == ISSUER:
            claims = self._decode(token, self._customer_key, ISSUER, AUDIENCE)
            if claims["scope"] != SCOPE_CUSTOMER:
                raise Unauthenticated(
                    "invalid access token: a customer token has the customer scope",
                    reason=ErrorReason.TOKEN_INVALID,
                )
            caller = Caller(subject=str(claims["sub"]), scope=SCOPE_CUSTOMER, roles=_roles(claims))
            return caller, int(claims["exp"])
        service = issuer.removeprefix(SERVICE_ISSUER_PREFIX)
        if not issuer.startswith(SERVICE_ISSUER_PREFIX) or service not in SERVICE_IDENTITIES:
            raise Unauthenticated("invalid access token: unknown issuer", reason=ErrorReason.TOKEN_INVALID)
        key = self._services.public_key(service)
        if key is None:
            raise Unauthenticated(
                f"invalid access token: service {service} is not trusted here",
                reason=ErrorReason.TOKEN_INVALID,
            )
        claims = self._decode(token, key, issuer, SERVICE_AUDIENCE)
        if claims["scope"] != SCOPE_SERVICE or claims["sub"] != service_subject(service):
            raise Unauthenticated(
                f"invalid access token: a service token names its own service ({service})",
                reason=ErrorReason.TOKEN_INVALID,
            )
        if int(claims["exp"]) - int(claims["iat"]) > MAX_SERVICE_TOKEN_SECONDS:
            raise Unauthenticated(
                "invalid access token: a service token must be short-lived", reason=ErrorReason.TOKEN_INVALID
            )
        return Caller(subject=str(claims["sub"]), scope=SCOPE_SERVICE, service=service), int(claims["exp"])

    def _decode(self, token: str, key: Ed25519PublicKey, issuer: str, audience: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=audience,
                issuer=issuer,
                leeway=self._leeway,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("access token expired", reason=ErrorReason.TOKEN_EXPIRED) from None
        except jwt.PyJWTError as error:
            raise Unauthenticated(
                f"invalid access token: {error}", reason=ErrorReason.TOKEN_INVALID
            ) from None
        return claims


def _unverified_issuer(token: str) -> str:
    """Only to choose the key: nothing read here is trusted until the signature checks out."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as error:
        raise Unauthenticated(f"invalid access token: {error}", reason=ErrorReason.TOKEN_INVALID) from None
    issuer = claims.get("iss")
    if not isinstance(issuer, str):
        raise Unauthenticated("invalid access token: no issuer", reason=ErrorReason.TOKEN_INVALID)
    return issuer


def _roles(claims: dict[str, Any]) -> frozenset[str]:
    roles = claims.get(ROLES_CLAIM, [])
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise Unauthenticated(
            "invalid access token: roles must be a list of names", reason=ErrorReason.TOKEN_INVALID
        )
    return frozenset(roles)


def customer_token_private_key(env: Env) -> bytes:
    """For the customers service alone: CUSTOMER_TOKEN_PRIVATE_KEY_FILE, in development the data folder's."""
    pem = configured_private_pem(env, CUSTOMER_TOKEN_PRIVATE_KEY_FILE)
    if pem is not None:
        return pem
    if env.mode() is Mode.PRODUCTION:
        raise ConfigError("CUSTOMER_TOKEN_PRIVATE_KEY_FILE is required in production")
    return _dev_customer_pair(env)


def customer_token_public_key(env: Env) -> bytes:
    """For every verifier: CUSTOMER_TOKEN_PUBLIC_KEY_FILE, else the public half of the key above."""
    pem = configured_public_pem(env, CUSTOMER_TOKEN_PUBLIC_KEY_FILE)
    if pem is not None:
        return pem
    if CUSTOMER_TOKEN_PRIVATE_KEY_FILE.is_set(env):
        return public_pem_of(customer_token_private_key(env))
    if env.mode() is Mode.PRODUCTION:
        raise ConfigError("CUSTOMER_TOKEN_PUBLIC_KEY_FILE is required in production")
    return public_pem_of(_dev_customer_pair(env))


def _dev_customer_pair(env: Env) -> bytes:
    layout = SecretLayout.of_data_dir(env.data_dir())
    return ensure_key_pair(layout.customer_token_private_key, layout.customer_token_public_key)
