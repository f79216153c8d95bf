"""gRPC channels to the travel agency: TLS or plaintext, the bearer token on every call, retries."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from travel_client.errors import TravelErrorInterceptor
from travel_client.request_ids import RequestIdInterceptor

# UNAVAILABLE is what a server answers while it restarts or when a provider behind it failed
# transiently; gRPC itself retries it with backoff (gRFC A6), so no call site loops.
RETRY_POLICY = {
    "maxAttempts": 5,
    "initialBackoff": "0.1s",
    "maxBackoff": "2s",
    "backoffMultiplier": 2,
    "retryableStatusCodes": ["UNAVAILABLE"],
}
SERVICE_CONFIG = json.dumps({"methodConfig": [{"name": [{}], "retryPolicy": RETRY_POLICY}]})
CHANNEL_OPTIONS: list[tuple[str, Any]] = [
    ("grpc.enable_retries", 1),
    ("grpc.service_config", SERVICE_CONFIG),
]


@dataclass(frozen=True)
class TlsSettings:
    """What the servers' GRPC_TLS_* settings ask of a client (docs/transport.md).

    With client authentication on (the servers' default) the client shows a certificate the same
    CA signed: `cert_file` and `key_file`. `server_name` is the name the server's certificate must
    carry when the address does not say it.
    """

    ca_file: Path
    cert_file: Path | None = None
    key_file: Path | None = None
    server_name: str | None = None

    def credentials(self) -> grpc.ChannelCredentials:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("a client certificate needs both cert_file and key_file")
        key = self.key_file.read_bytes() if self.key_file is not None else None
        cert = self.cert_file.read_bytes() if self.cert_file is not None else None
        return grpc.ssl_channel_credentials(self.ca_file.read_bytes(), key, cert)


class BearerToken(grpc.AuthMetadataPlugin):
    """Sends `authorization: Bearer <token>` once a token is set; the token may change at any time."""

    def __init__(self, token: str | None = None) -> None:
        self.token = token

    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.token}"),) if self.token else ()

    def __call__(self, context: grpc.AuthMetadataContext, callback: grpc.AuthMetadataPluginCallback) -> None:
        callback(self.metadata(), None)


class BearerMetadataInterceptor(grpc.UnaryUnaryClientInterceptor):
    """The token as metadata: grpcio sends no call credentials on a plaintext channel to another host."""

    def __init__(self, token: BearerToken) -> None:
        self.token = token

    def intercept_unary_unary(
        self, continuation: Callable[[Any, Any], Any], client_call_details: Any, request: Any
    ) -> Any:
        metadata = [*(client_call_details.metadata or ()), *self.token.metadata()]
        return continuation(client_call_details._replace(metadata=metadata), request)


def is_loopback(target: str) -> bool:
    """Whether a target (host:port, [v6]:port, dns:///host:port) names this machine."""
    address = target.split("///", 1)[-1].removeprefix("ipv4:").removeprefix("ipv6:")
    has_port = address.startswith("[") or address.count(":") == 1
    host = (address.rsplit(":", 1)[0] if has_port else address).strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def open_channel(target: str, token: BearerToken, tls: TlsSettings | None = None) -> grpc.Channel:
    """A channel to one service that sends the token, retries UNAVAILABLE and raises TravelError.

    Each create call without a request_id gets a new one, kept across its retries, so a retried
    create answers what the first attempt created instead of creating again.

    grpcio sends call credentials only on a secure channel. Without TLS, a loopback target uses
    local credentials (plaintext on the wire, which the development servers accept); any other
    plaintext target gets the token from an interceptor instead (`plaintext_channel`).
    """
    call_credentials = grpc.metadata_call_credentials(token, name="bearer")
    if tls is not None:
        options = list(CHANNEL_OPTIONS)
        if tls.server_name:
            options.append(("grpc.ssl_target_name_override", tls.server_name))
        credentials = grpc.composite_channel_credentials(tls.credentials(), call_credentials)
        channel = grpc.secure_channel(target, credentials, options)
    elif is_loopback(target):
        local = grpc.local_channel_credentials(grpc.LocalConnectionType.LOCAL_TCP)
        credentials = grpc.composite_channel_credentials(local, call_credentials)
        channel = grpc.secure_channel(target, credentials, CHANNEL_OPTIONS)
    else:
        return plaintext_channel(target, token)
    return grpc.intercept_channel(channel, TravelErrorInterceptor(), RequestIdInterceptor())


def plaintext_channel(target: str, token: BearerToken) -> grpc.Channel:
    """A plaintext channel that sends the token as metadata: development servers on another host."""
    return grpc.intercept_channel(
        grpc.insecure_channel(target, CHANNEL_OPTIONS),
        BearerMetadataInterceptor(token),
        TravelErrorInterceptor(),
        RequestIdInterceptor(),
    )
