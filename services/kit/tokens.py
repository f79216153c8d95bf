"""Ed25519-signed JWT access tokens: issued by customers, verified anywhere with the public key alone."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.kit.errors import Unauthenticated
from services.kit.settings import ConfigError, Env

ALGORITHM = "EdDSA"
ISSUER = "travel.customers"
AUDIENCE = "travel.api"
SCOPE_CUSTOMER = "customer"
SCOPE_SERVICE = "service"


@dataclass(frozen=True)
class Caller:
    """Who is calling, as proven by a verified token."""

    subject: str
    scope: str

    @property
    def is_service(self) -> bool:
        return self.scope == SCOPE_SERVICE


@dataclass(frozen=True)
class KeyPair:
    private_pem: bytes | None
    public_pem: bytes


class TokenIssuer:
    """Signs access tokens; only the customers service (and internal callers) hold the private key."""

    def __init__(self, private_pem: bytes, ttl_seconds: int) -> None:
        self._key = serialization.load_pem_private_key(private_pem, password=None)
        self.ttl_seconds = ttl_seconds

    def issue(self, subject: str, now: int, token_id: str, scope: str = SCOPE_CUSTOMER) -> str:
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": subject,
            "iat": now,
            "exp": now + self.ttl_seconds,
            "jti": token_id,
            "scope": scope,
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)  # type: ignore[arg-type]


class TokenVerifier:
    """Verifies signature, algorithm, issuer, audience, expiry and the presence of every claim."""

    def __init__(self, public_pem: bytes, leeway_seconds: int = 5) -> None:
        self._key = serialization.load_pem_public_key(public_pem)
        self._leeway = leeway_seconds

    def verify(self, token: str) -> Caller:
        try:
            claims = jwt.decode(
                token,
                self._key,  # type: ignore[arg-type]
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                leeway=self._leeway,
                options={"require": ["iss", "aud", "sub", "exp", "iat", "jti"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("access token expired") from None
        except jwt.PyJWTError as error:
            raise Unauthenticated(f"invalid access token: {error}") from None
        scope = claims.get("scope", SCOPE_CUSTOMER)
        return Caller(subject=str(claims["sub"]), scope=str(scope))


def load_keys(env: Env) -> KeyPair:
    """Keys from JWT_PRIVATE_KEY[_FILE] / JWT_PUBLIC_KEY[_FILE], else a dev pair in the data folder."""
    private_pem = _pem_from(env, "JWT_PRIVATE_KEY")
    public_pem = _pem_from(env, "JWT_PUBLIC_KEY")
    if public_pem is None and private_pem is not None:
        public_pem = _public_of(private_pem)
    if public_pem is not None:
        return KeyPair(private_pem, public_pem)
    return ensure_dev_keys(env.data_dir() / "keys")


def _pem_from(env: Env, name: str) -> bytes | None:
    inline = env.optional(name)
    if inline:
        return inline.replace("\\n", "\n").encode()
    path = env.optional(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_bytes()
        except OSError as error:
            raise ConfigError(f"{name}_FILE cannot be read: {error}") from None
    return None


def _public_of(private_pem: bytes) -> bytes:
    key = serialization.load_pem_private_key(private_pem, password=None)
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def ensure_dev_keys(folder: Path) -> KeyPair:
    """Create a dev key pair once; concurrent first starts agree on one pair via an atomic rename."""
    if not (folder / "jwt_public.pem").exists():
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".keys-", dir=folder.parent))
        key = Ed25519PrivateKey.generate()
        private_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        (staging / "jwt_private.pem").write_bytes(private_pem)
        os.chmod(staging / "jwt_private.pem", 0o600)
        (staging / "jwt_public.pem").write_bytes(_public_of(private_pem))
        try:
            os.rename(staging, folder)
        except OSError:
            # Another process won the race; its pair is the one everybody uses.
            for child in staging.iterdir():
                child.unlink()
            staging.rmdir()
    return KeyPair(
        private_pem=(folder / "jwt_private.pem").read_bytes(),
        public_pem=(folder / "jwt_public.pem").read_bytes(),
    )
