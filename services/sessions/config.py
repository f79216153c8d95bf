"""Settings of the sessions service, read from the environment once."""

from __future__ import annotations

from dataclasses import dataclass

from services.expiry.config import expiry_policy
from services.expiry.policy import ExpiryPolicy
from services.kit.bus_runtime import BusConfig
from services.kit.db import database_url, schema_name
from services.kit.peers import grpc_port
from services.kit.settings import Env
from services.kit.tokens import KeyPair, load_keys


@dataclass(frozen=True)
class SessionsConfig:
    host: str
    port: int
    database_url: str
    schema: str
    keys: KeyPair
    bus: BusConfig
    policy: ExpiryPolicy

    @classmethod
    def from_env(cls, env: Env) -> SessionsConfig:
        return cls(
            host=env.str("GRPC_HOST", "0.0.0.0"),
            port=grpc_port(env, "sessions"),
            database_url=database_url(env, "sessions"),
            schema=schema_name(env, "sessions"),
            keys=load_keys(env),
            bus=BusConfig.from_env(env, "sessions"),
            policy=expiry_policy(env),
        )
