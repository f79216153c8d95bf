"""Composition root of the expiry process: the session expiry worker and the stuck-saga checks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import grpc
from redis.asyncio import Redis

from bus.deadlines import STUCK_CHECKS, DeadlineSchedule
from bus.runtime import connect_redis
from kit.channels import peer_channel
from kit.metrics import observe_expiry_lateness
from kit.scraped_metrics import register_scraped_gauges
from kit.service_identity import ServiceCredentials
from services.expiry.config import ExpiryConfig
from services.expiry.stuck_sagas import StuckSagaCheck, read_stuck_gauge
from services.expiry.worker import ExpiryWorker
from services.sessions.client import RETRIED, ArbiterClient


@dataclass
class ExpiryProcess:
    worker: ExpiryWorker
    task: asyncio.Task[None]
    redis: Redis
    channel: grpc.aio.Channel
    stuck_checker: ExpiryWorker
    stuck_task: asyncio.Task[None]
    forget_gauges: Callable[[], None]

    async def stop(self) -> None:
        self.forget_gauges()
        self.worker.stop()
        self.stuck_checker.stop()
        await asyncio.gather(self.task, self.stuck_task)
        await self.channel.close()
        await self.redis.aclose()


async def start(config: ExpiryConfig) -> ExpiryProcess:
    redis = await connect_redis(config.bus.redis)
    channel = peer_channel(config.sessions_address, config.tls, retried=RETRIED)
    arbiter = ArbiterClient(channel, ServiceCredentials("expiry", config.service_key))

    async def expire(session_ids: Sequence[str]) -> int:
        return len(await arbiter.expire_many(session_ids))

    keys = config.bus.keys
    deadlines = DeadlineSchedule(redis, keys, claimed_late=observe_expiry_lateness)
    worker = ExpiryWorker(deadlines, expire, config.claims, concurrency=config.concurrency)
    task = asyncio.create_task(worker.run(), name="expiry-worker")
    # Stuck-saga checks are deadlines too: the same worker sleeps until the next one on its own schedule.
    checks = DeadlineSchedule(redis, keys, name=STUCK_CHECKS)
    stuck = StuckSagaCheck(redis, keys, checks, config.stuck_saga_after, lambda: datetime.now(UTC))
    stuck_checker = ExpiryWorker(checks, stuck.check, config.claims, concurrency=1)
    stuck_task = asyncio.create_task(stuck_checker.run(), name="stuck-saga-checks")
    forget_gauges = register_scraped_gauges(lambda: read_stuck_gauge(redis, keys), "the stuck sagas")
    return ExpiryProcess(
        worker=worker,
        task=task,
        redis=redis,
        channel=channel,
        stuck_checker=stuck_checker,
        stuck_task=stuck_task,
        forget_gauges=forget_gauges,
    )
