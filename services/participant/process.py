"""A hotel, flights or payments process: a gRPC server, a saga participant, and what they hold open."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

import aiohttp
import grpc
from redis.asyncio import Redis

from bus.context import Handler
from bus.runtime import RunningParticipant, connect_redis
from kit.access_policy import AccessPolicy
from kit.auth import CallerCheck
from kit.channels import peer_channel
from kit.grpc_server import RunningServer, ServedService, start_server
from kit.service_identity import ServiceCredentials
from kit.tokens import TokenVerifier
from services.participant.config import ParticipantConfig
from services.provider_client.client import ProviderClient, provider_session
from services.provider_client.ports import ProviderApi
from services.reservations.attempts import AttemptLog
from services.reservations.attempts_redis import RedisAttemptLog
from services.sessions.client import RETRIED, ArbiterClient, SessionArbiter


@dataclass
class ParticipantProcess:
    server: RunningServer
    participant: RunningParticipant | None
    redis: Redis | None
    http: aiohttp.ClientSession | None
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
            await self.http.close()
        if self.redis is not None:
            await self.redis.aclose()


@dataclass(frozen=True)
class ParticipantParts:
    """What each of these services adds to the shared shape: its gRPC service and its saga steps."""

    served: ServedService
    access: AccessPolicy
    handlers: Mapping[str, Handler]
    cleanups: Sequence[Callable[[], Awaitable[None]]] = ()


async def start_participant_process(
    config: ParticipantConfig,
    service: str,
    parts: Callable[[ProviderApi, SessionArbiter, AttemptLog], ParticipantParts],
) -> ParticipantProcess:
    credentials = ServiceCredentials(service, config.service_key)
    redis = await connect_redis(config.bus.redis)
    http = provider_session(config.provider_timeout_seconds)
    provider = ProviderClient(http, config.provider_url, name=service)
    channel = peer_channel(config.sessions_address, config.tls, retried=RETRIED)
    built = parts(provider, ArbiterClient(channel, credentials), RedisAttemptLog(redis, config.bus.keys))
    server = await start_server(
        [built.served],
        port=config.port,
        host=config.host,
        caller_check=CallerCheck(TokenVerifier(config.customer_token_key, config.trusted), built.access),
        tls=config.tls,
    )
    participant = RunningParticipant(redis, config.bus, service, built.handlers)
    participant.start()
    return ParticipantProcess(
        server=server,
        participant=participant,
        redis=redis,
        http=http,
        channels=[channel],
        cleanups=built.cleanups,
    )
