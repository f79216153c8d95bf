"""Settings of the customers service, declared once and read from the environment once."""

from __future__ import annotations

import os
from dataclasses import dataclass

from kit.db import database_url, schema_name
from kit.grpc_tls import GrpcTls
from kit.redis_connection import RedisSettings
from kit.service_identity import TrustedServiceKeys, trusted_service_keys
from kit.settings import Env, Whole
from kit.shared_settings import TRAVEL_NAMESPACE
from kit.tokens import customer_token_private_key
from kit.topology import GRPC_HOST, grpc_port
from services.customers.attempt_limits import AttemptLimits, RateLimit
from services.customers.passwords import Argon2Parameters, HashingBound

READERS = ("customers",)
# The domain's own defaults are the settings' defaults.
_LIMITS = AttemptLimits()
TOKEN_TTL_SECONDS = Whole(
    name="TOKEN_TTL_SECONDS",
    default=3600,
    minimum=60,
    meaning="lifetime of a customer token",
    readers=READERS,
)
ARGON2_TIME_COST = Whole(
    name="ARGON2_TIME_COST",
    default=Argon2Parameters.time_cost,
    minimum=1,
    meaning="argon2id passes over memory",
    readers=READERS,
)
ARGON2_MEMORY_KIB = Whole(
    name="ARGON2_MEMORY_KIB",
    default=Argon2Parameters.memory_kib,
    minimum=8,
    meaning="argon2id memory per password hash, in KiB",
    readers=READERS,
)
ARGON2_PARALLELISM = Whole(
    name="ARGON2_PARALLELISM",
    default=Argon2Parameters.parallelism,
    minimum=1,
    meaning="argon2id lanes per hash",
    readers=READERS,
)
ARGON2_MAX_CONCURRENT = Whole(
    name="ARGON2_MAX_CONCURRENT",
    minimum=1,
    shown_default="min(4, CPUs)",
    meaning="password hashes computed at once",
    readers=READERS,
)
ARGON2_MAX_WAITING = Whole(
    name="ARGON2_MAX_WAITING",
    default=HashingBound.waiting,
    minimum=0,
    meaning="hashes allowed to wait for a turn; beyond, a login is refused as busy",
    readers=READERS,
)
AUTH_ATTEMPT_WINDOW_SECONDS = Whole(
    name="AUTH_ATTEMPT_WINDOW_SECONDS",
    default=_LIMITS.login_per_email.window_seconds,
    minimum=1,
    meaning="window of the login and registration limits",
    readers=READERS,
)
LOGIN_LIMIT_PER_EMAIL = Whole(
    name="LOGIN_LIMIT_PER_EMAIL",
    default=_LIMITS.login_per_email.limit,
    minimum=1,
    meaning="logins per email per window",
    readers=READERS,
)
LOGIN_LIMIT_PER_ADDRESS = Whole(
    name="LOGIN_LIMIT_PER_ADDRESS",
    default=_LIMITS.login_per_address.limit,
    minimum=1,
    meaning="logins per client address per window",
    readers=READERS,
)
REGISTER_LIMIT_PER_EMAIL = Whole(
    name="REGISTER_LIMIT_PER_EMAIL",
    default=_LIMITS.register_per_email.limit,
    minimum=1,
    meaning="registrations per email per window",
    readers=READERS,
)
REGISTER_LIMIT_PER_ADDRESS = Whole(
    name="REGISTER_LIMIT_PER_ADDRESS",
    default=_LIMITS.register_per_address.limit,
    minimum=1,
    meaning="registrations per client address per window",
    readers=READERS,
)


@dataclass(frozen=True)
class CustomersConfig:
    host: str
    port: int
    database_url: str
    schema: str
    # Only this service holds the key that signs customer tokens.
    token_private_key: bytes
    # No internal RPC here; trusted keys let the gateway prove it, so its forwarded client
    # address counts against login and registration limits instead of its own.
    trusted: TrustedServiceKeys
    token_ttl_seconds: int
    argon2: Argon2Parameters
    hashing_bound: HashingBound
    # Attempt counters live in Redis, so every replica shares them.
    redis: RedisSettings
    namespace: str
    attempt_limits: AttemptLimits
    tls: GrpcTls | None = None

    @classmethod
    def from_env(cls, env: Env) -> CustomersConfig:
        return cls(
            host=GRPC_HOST.read(env),
            port=grpc_port(env, "customers"),
            database_url=database_url(env, "customers"),
            schema=schema_name(env, "customers"),
            token_private_key=customer_token_private_key(env),
            trusted=trusted_service_keys(env, callers=("gateway",)),
            token_ttl_seconds=TOKEN_TTL_SECONDS.read(env),
            argon2=argon2_parameters(env),
            hashing_bound=HashingBound(
                running=ARGON2_MAX_CONCURRENT.optional(env) or min(4, os.cpu_count() or 1),
                waiting=ARGON2_MAX_WAITING.read(env),
            ),
            redis=RedisSettings.from_env(env),
            namespace=TRAVEL_NAMESPACE.read(env),
            attempt_limits=attempt_limits(env),
            tls=GrpcTls.from_env(env, serving=True),
        )


def argon2_parameters(env: Env) -> Argon2Parameters:
    return Argon2Parameters(
        time_cost=ARGON2_TIME_COST.read(env),
        memory_kib=ARGON2_MEMORY_KIB.read(env),
        parallelism=ARGON2_PARALLELISM.read(env),
    )


def attempt_limits(env: Env) -> AttemptLimits:
    window = AUTH_ATTEMPT_WINDOW_SECONDS.read(env)
    return AttemptLimits(
        login_per_email=RateLimit(LOGIN_LIMIT_PER_EMAIL.read(env), window),
        login_per_address=RateLimit(LOGIN_LIMIT_PER_ADDRESS.read(env), window),
        register_per_email=RateLimit(REGISTER_LIMIT_PER_EMAIL.read(env), window),
        register_per_address=RateLimit(REGISTER_LIMIT_PER_ADDRESS.read(env), window),
    )
