"""Settings of the sessions service, declared once and read from the environment once."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from bus.runtime import BusConfig
from bus.settings import stuck_saga_after
from kit.db import database_url, schema_name
from kit.grpc_tls import GrpcTls
from kit.open_streams import StreamCaps
from kit.service_identity import TrustedServiceKeys, trusted_service_keys
from kit.settings import Env, Number, Whole
from kit.shared_settings import PROVIDER_HOLD_WINDOW_SECONDS
from kit.tokens import customer_token_public_key
from kit.topology import GRPC_HOST, grpc_port
from services.sessions.access import ACCESS
from services.sessions.lifetime import SessionLifetime
from services.sessions.reconciler import ReconcilerConfig

SESSION_TTL_SECONDS = Whole(
    name="SESSION_TTL_SECONDS",
    default=600,
    minimum=1,
    meaning="a purchase session's deadline after it opens; below `PROVIDER_HOLD_WINDOW_SECONDS`",
    readers=("sessions",),
)
OPEN_SESSIONS_PER_CUSTOMER = Whole(
    name="OPEN_SESSIONS_PER_CUSTOMER",
    default=5,
    minimum=1,
    meaning="purchase sessions a customer may have open at once",
    readers=("sessions",),
)
# A periodic safety net, not a poll: tens of seconds between sweeps in production.
RECONCILE_INTERVAL_SECONDS = Number(
    name="RECONCILE_INTERVAL_SECONDS",
    default=30.0,
    minimum=0.5,
    meaning="how often the reconciler puts back from the database what a Redis loss dropped",
    readers=("sessions",),
)
RECONCILE_SAGA_AFTER_SECONDS = Number(
    name="RECONCILE_SAGA_AFTER_SECONDS",
    default=60.0,
    minimum=0.0,
    meaning="how long a confirming or cancelling session waits for its saga before the reconciler "
    "starts it again",
    readers=("sessions",),
)
WATCH_STREAMS_PER_CUSTOMER = Whole(
    name="WATCH_STREAMS_PER_CUSTOMER",
    default=StreamCaps.per_customer,
    minimum=1,
    meaning="WatchSession streams one customer may hold open on one sessions server",
    readers=("sessions",),
)
WATCH_STREAMS_TOTAL = Whole(
    name="WATCH_STREAMS_TOTAL",
    default=1000,
    minimum=1,
    meaning="WatchSession streams one sessions server holds open in all (every gateway's event "
    "streams are among them)",
    readers=("sessions",),
)
OUTBOX_SWEEP_SECONDS = Number(
    name="OUTBOX_SWEEP_SECONDS",
    default=30.0,
    minimum=0.05,
    meaning="longest wait between two sweeps of the outbox for rows a crash or another replica left "
    "(a sweep also comes when a lease it saw runs out; commits publish at once)",
    readers=("sessions",),
)


def session_lifetime(env: Env) -> SessionLifetime:
    return SessionLifetime(
        session_ttl_seconds=SESSION_TTL_SECONDS.read(env),
        provider_hold_window_seconds=PROVIDER_HOLD_WINDOW_SECONDS.read(env),
    )


@dataclass(frozen=True)
class SessionsConfig:
    host: str
    port: int
    database_url: str
    schema: str
    customer_token_key: bytes
    trusted: TrustedServiceKeys
    bus: BusConfig
    lifetime: SessionLifetime
    # A saga start books its first stuck check this long after it (the expiry process checks).
    stuck_saga_after: timedelta
    reconciler: ReconcilerConfig
    open_per_customer: int = OPEN_SESSIONS_PER_CUSTOMER.default_value
    tls: GrpcTls | None = None
    # The outbox relay is woken by this process's commits; this sweep only finds rows left behind.
    outbox_sweep_seconds: float = OUTBOX_SWEEP_SECONDS.default_value
    watch_caps: StreamCaps = field(
        default_factory=lambda: StreamCaps(total=WATCH_STREAMS_TOTAL.default_value)
    )

    @classmethod
    def from_env(cls, env: Env) -> SessionsConfig:
        return cls(
            host=GRPC_HOST.read(env),
            port=grpc_port(env, "sessions"),
            database_url=database_url(env, "sessions"),
            schema=schema_name(env, "sessions"),
            customer_token_key=customer_token_public_key(env),
            trusted=trusted_service_keys(env, ACCESS.callers()),
            bus=BusConfig.from_env(env, "sessions"),
            lifetime=session_lifetime(env),
            open_per_customer=OPEN_SESSIONS_PER_CUSTOMER.read(env),
            tls=GrpcTls.from_env(env, serving=True),
            outbox_sweep_seconds=OUTBOX_SWEEP_SECONDS.read(env),
            watch_caps=StreamCaps(
                per_customer=WATCH_STREAMS_PER_CUSTOMER.read(env), total=WATCH_STREAMS_TOTAL.read(env)
            ),
            stuck_saga_after=stuck_saga_after(env),
            reconciler=ReconcilerConfig(
                interval=timedelta(seconds=RECONCILE_INTERVAL_SECONDS.read(env)),
                saga_after=timedelta(seconds=RECONCILE_SAGA_AFTER_SECONDS.read(env)),
            ),
        )
