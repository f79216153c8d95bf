"""The gateway's settings, declared once and read once from the environment."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from kit.grpc_tls import GrpcTls
from kit.http_server import HttpServerLimits
from kit.open_streams import StreamCaps
from kit.redis_connection import RedisSettings
from kit.settings import ConfigError, Env, Number, Text, Whole
from kit.shared_settings import REDIS_URL, TRAVEL_NAMESPACE
from kit.topology import GATEWAY_HOST, GATEWAY_PORT, GRPC_ADDRESS, GRPC_SERVICES, grpc_address

READERS = ("gateway",)
# Packages served by another backend's process, unless their own variable says otherwise.
SERVED_BY: Mapping[str, str] = MappingProxyType({"operations": "sessions"})
OPERATIONS_GRPC_ADDR = Text(
    name="OPERATIONS_GRPC_ADDR",
    shown_default="`SESSIONS_GRPC_ADDR`",
    meaning="where the operator API is called (served by the sessions service)",
    readers=READERS,
)
GATEWAY_RPC_TIMEOUT_SECONDS = Number(
    name="GATEWAY_RPC_TIMEOUT_SECONDS",
    default=15.0,
    minimum=0.001,
    meaning="deadline of each backend call the gateway makes",
    readers=READERS,
)
GATEWAY_HEALTH_TIMEOUT_SECONDS = Number(
    name="GATEWAY_HEALTH_TIMEOUT_SECONDS",
    default=1.0,
    minimum=0.001,
    meaning="deadline of each backend health check behind `/healthz`",
    readers=READERS,
)
GATEWAY_MAX_BODY_BYTES = Whole(
    name="GATEWAY_MAX_BODY_BYTES",
    default=1024 * 1024,
    minimum=1,
    meaning="largest request body accepted (else 413)",
    readers=READERS,
)
GATEWAY_STREAMS_PER_CUSTOMER = Whole(
    name="GATEWAY_STREAMS_PER_CUSTOMER",
    default=StreamCaps.per_customer,
    minimum=1,
    meaning="event streams one customer may hold open",
    readers=READERS,
)
GATEWAY_STREAMS_TOTAL = Whole(
    name="GATEWAY_STREAMS_TOTAL",
    default=StreamCaps.total,
    minimum=1,
    meaning="event streams the gateway holds open in all",
    readers=READERS,
)
WEBHOOK_TOLERANCE_SECONDS = Whole(
    name="WEBHOOK_TOLERANCE_SECONDS",
    default=300,
    minimum=1,
    meaning="how old a payment webhook's signed timestamp may be",
    readers=READERS,
)


def address_variable(service: str) -> str:
    """`customers` -> `CUSTOMERS_GRPC_ADDR`."""
    return f"{service.upper()}_GRPC_ADDR"


def _address_setting(service: str) -> Text:
    """The declared address of a known backend; a package added later gets its variable on the fly."""
    declared = {**GRPC_ADDRESS, "operations": OPERATIONS_GRPC_ADDR}.get(service)
    if declared is not None:
        return declared
    return Text(name=address_variable(service), meaning=f"where {service} is called", readers=READERS)


@dataclass(frozen=True)
class GatewayConfig:
    """Where to listen, where each backend is (one or more replicas), Redis and the request limits."""

    backends: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    host: str = GATEWAY_HOST.default_value
    port: int = GATEWAY_PORT.default_value
    rpc_timeout_seconds: float = GATEWAY_RPC_TIMEOUT_SECONDS.default_value
    health_timeout_seconds: float = GATEWAY_HEALTH_TIMEOUT_SECONDS.default_value
    max_body_bytes: int = GATEWAY_MAX_BODY_BYTES.default_value
    tls: GrpcTls | None = None
    http: HttpServerLimits = field(default_factory=HttpServerLimits)
    streams: StreamCaps = field(default_factory=StreamCaps)
    # Event streams are pushed: the gateway hears of session changes on Redis.
    redis: RedisSettings | None = None
    namespace: str = TRAVEL_NAMESPACE.default_value
    webhook_tolerance_seconds: int = WEBHOOK_TOLERANCE_SECONDS.default_value

    def addresses_for(self, service: str) -> tuple[str, ...]:
        addresses = self.backends.get(service)
        if not addresses:
            raise ConfigError(f"{address_variable(service)} is required: the gateway routes to {service}")
        return addresses

    def require_redis(self) -> RedisSettings:
        if self.redis is None:
            raise ConfigError("REDIS_URL is required: the operators' event stream is pushed from Redis")
        return self.redis

    @classmethod
    def from_env(cls, env: Env | None = None, services: Iterable[str] = ()) -> GatewayConfig:
        """Read the settings; `services` adds backends beyond the five known ones."""
        env = env or Env()
        backends: dict[str, tuple[str, ...]] = {}
        for service in sorted({*GRPC_SERVICES, *services}):
            host = SERVED_BY.get(service, service)
            raw = _address_setting(service).optional(env) or _address_setting(host).optional(env)
            if raw is None and host in GRPC_SERVICES:
                raw = grpc_address(env, host)
            if raw is None:
                continue  # reported by addresses_for, only if something routes to it
            addresses = tuple(part.strip() for part in raw.split(",") if part.strip())
            if not addresses:
                raise ConfigError(f"{address_variable(service)} lists no address")
            backends[service] = addresses
        return cls(
            backends=MappingProxyType(backends),
            host=GATEWAY_HOST.read(env),
            port=GATEWAY_PORT.read(env),
            rpc_timeout_seconds=GATEWAY_RPC_TIMEOUT_SECONDS.read(env),
            health_timeout_seconds=GATEWAY_HEALTH_TIMEOUT_SECONDS.read(env),
            max_body_bytes=GATEWAY_MAX_BODY_BYTES.read(env),
            tls=GrpcTls.from_env(env),
            http=HttpServerLimits.from_env(env, "GATEWAY"),
            streams=StreamCaps(
                per_customer=GATEWAY_STREAMS_PER_CUSTOMER.read(env),
                total=GATEWAY_STREAMS_TOTAL.read(env),
            ),
            redis=RedisSettings.from_env(env) if REDIS_URL.is_set(env) else None,
            namespace=TRAVEL_NAMESPACE.read(env),
            webhook_tolerance_seconds=WEBHOOK_TOLERANCE_SECONDS.read(env),
        )
