"""Where every process listens and is found: default ports, metrics ports, gRPC addresses, provider URLs."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from kit.settings import EVERY_PROCESS, Env, Text, Whole

LOOPBACK = "127.0.0.1"
GRPC_SERVICES = ("customers", "sessions", "hotel", "flights", "payments")
PROVIDER_KINDS = ("hotel", "flight", "payment")
# The service that calls each provider.
PROVIDER_CLIENTS: Mapping[str, str] = MappingProxyType(
    {"hotel": "hotel", "flight": "flights", "payment": "payments"}
)
# Who calls whom over gRPC, beyond the gateway that routes to every service.
GRPC_CALLERS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {"sessions": ("hotel", "flights", "payments", "expiry")}
)

GRPC_DEFAULT_PORTS: Mapping[str, int] = MappingProxyType(
    {"customers": 50051, "sessions": 50052, "hotel": 50053, "flights": 50054, "payments": 50055}
)
PROVIDER_DEFAULT_PORTS: Mapping[str, int] = MappingProxyType({"hotel": 8081, "flight": 8082, "payment": 8083})
GATEWAY_DEFAULT_PORT = 8080
# Every process's port under its Procfile name (the providers as `provider-<kind>`).
DEFAULT_PORTS: Mapping[str, int] = MappingProxyType(
    {
        **GRPC_DEFAULT_PORTS,
        "gateway": GATEWAY_DEFAULT_PORT,
        **{f"provider-{kind}": port for kind, port in PROVIDER_DEFAULT_PORTS.items()},
    }
)
# Where `make run` serves each process's /metrics (the Procfile's `<NAME>_METRICS_PORT` defaults).
DEFAULT_METRICS_PORTS: Mapping[str, int] = MappingProxyType(
    {
        "gateway": 9180,
        "provider-hotel": 9181,
        "provider-flight": 9182,
        "provider-payment": 9183,
        "customers": 9191,
        "sessions": 9192,
        "hotel": 9193,
        "flights": 9194,
        "payments": 9195,
        "expiry": 9196,
    }
)
EMBEDDED_REDIS_DEFAULT_PORT = 6380

GRPC_PORT: Mapping[str, Whole] = MappingProxyType(
    {
        service: Whole(
            name=f"{service.upper()}_PORT",
            default=port,
            minimum=0,
            maximum=65535,
            meaning=f"port of the {service} gRPC server; its peers call 127.0.0.1 on it unless "
            f"`{service.upper()}_GRPC_ADDR` is set",
            readers=(service, *GRPC_CALLERS.get(service, ()), "gateway"),
        )
        for service, port in GRPC_DEFAULT_PORTS.items()
    }
)
GRPC_ADDRESS: Mapping[str, Text] = MappingProxyType(
    {
        service: Text(
            name=f"{service.upper()}_GRPC_ADDR",
            shown_default=f"127.0.0.1:`{service.upper()}_PORT`",
            meaning=f"where the {service} service is called: `host:port`, or a comma-separated list of "
            "replicas balanced round robin",
            readers=(*GRPC_CALLERS.get(service, ()), "gateway"),
        )
        for service in GRPC_SERVICES
    }
)
PROVIDER_PORT_OF: Mapping[str, Whole] = MappingProxyType(
    {
        kind: Whole(
            name=f"{kind.upper()}_PROVIDER_PORT",
            default=port,
            minimum=0,
            maximum=65535,
            meaning=f"port of the simulated {kind} provider; the {PROVIDER_CLIENTS[kind]} service calls "
            f"127.0.0.1 on it unless `{kind.upper()}_PROVIDER_URL` is set",
            readers=(f"provider-{kind}", PROVIDER_CLIENTS[kind]),
        )
        for kind, port in PROVIDER_DEFAULT_PORTS.items()
    }
)
PROVIDER_URL_OF: Mapping[str, Text] = MappingProxyType(
    {
        kind: Text(
            name=f"{kind.upper()}_PROVIDER_URL",
            shown_default=f"http://127.0.0.1:`{kind.upper()}_PROVIDER_PORT`",
            meaning=f"base URL of the {kind} provider's API",
            readers=(PROVIDER_CLIENTS[kind],),
        )
        for kind in PROVIDER_KINDS
    }
)
METRICS_PORT_OF: Mapping[str, Whole] = MappingProxyType(
    {
        process: Whole(
            name=f"{process.upper().replace('-', '_')}_METRICS_PORT",
            default=port,
            minimum=0,
            maximum=65535,
            meaning=f"the Procfile's `METRICS_PORT` of {process}",
            readers=("Procfile",),
        )
        for process, port in DEFAULT_METRICS_PORTS.items()
    }
)

GATEWAY_PORT = Whole(
    name="GATEWAY_PORT",
    default=GATEWAY_DEFAULT_PORT,
    minimum=0,
    maximum=65535,
    meaning="port of the gateway's HTTP server; the payments service's default webhook URL points at it",
    readers=("gateway", "payments"),
)
GATEWAY_HOST = Text(
    name="GATEWAY_HOST", default=LOOPBACK, meaning="address the gateway listens on", readers=("gateway",)
)
GRPC_HOST = Text(
    name="GRPC_HOST", default=LOOPBACK, meaning="address the gRPC servers listen on", readers=GRPC_SERVICES
)
PROVIDERS = tuple(f"provider-{kind}" for kind in PROVIDER_KINDS)
PROVIDER_HOST = Text(
    name="PROVIDER_HOST", default=LOOPBACK, meaning="address a provider listens on", readers=PROVIDERS
)
PROVIDER_PORT = Whole(
    name="PROVIDER_PORT",
    minimum=0,
    maximum=65535,
    shown_default="`<KIND>_PROVIDER_PORT`",
    meaning="port of this provider (the Procfile sets it from `<KIND>_PROVIDER_PORT`)",
    readers=PROVIDERS,
)
METRICS_PORT = Whole(
    name="METRICS_PORT",
    minimum=0,
    maximum=65535,
    shown_default="unset: no metrics",
    meaning="serve Prometheus `/metrics` on this port (0: any free port)",
    readers=EVERY_PROCESS,
)
METRICS_HOST = Text(
    name="METRICS_HOST", default=LOOPBACK, meaning="address `/metrics` is served on", readers=EVERY_PROCESS
)
EMBEDDED_REDIS_PORT = Whole(
    name="EMBEDDED_REDIS_PORT",
    default=EMBEDDED_REDIS_DEFAULT_PORT,
    minimum=1,
    maximum=65535,
    meaning="port of the Redis `make run` starts in the data folder when `REDIS_URL` is unset",
    readers=("launcher",),
)


def grpc_port(env: Env, service: str) -> int:
    return GRPC_PORT[service].read(env)


def grpc_address(env: Env, service: str) -> str:
    """`<SERVICE>_GRPC_ADDR`; comma-separated replicas are balanced round robin by the channel."""
    return GRPC_ADDRESS[service].optional(env) or f"{LOOPBACK}:{grpc_port(env, service)}"


def grpc_target(address: str) -> str:
    """A channel target for one address or a comma-separated list of replicas."""
    parts = [part.strip() for part in address.split(",") if part.strip()]
    if len(parts) == 1:
        return parts[0]
    return "ipv4:" + ",".join(parts)


def provider_url(env: Env, kind: str) -> str:
    configured = PROVIDER_URL_OF[kind].optional(env)
    return (configured or f"http://{LOOPBACK}:{PROVIDER_PORT_OF[kind].read(env)}").rstrip("/")


def gateway_url(env: Env) -> str:
    return f"http://{LOOPBACK}:{GATEWAY_PORT.read(env)}"
