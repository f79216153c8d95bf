"""Settings and lifecycle shared by saga participants: Redis, namespace, stable consumer names."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from redis.asyncio import Redis

from bus.backoff import RetryPolicy
from bus.consumer import Participant
from bus.context import Handler
from bus.group_gauges import read_group_gauges
from bus.keys import DEFAULT_PARTITIONS, MAX_PARTITIONS, BusKeys
from bus.settings import BUS_BUG_ATTEMPTS, ConsumerSettings
from kit.redis_connection import RedisSettings, check_access
from kit.redis_connection import redis_client as make_redis_client
from kit.scraped_metrics import register_scraped_gauges
from kit.settings import Env, Number, Text, Whole
from kit.shared_settings import PARTICIPANTS, TRAVEL_NAMESPACE
from kit.tracing import recording_tracer

log = logging.getLogger(__name__)

# The bus consumer's own defaults (bus.settings, bus.backoff) are the settings' defaults.
_CONSUMER = ConsumerSettings()
_RETRY = RetryPolicy()
REPLICA = Text(
    name="REPLICA",
    default="1",
    meaning="replica number of this process, part of its consumer name",
    readers=PARTICIPANTS,
)
CONSUMER_NAME = Text(
    name="CONSUMER_NAME",
    shown_default="`<service>-<hostname>-<REPLICA>`",
    meaning="name in the consumer group; stable across restarts so a replica rereads its own pending entries",
    readers=PARTICIPANTS,
)
BUS_CLAIM_IDLE_MS = Whole(
    name="BUS_CLAIM_IDLE_MS",
    default=_CONSUMER.claim_idle_ms,
    minimum=100,
    meaning="an entry pending this long in a dead consumer is claimed by a live one",
    readers=PARTICIPANTS,
)
BUS_CLAIM_INTERVAL_SECONDS = Number(
    name="BUS_CLAIM_INTERVAL_SECONDS",
    minimum=0.05,
    shown_default="`BUS_CLAIM_IDLE_MS` / 1000",
    meaning="how often a consumer looks for entries to claim",
    readers=PARTICIPANTS,
)
BUS_RETRY_ATTEMPTS = Whole(
    name="BUS_RETRY_ATTEMPTS",
    default=_RETRY.max_attempts,
    minimum=1,
    meaning="attempts of a forward step failing transiently before its dead letter (NEEDS_ATTENTION)",
    readers=PARTICIPANTS,
)
BUS_RETRY_BASE_DELAY_SECONDS = Number(
    name="BUS_RETRY_BASE_DELAY_SECONDS",
    default=_RETRY.base_delay_s,
    minimum=0.001,
    meaning="first retry delay (capped exponential backoff with jitter)",
    readers=PARTICIPANTS,
)
BUS_RETRY_MAX_DELAY_SECONDS = Number(
    name="BUS_RETRY_MAX_DELAY_SECONDS",
    default=_RETRY.max_delay_s,
    minimum=0.001,
    meaning="longest delay between attempts of a forward step",
    readers=PARTICIPANTS,
)
BUS_COMPENSATION_ATTEMPTS = Whole(
    name="BUS_COMPENSATION_ATTEMPTS",
    default=_CONSUMER.compensation_retry.max_attempts,
    minimum=1,
    meaning="attempts of a compensation before its saga needs attention",
    readers=PARTICIPANTS,
)
BUS_COMPENSATION_MAX_DELAY_SECONDS = Number(
    name="BUS_COMPENSATION_MAX_DELAY_SECONDS",
    default=_CONSUMER.compensation_retry.max_delay_s,
    minimum=0.001,
    meaning="longest delay between attempts of a compensation",
    readers=PARTICIPANTS,
)


BUS_PARTITIONS = Whole(
    name="BUS_PARTITIONS",
    default=DEFAULT_PARTITIONS,
    minimum=1,
    maximum=MAX_PARTITIONS,
    meaning="partitions of the saga bus: every process of one system must agree; a Redis Cluster "
    "spreads them over its masters",
    readers=PARTICIPANTS,
)


@dataclass(frozen=True)
class BusConfig:
    redis: RedisSettings
    namespace: str
    consumer_name: str
    consumer: ConsumerSettings
    partitions: int = DEFAULT_PARTITIONS

    @property
    def keys(self) -> BusKeys:
        return BusKeys(self.namespace, self.partitions)

    @classmethod
    def from_env(cls, env: Env, service: str) -> BusConfig:
        claim_idle_ms = BUS_CLAIM_IDLE_MS.read(env)
        # Stable across restarts, so a restarted replica first rereads its own pending entries.
        consumer_name = CONSUMER_NAME.optional(env) or f"{service}-{socket.gethostname()}-{REPLICA.read(env)}"
        base_delay_s = BUS_RETRY_BASE_DELAY_SECONDS.read(env)
        return cls(
            redis=RedisSettings.from_env(env),
            namespace=TRAVEL_NAMESPACE.read(env),
            partitions=BUS_PARTITIONS.read(env),
            consumer_name=consumer_name,
            consumer=ConsumerSettings(
                claim_idle_ms=claim_idle_ms,
                # Sweeping faster than entries can become claimable would find nothing more.
                claim_interval_s=BUS_CLAIM_INTERVAL_SECONDS.optional(env) or claim_idle_ms / 1000,
                retry=RetryPolicy(
                    max_attempts=BUS_RETRY_ATTEMPTS.read(env),
                    base_delay_s=base_delay_s,
                    max_delay_s=BUS_RETRY_MAX_DELAY_SECONDS.read(env),
                ),
                compensation_retry=RetryPolicy(
                    max_attempts=BUS_COMPENSATION_ATTEMPTS.read(env),
                    base_delay_s=base_delay_s,
                    max_delay_s=BUS_COMPENSATION_MAX_DELAY_SECONDS.read(env),
                ),
                unexpected_retry=RetryPolicy(
                    max_attempts=BUS_BUG_ATTEMPTS.read(env),
                    base_delay_s=base_delay_s,
                    max_delay_s=_CONSUMER.unexpected_retry.max_delay_s,
                ),
            ),
        )


async def connect_redis(settings: RedisSettings) -> Redis:
    """The process's Redis client, its credentials checked once at start."""
    client = make_redis_client(settings, decode_responses=True, socket_timeout=10, health_check_interval=30)
    await check_access(client, settings)
    return client


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
            partitions=config.partitions,
            tracer=recording_tracer("bus.consumer"),
        )
        self._task: asyncio.Task[None] | None = None
        self._redis = redis
        self._keys = config.keys
        self._unregister_gauges: Callable[[], None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self.consumer.run(), name=f"participant-{self.consumer.participant}")
        participant = self.consumer.participant
        self._unregister_gauges = register_scraped_gauges(
            lambda: read_group_gauges(self._redis, self._keys, participant), f"the {participant} group"
        )

    async def stop(self) -> None:
        if self._unregister_gauges is not None:
            self._unregister_gauges()
            self._unregister_gauges = None
        self.consumer.stop()
        if self._task is not None:
            await self._task
