"""gRPC transport security from the environment: plaintext, TLS, or mutual TLS between services.

GRPC_TLS_CA_FILE turns TLS on; GRPC_TLS_CERT_FILE and GRPC_TLS_KEY_FILE are this process's own
certificate (a server's, and the one it shows when it calls a peer); GRPC_TLS_CLIENT_AUTH
(default true) makes servers accept only callers with a certificate signed by that CA.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from kit.settings import ConfigError, Env
from kit.shared_settings import (
    GRPC_TLS_CA_FILE,
    GRPC_TLS_CERT_FILE,
    GRPC_TLS_CLIENT_AUTH,
    GRPC_TLS_KEY_FILE,
    GRPC_TLS_SERVER_NAME,
)

CA_FILE = GRPC_TLS_CA_FILE.name
CERT_FILE = GRPC_TLS_CERT_FILE.name
KEY_FILE = GRPC_TLS_KEY_FILE.name
CLIENT_AUTH = GRPC_TLS_CLIENT_AUTH.name
SETTINGS = (
    GRPC_TLS_CA_FILE,
    GRPC_TLS_CERT_FILE,
    GRPC_TLS_KEY_FILE,
    GRPC_TLS_CLIENT_AUTH,
    GRPC_TLS_SERVER_NAME,
)


@dataclass(frozen=True)
class GrpcTls:
    """The PEM material and policy of one process; `None` in its place means plaintext."""

    ca_pem: bytes
    cert_pem: bytes | None = None
    key_pem: bytes | None = None
    client_auth: bool = True
    # The name a peer's certificate must carry when the address alone does not say it.
    server_name: str | None = None

    @classmethod
    def from_env(cls, env: Env, serving: bool = False) -> GrpcTls | None:
        """Read and check every setting now, so a half-made configuration stops the process at start;
        `serving`: the process runs a gRPC server, so with TLS on it needs a certificate."""
        if not any(setting.is_set(env) for setting in SETTINGS):
            return None
        ca_path = GRPC_TLS_CA_FILE.optional(env)
        if ca_path is None:
            set_names = ", ".join(setting.name for setting in SETTINGS if setting.is_set(env))
            raise ConfigError(f"{CA_FILE} is required for gRPC TLS ({set_names} set)")
        cert_path, key_path = GRPC_TLS_CERT_FILE.optional(env), GRPC_TLS_KEY_FILE.optional(env)
        if (cert_path is None) != (key_path is None):
            missing = CERT_FILE if cert_path is None else KEY_FILE
            raise ConfigError(f"{missing} is required: {CERT_FILE} and {KEY_FILE} go together")
        client_auth = GRPC_TLS_CLIENT_AUTH.read(env)
        if serving and cert_path is None:
            raise ConfigError(f"a gRPC server with TLS needs {CERT_FILE} and {KEY_FILE}")
        if client_auth and cert_path is None:
            raise ConfigError(
                f"{CLIENT_AUTH} is on, so this process needs its own certificate: set {CERT_FILE} "
                f"and {KEY_FILE}, or {CLIENT_AUTH}=false for TLS without client certificates"
            )
        ca_pem = _read(CA_FILE, ca_path)
        _check_certificate(CA_FILE, ca_pem)
        cert_pem = key_pem = None
        if cert_path is not None and key_path is not None:
            cert_pem, key_pem = _read(CERT_FILE, cert_path), _read(KEY_FILE, key_path)
            _check_pair(cert_pem, key_pem)
        return cls(ca_pem, cert_pem, key_pem, client_auth, GRPC_TLS_SERVER_NAME.optional(env))

    def server_credentials(self) -> grpc.ServerCredentials:
        if self.cert_pem is None or self.key_pem is None:
            raise ConfigError(f"a gRPC server with TLS needs {CERT_FILE} and {KEY_FILE}")
        return grpc.ssl_server_credentials(
            [(self.key_pem, self.cert_pem)],
            root_certificates=self.ca_pem if self.client_auth else None,
            require_client_auth=self.client_auth,
        )

    def channel_credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca_pem, private_key=self.key_pem, certificate_chain=self.cert_pem
        )

    def channel_options(self) -> list[tuple[str, str]]:
        if self.server_name is None:
            return []
        return [("grpc.ssl_target_name_override", self.server_name)]


def _read(name: str, path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise ConfigError(f"{name} cannot be read: {error}") from None


def _check_certificate(name: str, pem: bytes) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError:
        raise ConfigError(f"{name} is not a PEM certificate") from None


def _check_pair(cert_pem: bytes, key_pem: bytes) -> None:
    certificate = _check_certificate(CERT_FILE, cert_pem)
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):
        raise ConfigError(f"{KEY_FILE} is not an unencrypted PEM private key") from None
    if _public_pem(key.public_key()) != _public_pem(certificate.public_key()):
        raise ConfigError(f"{KEY_FILE} is not the private key of the certificate in {CERT_FILE}")


def _public_pem(key: Any) -> bytes:
    return bytes(
        key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
