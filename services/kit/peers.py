"""Where the other processes are: gRPC addresses and provider base URLs, from the environment."""

from __future__ import annotations

from services.kit.settings import Env

GRPC_PORTS = {"customers": 50051, "sessions": 50052, "hotel": 50053, "flights": 50054, "payments": 50055}
PROVIDER_PORTS = {"hotel": 8081, "flight": 8082, "payment": 8083}


def grpc_port(env: Env, service: str) -> int:
    return env.int(f"{service.upper()}_PORT", GRPC_PORTS[service], minimum=0)


def grpc_address(env: Env, service: str) -> str:
    """`<SERVICE>_GRPC_ADDR`; comma-separated replicas are balanced round robin by the channel."""
    default = f"127.0.0.1:{env.int(f'{service.upper()}_PORT', GRPC_PORTS[service])}"
    return env.str(f"{service.upper()}_GRPC_ADDR", default)


def grpc_target(address: str) -> str:
    """A channel target for one address or a comma-separated list of replicas."""
    parts = [part.strip() for part in address.split(",") if part.strip()]
    if len(parts) == 1:
        return parts[0]
    return "ipv4:" + ",".join(parts)


def provider_url(env: Env, kind: str) -> str:
    default = f"http://127.0.0.1:{env.int(f'{kind.upper()}_PROVIDER_PORT', PROVIDER_PORTS[kind])}"
    return env.str(f"{kind.upper()}_PROVIDER_URL", default).rstrip("/")
