"""Settings of the expiry worker, read from the environment once."""

from __future__ import annotations

from dataclasses import dataclass

from services.expiry.policy import ExpiryPolicy
from services.kit.bus_runtime import BusConfig
from services.kit.peers import grpc_address
from services.kit.settings import Env
from services.kit.tokens import KeyPair, load_keys


def expiry_policy(env: Env) -> ExpiryPolicy:
    return ExpiryPolicy(
        session_ttl_seconds=env.int("SESSION_TTL_SECONDS", 600, minimum=1),
        provider_hold_window_seconds=env.int("PROVIDER_HOLD_WINDOW_SECONDS", 900, minimum=1),
        lease_seconds=env.float("EXPIRY_LEASE_SECONDS", 30.0, minimum=0.1),
        batch_size=env.int("EXPIRY_BATCH_SIZE", 200, minimum=1),
    )


@dataclass(frozen=True)
class ExpiryConfig:
    policy: ExpiryPolicy
    bus: BusConfig
    sessions_address: str
    keys: KeyPair
    concurrency: int

    @classmethod
    def from_env(cls, env: Env) -> ExpiryConfig:
        return cls(
            policy=expiry_policy(env),
            bus=BusConfig.from_env(env, "expiry"),
            sessions_address=grpc_address(env, "sessions"),
            keys=load_keys(env),
            concurrency=env.int("EXPIRY_CONCURRENCY", 4, minimum=1),
        )
