"""Settings read by more than one kind of process: Redis, database, logs, traces, TLS, keys, secrets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from kit.settings import EVERY_PROCESS, Choice, Flag, Number, Text, Whole
from kit.topology import GRPC_SERVICES, PROVIDERS

PARTICIPANTS = ("sessions", "hotel", "flights", "payments", "expiry")
# Processes that sign their own calls to other services.
SIGNERS = ("hotel", "flights", "payments", "expiry", "gateway")
# Processes that check customer tokens.
TOKEN_VERIFIERS = ("sessions", "hotel", "flights", "payments")
REDIS_USERS = ("gateway", "customers", *PARTICIPANTS)
DATABASE_USERS = (*GRPC_SERVICES, *PROVIDERS)
GRPC_CLIENTS_AND_SERVERS = (*GRPC_SERVICES, "expiry", "gateway")

TRAVEL_NAMESPACE = Text(
    name="TRAVEL_NAMESPACE",
    default="travel",
    meaning="prefix of every Redis key, so several systems can share one Redis",
    readers=REDIS_USERS,
)
REDIS_URL = Text(
    name="REDIS_URL",
    shown_default="the embedded Redis of `make run`",
    meaning="the Redis of the saga bus, deadlines, attempt counters and event pushes (`rediss://` for TLS)",
    readers=(*REDIS_USERS, "launcher"),
)
REDIS_MODE = Choice(
    name="REDIS_MODE",
    default="single",
    choices=("single", "cluster"),
    meaning="`single`: REDIS_URL names one Redis; `cluster`: REDIS_URL names any node of a Redis Cluster "
    "and every process uses redis-py's cluster client",
    readers=(*REDIS_USERS, "launcher"),
)
REDIS_TLS_CA_FILE = Text(
    name="REDIS_TLS_CA_FILE",
    meaning="CA that signed the Redis server's certificate (with a `rediss://` URL)",
    readers=REDIS_USERS,
)
REDIS_TLS_CERT_FILE = Text(
    name="REDIS_TLS_CERT_FILE",
    meaning="client certificate shown to Redis, with `REDIS_TLS_KEY_FILE`",
    readers=REDIS_USERS,
)
REDIS_TLS_KEY_FILE = Text(
    name="REDIS_TLS_KEY_FILE", meaning="private key of `REDIS_TLS_CERT_FILE`", readers=REDIS_USERS
)
DATABASE_URL = Text(
    name="DATABASE_URL",
    shown_default="a SQLite file per process in `TRAVEL_DATA_DIR`",
    meaning="the database (`postgresql://...`); each service keeps its tables in a schema of its own",
    readers=DATABASE_USERS,
)
DB_SCHEMA_PREFIX = Text(
    name="DB_SCHEMA_PREFIX",
    default="",
    meaning="prefix of every PostgreSQL schema name, so runs sharing a database never collide",
    readers=DATABASE_USERS,
)

LOG_FORMAT = Text(
    name="LOG_FORMAT", default="text", meaning="`text` or `json` (one object per line)", readers=EVERY_PROCESS
)
LOG_LEVEL = Text(
    name="LOG_LEVEL",
    default="INFO",
    meaning="DEBUG, INFO, WARNING, ERROR or CRITICAL",
    readers=EVERY_PROCESS,
)
OTEL_EXPORTER_OTLP_ENDPOINT = Text(
    name="OTEL_EXPORTER_OTLP_ENDPOINT",
    meaning="export spans over OTLP/HTTP to this collector; the exporter reads the other "
    "`OTEL_EXPORTER_OTLP_*` and `OTEL_BSP_*` settings itself",
    readers=EVERY_PROCESS,
)
TRACE_CONSOLE = Flag(
    name="TRACE_CONSOLE", default=False, meaning="print every span on stdout", readers=EVERY_PROCESS
)

GRPC_TLS_CA_FILE = Text(
    name="GRPC_TLS_CA_FILE",
    meaning="turns gRPC TLS on: the CA that signs every service's certificate",
    readers=GRPC_CLIENTS_AND_SERVERS,
)
GRPC_TLS_CERT_FILE = Text(
    name="GRPC_TLS_CERT_FILE",
    meaning="this process's certificate, served and shown to peers",
    readers=GRPC_CLIENTS_AND_SERVERS,
)
GRPC_TLS_KEY_FILE = Text(
    name="GRPC_TLS_KEY_FILE", meaning="private key of `GRPC_TLS_CERT_FILE`", readers=GRPC_CLIENTS_AND_SERVERS
)
GRPC_TLS_CLIENT_AUTH = Flag(
    name="GRPC_TLS_CLIENT_AUTH",
    default=True,
    meaning="with TLS on, servers accept only callers with a certificate from the CA",
    readers=GRPC_CLIENTS_AND_SERVERS,
)
GRPC_TLS_SERVER_NAME = Text(
    name="GRPC_TLS_SERVER_NAME",
    meaning="the name a peer's certificate must carry when its address does not say it",
    readers=GRPC_CLIENTS_AND_SERVERS,
)

SERVICE_KEY_FILE = Text(
    name="SERVICE_KEY_FILE",
    shown_default="made per data folder (development only)",
    meaning="this service's Ed25519 private key, which signs its calls to other services",
    readers=SIGNERS,
)
TRUSTED_KEYS_DIR = Text(
    name="TRUSTED_KEYS_DIR",
    shown_default="the data folder's (development only)",
    meaning="folder of `<service>.pub`: the public keys of the services whose calls are accepted",
    readers=GRPC_SERVICES,
)
CUSTOMER_TOKEN_PRIVATE_KEY_FILE = Text(
    name="CUSTOMER_TOKEN_PRIVATE_KEY_FILE",
    shown_default="made per data folder (development only)",
    meaning="Ed25519 key that signs customer tokens; only the customers service holds it",
    readers=("customers", *TOKEN_VERIFIERS),
)
CUSTOMER_TOKEN_PUBLIC_KEY_FILE = Text(
    name="CUSTOMER_TOKEN_PUBLIC_KEY_FILE",
    shown_default="the public half of the development key",
    meaning="public key that checks customer tokens",
    readers=TOKEN_VERIFIERS,
)
PAYMENT_WEBHOOK_SECRET = Text(
    name="PAYMENT_WEBHOOK_SECRET",
    shown_default="made per data folder (development only)",
    meaning="shared secret that signs the payment provider's webhooks; random, 32 bytes or more",
    readers=("gateway", "provider-payment"),
)
PAYMENT_WEBHOOK_SECRET_FILE = Text(
    name="PAYMENT_WEBHOOK_SECRET_FILE",
    meaning="a file holding `PAYMENT_WEBHOOK_SECRET` (set one of the two)",
    readers=("gateway", "provider-payment"),
)
PROVIDER_ADMIN_TOKEN = Text(
    name="PROVIDER_ADMIN_TOKEN",
    shown_default="unset: `/admin` open (development only)",
    meaning="bearer token of the providers' `/admin` routes; random, 32 bytes or more",
    readers=PROVIDERS,
)
PROVIDER_ADMIN_TOKEN_FILE = Text(
    name="PROVIDER_ADMIN_TOKEN_FILE",
    meaning="a file holding `PROVIDER_ADMIN_TOKEN` (set one of the two)",
    readers=PROVIDERS,
)

PROVIDER_HOLD_WINDOW_SECONDS = Whole(
    name="PROVIDER_HOLD_WINDOW_SECONDS",
    default=900,
    minimum=1,
    meaning="how long a provider keeps a pre-reservation; session deadlines must end before it",
    readers=("sessions", *PROVIDERS),
)

# HTTP server limits, the same for each HTTP server; a prefix names the server.
MAX_CONNECTIONS = 1000
KEEP_ALIVE_SECONDS = 5
HEADER_TIMEOUT_SECONDS = 10.0
MAX_HEADER_BYTES = 32 * 1024
BACKLOG = 2048


@dataclass(frozen=True)
class HttpLimitSettings:
    """`<prefix>_MAX_CONNECTIONS`, `_KEEP_ALIVE_SECONDS`, `_HEADER_TIMEOUT_SECONDS`, `_MAX_HEADER_BYTES`,
    `_BACKLOG`, `_FORWARDED_ALLOW_IPS`."""

    max_connections: Whole
    keep_alive_seconds: Whole
    header_timeout_seconds: Number
    max_header_bytes: Whole
    backlog: Whole
    forwarded_allow_ips: Text


def _http_limit_settings(prefix: str, server: str, readers: tuple[str, ...]) -> HttpLimitSettings:
    return HttpLimitSettings(
        max_connections=Whole(
            name=f"{prefix}_MAX_CONNECTIONS",
            default=MAX_CONNECTIONS,
            minimum=1,
            meaning=f"connections the {server} holds at once; more are answered 503",
            readers=readers,
        ),
        keep_alive_seconds=Whole(
            name=f"{prefix}_KEEP_ALIVE_SECONDS",
            default=KEEP_ALIVE_SECONDS,
            minimum=1,
            meaning=f"how long the {server} keeps an idle connection open",
            readers=readers,
        ),
        header_timeout_seconds=Number(
            name=f"{prefix}_HEADER_TIMEOUT_SECONDS",
            default=HEADER_TIMEOUT_SECONDS,
            minimum=0.01,
            meaning="a request head must arrive whole within this time (else 408)",
            readers=readers,
        ),
        max_header_bytes=Whole(
            name=f"{prefix}_MAX_HEADER_BYTES",
            default=MAX_HEADER_BYTES,
            minimum=1024,
            meaning="largest request head accepted (else 431)",
            readers=readers,
        ),
        backlog=Whole(
            name=f"{prefix}_BACKLOG",
            default=BACKLOG,
            minimum=1,
            meaning="connections the kernel queues before the server accepts them",
            readers=readers,
        ),
        forwarded_allow_ips=Text(
            name=f"{prefix}_FORWARDED_ALLOW_IPS",
            default="",
            meaning="proxies whose `X-Forwarded-For`/`-Proto` are believed (never `*`)",
            readers=readers,
        ),
    )


HTTP_LIMITS: Mapping[str, HttpLimitSettings] = MappingProxyType(
    {
        "GATEWAY": _http_limit_settings("GATEWAY", "gateway", ("gateway",)),
        "PROVIDER": _http_limit_settings("PROVIDER", "provider", PROVIDERS),
    }
)
