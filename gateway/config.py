"""The gateway's settings, read once from the environment."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from services.kit.settings import ConfigError, Env

# Local defaults so that every process runs on one laptop without any setting.
DEFAULT_BACKENDS: Mapping[str, str] = MappingProxyType(
    {
        "customers": "localhost:50051",
        "sessions": "localhost:50052",
        "hotel": "localhost:50053",
        "flights": "localhost:50054",
        "payments": "localhost:50055",
    }
)
MAX_BODY_BYTES = 1024 * 1024


def address_variable(service: str) -> str:
    """`customers` -> `CUSTOMERS_GRPC_ADDR`."""
    return f"{service.upper()}_GRPC_ADDR"


@dataclass(frozen=True)
class GatewayConfig:
    """Where to listen, where each backend is (one or more replicas) and the request limits."""

    backends: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    host: str = "0.0.0.0"
    port: int = 8080
    rpc_timeout_seconds: float = 15.0
    health_timeout_seconds: float = 1.0
    max_body_bytes: int = MAX_BODY_BYTES

    def addresses_for(self, service: str) -> tuple[str, ...]:
        addresses = self.backends.get(service)
        if not addresses:
            raise ConfigError(f"{address_variable(service)} is required: the gateway routes to {service}")
        return addresses

    @classmethod
    def from_env(cls, env: Env | None = None, services: Iterable[str] = ()) -> GatewayConfig:
        """Read the settings; `services` adds backends beyond the five known ones."""
        env = env or Env()
        backends: dict[str, tuple[str, ...]] = {}
        for service in sorted({*DEFAULT_BACKENDS, *services}):
            raw = env.optional(address_variable(service)) or DEFAULT_BACKENDS.get(service)
            if raw is None:
                continue  # reported by addresses_for, only if something routes to it
            addresses = tuple(part.strip() for part in raw.split(",") if part.strip())
            if not addresses:
                raise ConfigError(f"{address_variable(service)} lists no address")
            backends[service] = addresses
        return cls(
            backends=MappingProxyType(backends),
            host=env.str("GATEWAY_HOST", "0.0.0.0"),
            port=env.int("GATEWAY_PORT", 8080, minimum=0),
            rpc_timeout_seconds=env.float("GATEWAY_RPC_TIMEOUT_SECONDS", 15.0, minimum=0.001),
            health_timeout_seconds=env.float("GATEWAY_HEALTH_TIMEOUT_SECONDS", 1.0, minimum=0.001),
            max_body_bytes=env.int("GATEWAY_MAX_BODY_BYTES", MAX_BODY_BYTES, minimum=1),
        )
