"""Composition root of the expiry worker."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import grpc
from redis.asyncio import Redis

from services.expiry.config import ExpiryConfig
from services.expiry.schedule import DeadlineSchedule
from services.expiry.worker import ExpiryWorker
from services.kit.bus_runtime import redis_client
from services.kit.channels import peer_channel
from services.kit.service_identity import ServiceCredentials
from services.kit.settings import ConfigError
from services.kit.tokens import TokenIssuer
from services.sessions.client import ArbiterClient


@dataclass
class ExpiryProcess:
    worker: ExpiryWorker
    task: asyncio.Task[None]
    redis: Redis
    channel: grpc.aio.Channel

    async def stop(self) -> None:
        self.worker.stop()
        await self.task
        await self.channel.close()
        await self.redis.aclose()


async def start(config: ExpiryConfig) -> ExpiryProcess:
    if config.keys.private_pem is None:
        raise ConfigError("expiry needs JWT_PRIVATE_KEY[_FILE] to sign its service token")
    redis = redis_client(config.bus.redis_url)
    channel = peer_channel(config.sessions_address)
    arbiter = ArbiterClient(channel, ServiceCredentials(TokenIssuer(config.keys.private_pem, 600), "expiry"))

    async def expire(session_ids: Sequence[str]) -> int:
        return len(await arbiter.expire_many(session_ids))

    worker = ExpiryWorker(
        DeadlineSchedule(redis, config.bus.namespace), expire, config.policy, concurrency=config.concurrency
    )
    task = asyncio.create_task(worker.run(), name="expiry-worker")
    return ExpiryProcess(worker=worker, task=task, redis=redis, channel=channel)
