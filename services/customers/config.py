"""Settings of the customers service, read from the environment once."""

from __future__ import annotations

from dataclasses import dataclass

from services.customers.passwords import Argon2Parameters
from services.kit.db import database_url, schema_name
from services.kit.settings import Env
from services.kit.tokens import KeyPair, load_keys


@dataclass(frozen=True)
class CustomersConfig:
    host: str
    port: int
    database_url: str
    schema: str
    keys: KeyPair
    token_ttl_seconds: int
    argon2: Argon2Parameters

    @classmethod
    def from_env(cls, env: Env) -> CustomersConfig:
        return cls(
            host=env.str("GRPC_HOST", "0.0.0.0"),
            port=env.int("CUSTOMERS_PORT", 50051, minimum=0),
            database_url=database_url(env, "customers"),
            schema=schema_name(env, "customers"),
            keys=load_keys(env),
            token_ttl_seconds=env.int("TOKEN_TTL_SECONDS", 3600, minimum=60),
            argon2=Argon2Parameters(
                time_cost=env.int("ARGON2_TIME_COST", 3, minimum=1),
                memory_kib=env.int("ARGON2_MEMORY_KIB", 65536, minimum=8),
                parallelism=env.int("ARGON2_PARALLELISM", 1, minimum=1),
            ),
        )
