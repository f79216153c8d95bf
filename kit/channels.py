"""gRPC client channels to peer services, balanced across replicas, plaintext or over TLS."""

from __future__ import annotations

from typing import Any

import grpc

from kit.grpc_tls import GrpcTls
from kit.retry_policy import RetryScope, service_config
from kit.topology import grpc_target


def peer_options(retried: RetryScope | None = None) -> list[tuple[str, Any]]:
    """Round robin inside one address too (a name may resolve to several replicas), keepalive, and
    the retry policy on exactly the methods in `retried` (kit.retry_policy)."""
    return [
        ("grpc.enable_retries", 1),
        ("grpc.service_config", service_config(retried or {})),
        ("grpc.keepalive_time_ms", 30_000),
    ]


def open_channel(target: str, options: list[tuple[str, Any]], tls: GrpcTls | None) -> grpc.aio.Channel:
    """The one place a channel chooses plaintext or TLS (showing this process's certificate for mTLS)."""
    if tls is None:
        return grpc.aio.insecure_channel(target, options=options)
    return grpc.aio.secure_channel(
        target, tls.channel_credentials(), options=[*options, *tls.channel_options()]
    )


def peer_channel(
    address: str, tls: GrpcTls | None = None, retried: RetryScope | None = None
) -> grpc.aio.Channel:
    """A channel to one address or a comma-separated list of replicas, round robin.

    `retried` names the methods gRPC itself retries on UNAVAILABLE (kit.retry_policy); no other
    method is retried, except gRPC's transparent retry of a call that never left this process.
    """
    options = peer_options(retried)
    replicas = [part.strip() for part in address.split(",") if part.strip()]
    if tls is not None and tls.server_name is None and len(replicas) > 1:
        # A list of replicas has no name of its own to check certificates against: use the first
        # replica's host, which every replica's certificate must carry (or set GRPC_TLS_SERVER_NAME).
        options.append(("grpc.ssl_target_name_override", replicas[0].rsplit(":", 1)[0].strip("[]")))
    return open_channel(grpc_target(address), options, tls)
