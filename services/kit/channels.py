"""gRPC client channels to peer services, balanced across replicas."""

from __future__ import annotations

import grpc

from services.kit.peers import grpc_target


def peer_channel(address: str) -> grpc.aio.Channel:
    return grpc.aio.insecure_channel(
        grpc_target(address),
        options=[
            ("grpc.lb_policy_name", "round_robin"),
            ("grpc.enable_retries", 1),
            ("grpc.keepalive_time_ms", 30_000),
        ],
    )
