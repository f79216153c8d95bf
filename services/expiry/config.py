"""Settings of the expiry worker, declared once and read from the environment once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bus.runtime import BusConfig
from bus.settings import stuck_saga_after
from kit.grpc_tls import GrpcTls
from kit.service_identity import service_private_key
from kit.settings import Env, Number, Whole
from kit.topology import grpc_address
from services.expiry.policy import ClaimPolicy

EXPIRY_LEASE_SECONDS = Number(
    name="EXPIRY_LEASE_SECONDS",
    default=ClaimPolicy.lease_seconds,
    minimum=0.1,
    meaning="how long a worker holds a claimed deadline before another may take it",
    readers=("expiry",),
)
EXPIRY_BATCH_SIZE = Whole(
    name="EXPIRY_BATCH_SIZE",
    default=ClaimPolicy.batch_size,
    minimum=1,
    meaning="due deadlines claimed per sweep",
    readers=("expiry",),
)
EXPIRY_CONCURRENCY = Whole(
    name="EXPIRY_CONCURRENCY",
    default=4,
    minimum=1,
    meaning="expirations the worker runs at once",
    readers=("expiry",),
)


def claim_policy(env: Env) -> ClaimPolicy:
    return ClaimPolicy(lease_seconds=EXPIRY_LEASE_SECONDS.read(env), batch_size=EXPIRY_BATCH_SIZE.read(env))


@dataclass(frozen=True)
class ExpiryConfig:
    claims: ClaimPolicy
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
            claims=claim_policy(env),
            bus=BusConfig.from_env(env, "expiry"),
            sessions_address=grpc_address(env, "sessions"),
            service_key=service_private_key(env, "expiry"),
            concurrency=EXPIRY_CONCURRENCY.read(env),
            stuck_saga_after=stuck_saga_after(env),
            tls=GrpcTls.from_env(env),
        )
