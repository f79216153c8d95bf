"""Service identities: each service signs its own short-lived tokens; verifiers trust a folder of keys."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from kit.secret_files import SecretLayout, read_file
from kit.settings import ConfigError, Env, Mode
from kit.shared_settings import SERVICE_KEY_FILE, TRUSTED_KEYS_DIR
from kit.signing_keys import configured_private_pem, ensure_key_pair, private_key_of, public_key_of
from kit.tokens import MAX_SERVICE_TOKEN_SECONDS, SERVICE_IDENTITIES, sign_service_token

SERVICE_TOKEN_TTL_SECONDS = 120

log = logging.getLogger(__name__)


class ServiceCredentials:
    """The call metadata proving `service`: a token it signs itself, renewed at half its life."""

    def __init__(
        self,
        service: str,
        private_pem: bytes,
        clock: Callable[[], float] = time.time,
        ttl_seconds: int = SERVICE_TOKEN_TTL_SECONDS,
    ) -> None:
        if service not in SERVICE_IDENTITIES:
            raise ValueError(f"unknown service identity {service!r}")
        if not 0 < ttl_seconds <= MAX_SERVICE_TOKEN_SECONDS:
            raise ValueError(f"a service token lives at most {MAX_SERVICE_TOKEN_SECONDS} s")
        self.service = service
        self._key = private_key_of(private_pem, f"the {service} service key")
        self._clock = clock
        self._ttl = ttl_seconds
        self._token = ""
        self._renew_at = 0.0

    def metadata(self) -> tuple[tuple[str, str], ...]:
        now = self._clock()
        if now >= self._renew_at:
            self._token = sign_service_token(
                self._key, self.service, now=int(now), token_id=str(uuid.uuid4()), ttl=self._ttl
            )
            self._renew_at = now + self._ttl / 2
        return (("authorization", f"Bearer {self._token}"),)


def service_private_key(env: Env, service: str) -> bytes:
    """SERVICE_KEY_FILE: this process's own private key; in development the data folder's, made once."""
    pem = configured_private_pem(env, SERVICE_KEY_FILE)
    if pem is not None:
        return pem
    if env.mode() is Mode.PRODUCTION:
        raise ConfigError(f"SERVICE_KEY_FILE is required in production: {service} signs its calls with it")
    return dev_service_key(env.data_dir(), service)


def service_credentials(env: Env, service: str) -> ServiceCredentials:
    return ServiceCredentials(service, service_private_key(env, service))


def dev_service_key(data_dir: Path, service: str) -> bytes:
    """The private key of `service` in a data folder; its public half lands in the trusted folder."""
    layout = SecretLayout.of_data_dir(data_dir)
    return ensure_key_pair(layout.service_private_key(service), layout.service_public_key(service))


class TrustedServiceKeys:
    """Public keys of the services a process trusts, `<service>.pub` in one folder, read when first needed.

    Reading on demand lets services start in any order in development: a caller writes its
    public key before it signs its first call.
    """

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self._keys: dict[str, Ed25519PublicKey] = {}

    def public_key(self, service: str) -> Ed25519PublicKey | None:
        if service not in SERVICE_IDENTITIES or self.folder is None:
            return None
        if service not in self._keys:
            path = self.folder / f"{service}.pub"
            try:
                self._keys[service] = public_key_of(path.read_bytes(), str(path))
            except FileNotFoundError:
                return None
            except (OSError, ConfigError) as error:
                log.warning("cannot use the public key of %s: %s", service, error)
                return None
        return self._keys[service]


def trusted_service_keys(env: Env, callers: Iterable[str]) -> TrustedServiceKeys:
    """TRUSTED_KEYS_DIR; in production it must hold `<service>.pub` for every service in `callers`."""
    needed = sorted(set(callers))
    configured = TRUSTED_KEYS_DIR.optional(env)
    if configured is None and env.mode() is Mode.DEVELOPMENT:
        return TrustedServiceKeys(SecretLayout.of_data_dir(env.data_dir()).trusted_keys_dir)
    if configured is None:
        if needed:
            raise ConfigError(
                "TRUSTED_KEYS_DIR is required in production: this process accepts calls from "
                + ", ".join(needed)
            )
        return TrustedServiceKeys(None)
    folder = Path(configured)
    if env.mode() is Mode.PRODUCTION:
        missing = [s for s in needed if not (folder / f"{s}.pub").is_file()]
        if missing:
            names = ", ".join(f"{s}.pub" for s in missing)
            raise ConfigError(f"TRUSTED_KEYS_DIR ({folder}) lacks {names}")
        for service in needed:
            public_key_of(read_file(folder / f"{service}.pub", "TRUSTED_KEYS_DIR"), f"{folder}/{service}.pub")
    return TrustedServiceKeys(folder)
