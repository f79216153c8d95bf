"""Settings of the expiry worker, declared once and read from the environment once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bus.runtime import BusConfig
from kit.grpc_tls import GrpcTls
from kit.service_identity import service_private_key
from kit.settings import Env, Number, Whole
from kit.shared_settings import PROVIDER_HOLD_WINDOW_SECONDS
from kit.topology import grpc_address
from services.expiry.policy import ExpiryPolicy

# The sessions service reads the policy too: it books each deadline the worker later expires.
POLICY_READERS = ("sessions", "expiry")
SESSION_TTL_SECONDS = Whole(
    name="SESSION_TTL_SECONDS",
    default=600,
    minimum=1,
    meaning="a purchase session's deadline after it opens; below `PROVIDER_HOLD_WINDOW_SECONDS`",
    readers=POLICY_READERS,
)
EXPIRY_LEASE_SECONDS = Number(
    name="EXPIRY_LEASE_SECONDS",
    default=ExpiryPolicy.lease_seconds,
    minimum=0.1,
    meaning="how long a worker holds a claimed deadline before another may take it",
    readers=POLICY_READERS,
)
EXPIRY_BATCH_SIZE = Whole(
    name="EXPIRY_BATCH_SIZE",
    default=ExpiryPolicy.batch_size,
    minimum=1,
    meaning="due deadlines claimed per sweep",
    readers=POLICY_READERS,
)
STUCK_SAGA_AFTER_SECONDS = Number(
    name="STUCK_SAGA_AFTER_SECONDS",
    default=120.0,
    minimum=0.1,
    meaning="a saga step without progress (pending or retrying) this long is flagged stuck",
    readers=POLICY_READERS,
)
EXPIRY_CONCURRENCY = Whole(
    name="EXPIRY_CONCURRENCY",
    default=4,
    minimum=1,
    meaning="expirations the worker runs at once",
    readers=("expiry",),
)


def expiry_policy(env: Env) -> ExpiryPolicy:
    return ExpiryPolicy(
        session_ttl_seconds=SESSION_TTL_SECONDS.read(env),
        provider_hold_window_seconds=PROVIDER_HOLD_WINDOW_SECONDS.read(env),
        lease_seconds=EXPIRY_LEASE_SECONDS.read(env),
        batch_size=EXPIRY_BATCH_SIZE.read(env),
    )


def stuck_saga_after(env: Env) -> timedelta:
    """How long a saga step may stay without progress (pending or retrying) before it is flagged stuck."""
    return timedelta(seconds=STUCK_SAGA_AFTER_SECONDS.read(env))


@dataclass(frozen=True)
class ExpiryConfig:
    policy: ExpiryPolicy
    bus: BusConfig
    sessions_address: str
    # The key the worker signs its ExpireSessions calls with.
    service_key: bytes
    concurrency: int
    stuck_saga_after: timedelta
    tls: GrpcTls | None = None

    @classmethod
    def from_env(cls, env: Env) -> ExpiryConfig:
        return cls(
            policy=expiry_policy(env),
            bus=BusConfig.from_env(env, "expiry"),
            sessions_address=grpc_address(env, "sessions"),
            service_key=service_private_key(env, "expiry"),
            concurrency=EXPIRY_CONCURRENCY.read(env),
            stuck_saga_after=stuck_saga_after(env),
            tls=GrpcTls.from_env(env),
        )
