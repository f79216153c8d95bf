"""Settings of the hotel service, read from the environment once."""

from __future__ import annotations

from dataclasses import dataclass

from services.kit.bus_runtime import BusConfig
from services.kit.peers import grpc_address, grpc_port, provider_url
from services.kit.settings import Env
from services.kit.tokens import KeyPair, load_keys


@dataclass(frozen=True)
class BookingConfig:
    """Settings shared in shape by the hotel and flights services."""

    host: str
    port: int
    provider_url: str
    provider_timeout_seconds: float
    sessions_address: str
    keys: KeyPair
    bus: BusConfig

    @classmethod
    def from_env(cls, env: Env, service: str, provider_kind: str) -> BookingConfig:
        return cls(
            host=env.str("GRPC_HOST", "0.0.0.0"),
            port=grpc_port(env, service),
            provider_url=provider_url(env, provider_kind),
            provider_timeout_seconds=env.float("PROVIDER_TIMEOUT_SECONDS", 5.0, minimum=0.1),
            sessions_address=grpc_address(env, "sessions"),
            keys=load_keys(env),
            bus=BusConfig.from_env(env, service),
        )
