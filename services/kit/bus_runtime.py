"""Settings and lifecycle shared by saga participants: Redis, namespace, stable consumer names."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Mapping
from dataclasses import dataclass

from redis.asyncio import Redis

from bus.backoff import RetryPolicy
from bus.consumer import Participant
from bus.context import Handler
from bus.settings import ConsumerSettings
from services.kit.settings import ConfigError, Env

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BusConfig:
    redis_url: str
    namespace: str
    consumer_name: str
    consumer: ConsumerSettings

    @classmethod
    def from_env(cls, env: Env, service: str) -> BusConfig:
        url = env.optional("REDIS_URL")
        if url is None:
            raise ConfigError(
                "REDIS_URL is required (the launcher, `make run`, starts an embedded Redis and sets it)"
            )
        replica = env.str("REPLICA", "1")
        return cls(
            redis_url=url,
            namespace=env.str("TRAVEL_NAMESPACE", "travel"),
            # Stable across restarts, so a restarted replica first rereads its own pending entries.
            consumer_name=env.str("CONSUMER_NAME", f"{service}-{socket.gethostname()}-{replica}"),
            consumer=ConsumerSettings(
                claim_idle_ms=env.int("BUS_CLAIM_IDLE_MS", 30_000, minimum=100),
                claim_interval_s=env.float("BUS_CLAIM_INTERVAL_SECONDS", 5.0, minimum=0.05),
                retry=RetryPolicy(
                    max_attempts=env.int("BUS_RETRY_ATTEMPTS", 8, minimum=1),
                    base_delay_s=env.float("BUS_RETRY_BASE_DELAY_SECONDS", 0.2, minimum=0.001),
                    max_delay_s=env.float("BUS_RETRY_MAX_DELAY_SECONDS", 30.0, minimum=0.001),
                ),
                compensation_retry=RetryPolicy(
                    max_attempts=env.int("BUS_COMPENSATION_ATTEMPTS", 20, minimum=1),
                    base_delay_s=env.float("BUS_RETRY_BASE_DELAY_SECONDS", 0.2, minimum=0.001),
                    max_delay_s=env.float("BUS_COMPENSATION_MAX_DELAY_SECONDS", 60.0, minimum=0.001),
                ),
            ),
        )


def redis_client(url: str) -> Redis:
    return Redis.from_url(url, decode_responses=True, socket_timeout=10, health_check_interval=30)


class RunningParticipant:
    """A bus consumer running as a task of the process, stopped gracefully."""

    def __init__(
        self, redis: Redis, config: BusConfig, participant: str, handlers: Mapping[str, Handler]
    ) -> None:
        self.consumer = Participant(
            redis,
            namespace=config.namespace,
            participant=participant,
            consumer=config.consumer_name,
            handlers=handlers,
            settings=config.consumer,
        )
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self.consumer.run(), name=f"participant-{self.consumer.participant}")

    async def stop(self) -> None:
        self.consumer.stop()
        if self._task is not None:
            await self._task
