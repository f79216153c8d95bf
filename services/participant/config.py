"""Settings of the hotel, flights and payments services, declared once and read from the environment once."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bus.runtime import BusConfig
from kit.grpc_tls import GrpcTls
from kit.service_identity import TrustedServiceKeys, service_private_key, trusted_service_keys
from kit.settings import Env, Number
from kit.tokens import customer_token_public_key
from kit.topology import GRPC_HOST, grpc_address, grpc_port, provider_url

PROVIDER_TIMEOUT_SECONDS = Number(
    name="PROVIDER_TIMEOUT_SECONDS",
    default=5.0,
    minimum=0.1,
    meaning="how long a call to a provider may take before it counts as a transient failure",
    readers=("hotel", "flights", "payments"),
)


@dataclass(frozen=True)
class ParticipantConfig:
    """Settings shared in shape by the hotel, flights and payments services."""

    host: str
    port: int
    provider_url: str
    provider_timeout_seconds: float
    sessions_address: str
    customer_token_key: bytes
    # The key this service signs its own calls with, and the keys of the services it accepts calls from.
    service_key: bytes
    trusted: TrustedServiceKeys
    bus: BusConfig
    tls: GrpcTls | None = None

    @classmethod
    def from_env(
        cls, env: Env, service: str, provider_kind: str, callers: Iterable[str] = ()
    ) -> ParticipantConfig:
        """`callers`: the services this one's internal RPCs accept (their public keys must be trusted)."""
        return cls(
            host=GRPC_HOST.read(env),
            port=grpc_port(env, service),
            provider_url=provider_url(env, provider_kind),
            provider_timeout_seconds=PROVIDER_TIMEOUT_SECONDS.read(env),
            sessions_address=grpc_address(env, "sessions"),
            customer_token_key=customer_token_public_key(env),
            service_key=service_private_key(env, service),
            trusted=trusted_service_keys(env, callers),
            bus=BusConfig.from_env(env, service),
            tls=GrpcTls.from_env(env, serving=True),
        )
