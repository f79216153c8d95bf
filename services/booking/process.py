"""The shared shape of a booking process: a gRPC server, a saga participant, and what they hold open."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

import grpc
import httpx
from redis.asyncio import Redis

from bus.context import Handler
from services.booking.config import BookingConfig
from services.booking.provider_client import ProviderClient
from services.kit.auth import AuthInterceptor
from services.kit.bus_runtime import RunningParticipant, redis_client
from services.kit.channels import peer_channel
from services.kit.grpc_server import RunningServer, ServedService, start_server
from services.kit.service_identity import ServiceCredentials
from services.kit.settings import ConfigError
from services.kit.tokens import TokenIssuer, TokenVerifier
from services.sessions.client import ArbiterClient


@dataclass
class BookingProcess:
    server: RunningServer
    participant: RunningParticipant | None
    redis: Redis | None
    http: httpx.AsyncClient | None
    channels: Sequence[grpc.aio.Channel]
    cleanups: Sequence[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def stop(self) -> None:
        """Stop taking calls, let the consumer finish its batch, then close connections."""
        await self.server.stop()
        if self.participant is not None:
            await self.participant.stop()
        for cleanup in self.cleanups:
            await cleanup()
        for channel in self.channels:
            await channel.close()
        if self.http is not None:
            await self.http.aclose()
        if self.redis is not None:
            await self.redis.aclose()


def provider_http_client(timeout_seconds: float) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_seconds, connect=2.0),
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
    )


@dataclass(frozen=True)
class BookingParts:
    """What a booking service adds to the shared shape: its gRPC service and its saga steps."""

    served: ServedService
    public_methods: Sequence[str]
    handlers: Mapping[str, Handler]
    cleanups: Sequence[Callable[[], Awaitable[None]]] = ()


async def start_booking_process(
    config: BookingConfig,
    service: str,
    parts: Callable[[ProviderClient, ArbiterClient], BookingParts],
) -> BookingProcess:
    if config.keys.private_pem is None:
        raise ConfigError(f"{service} needs JWT_PRIVATE_KEY[_FILE] to sign its service token")
    credentials = ServiceCredentials(TokenIssuer(config.keys.private_pem, 600), service)
    http = provider_http_client(config.provider_timeout_seconds)
    provider = ProviderClient(http, config.provider_url)
    channel = peer_channel(config.sessions_address)
    built = parts(provider, ArbiterClient(channel, credentials))
    server = await start_server(
        [built.served],
        port=config.port,
        host=config.host,
        interceptors=[AuthInterceptor(TokenVerifier(config.keys.public_pem), built.public_methods)],
    )
    redis = redis_client(config.bus.redis_url)
    participant = RunningParticipant(redis, config.bus, service, built.handlers)
    participant.start()
    return BookingProcess(
        server=server,
        participant=participant,
        redis=redis,
        http=http,
        channels=[channel],
        cleanups=built.cleanups,
    )
