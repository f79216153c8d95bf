"""Secret files: one layout for a dev data folder and for `make secrets`, each written once, atomically."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from kit.settings import ConfigError


@dataclass(frozen=True)
class SecretLayout:
    """Where each secret lives under one folder: `<data>/secrets` in development, `./secrets` for compose."""

    root: Path

    @classmethod
    def of_data_dir(cls, data_dir: Path) -> SecretLayout:
        return cls(data_dir / "secrets")

    @property
    def webhook_secret(self) -> Path:
        return self.root / "webhook_secret"

    @property
    def provider_admin_token(self) -> Path:
        """Guards the simulated providers' /admin routes outside development."""
        return self.root / "provider_admin_token"

    @property
    def customer_token_private_key(self) -> Path:
        return self.root / "customer_tokens.key"

    @property
    def customer_token_public_key(self) -> Path:
        return self.root / "customer_tokens.pub"

    def service_private_key(self, service: str) -> Path:
        return self.root / "services" / f"{service}.key"

    @property
    def trusted_keys_dir(self) -> Path:
        """Only public keys: what a verifier mounts, `<service>.pub` each."""
        return self.root / "trusted"

    def service_public_key(self, service: str) -> Path:
        return self.trusted_keys_dir / f"{service}.pub"


def write_once(path: Path, content: bytes, mode: int = 0o600, force: bool = False) -> bool:
    """Write `path` unless it exists (or replace it with `force`); True when this call wrote it.

    The content is staged in a temporary file and linked into place, so a reader never sees a half
    written file and concurrent first writers agree on the first link.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, staging = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(content)
        os.chmod(staging, mode)
        if force:
            os.replace(staging, path)
            return True
        try:
            os.link(staging, path)
        except FileExistsError:
            return False
        return True
    finally:
        if os.path.exists(staging):
            os.unlink(staging)


def read_file(path: Path, setting: str) -> bytes:
    """A configured secret file's bytes; a missing or unreadable one is a configuration error naming it."""
    try:
        return path.read_bytes()
    except OSError as error:
        raise ConfigError(f"{setting} cannot be read: {error.strerror or error} ({path})") from None
