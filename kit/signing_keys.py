"""Ed25519 signing keys in PEM: made, checked, and, in development, kept once per data folder."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from kit.secret_files import read_file, write_once
from kit.settings import ConfigError, Env, Text


def new_private_pem() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_pem_of(private_pem: bytes) -> bytes:
    return (
        private_key_of(private_pem, "the private key")
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def private_key_of(pem: bytes, what: str) -> Ed25519PrivateKey:
    """Parse an Ed25519 private key; anything else is a configuration error naming `what`."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as error:
        raise ConfigError(f"{what} is not a PEM private key: {error}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{what} is not an Ed25519 key")
    return key


def public_key_of(pem: bytes, what: str) -> Ed25519PublicKey:
    """Parse an Ed25519 public key; anything else is a configuration error naming `what`."""
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as error:
        raise ConfigError(f"{what} is not a PEM public key: {error}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError(f"{what} is not an Ed25519 key")
    return key


def configured_private_pem(env: Env, setting: Text) -> bytes | None:
    """The private key in the file `setting` names, checked; None when the setting is unset."""
    path = setting.optional(env)
    if path is None:
        return None
    pem = read_file(Path(path), setting.name)
    private_key_of(pem, setting.name)
    return pem


def configured_public_pem(env: Env, setting: Text) -> bytes | None:
    """The public key in the file `setting` names, checked; None when the setting is unset."""
    path = setting.optional(env)
    if path is None:
        return None
    pem = read_file(Path(path), setting.name)
    public_key_of(pem, setting.name)
    return pem


def ensure_key_pair(private_path: Path, public_path: Path) -> bytes:
    """The private key at `private_path`, made on first use, with its public half beside it.

    Concurrent first starts agree: the first private key linked into place wins, and the public
    file is derived from whichever won, so every writer writes the same bytes.
    """
    write_once(private_path, new_private_pem())
    private_pem = read_file(private_path, str(private_path))
    write_once(public_path, public_pem_of(private_pem), mode=0o644)
    return private_pem
