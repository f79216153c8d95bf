"""Composition root of the sessions process: arbiter, its gRPC server, saga steps, outbox relay."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine
from travel.sessions.v1 import sessions_pb2_grpc

from bus.history import HistoryRecord, read_session_history
from bus.keys import BusKeys
from bus.outbox import OutboxRelay, create_outbox_table
from services.expiry.schedule import DeadlineSchedule
from services.kit.auth import AuthInterceptor
from services.kit.bus_runtime import RunningParticipant, redis_client
from services.kit.db import create_schema, make_engine
from services.kit.grpc_server import RunningServer, ServedService, start_server
from services.kit.tokens import TokenVerifier
from services.sessions.arbiter import Arbiter
from services.sessions.attention import DeadLetterWatcher
from services.sessions.config import SessionsConfig
from services.sessions.domain import EXPIRABLE
from services.sessions.events import SessionTimeline
from services.sessions.repository import SessionRepository, metadata
from services.sessions.saga_steps import session_handlers
from services.sessions.saga_writes import OutboxSagaStarter
from services.sessions.servicer import SERVICE_NAME, SessionsServicer

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class SessionsProcess:
    server: RunningServer
    engine: AsyncEngine
    redis: Redis
    participant: RunningParticipant
    watcher: DeadLetterWatcher
    relay: OutboxRelay
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def stop(self) -> None:
        await self.server.stop()
        self.relay.stop()
        self.watcher.stop()
        await self.participant.stop()
        await asyncio.gather(*self.tasks)
        await self.redis.aclose()
        await self.engine.dispose()


async def reschedule_open_sessions(repository: SessionRepository, schedule: DeadlineSchedule) -> int:
    """Re-add the deadline of every session that can still expire: a crash between the DB write
    and the ZADD must not leave a session that never expires."""
    due = {
        session_id: int(expires_at.timestamp() * 1000)
        for session_id, expires_at, state in await repository.non_terminal()
        if state in EXPIRABLE
    }
    await schedule.schedule_many(due)
    return len(due)


async def start(config: SessionsConfig) -> SessionsProcess:
    engine = make_engine(config.database_url, config.schema)
    await create_schema(engine, config.schema, metadata)
    await create_outbox_table(engine)
    redis = redis_client(config.bus.redis_url)
    keys = BusKeys(config.bus.namespace)
    repository = SessionRepository(engine)
    schedule = DeadlineSchedule(redis, config.bus.namespace)
    arbiter = Arbiter(
        repository=repository,
        sagas=OutboxSagaStarter(utc_now),
        deadlines=schedule,
        clock=utc_now,
        new_id=lambda: str(uuid.uuid4()),
        ttl=timedelta(seconds=config.policy.session_ttl_seconds),
    )
    rescheduled = await reschedule_open_sessions(repository, schedule)
    log.info("reconciled %d session deadlines", rescheduled)

    async def saga_history(session_id: str) -> dict[str, list[HistoryRecord]]:
        return await read_session_history(redis, keys, session_id)

    servicer = SessionsServicer(arbiter, SessionTimeline(repository, saga_history))
    server = await start_server(
        [
            ServedService(
                SERVICE_NAME, lambda s: sessions_pb2_grpc.add_SessionsServiceServicer_to_server(servicer, s)
            )
        ],
        port=config.port,
        host=config.host,
        interceptors=[AuthInterceptor(TokenVerifier(config.keys.public_pem))],
    )
    participant = RunningParticipant(redis, config.bus, "sessions", session_handlers(arbiter))
    participant.start()
    watcher = DeadLetterWatcher(redis, keys, arbiter, config.bus.consumer_name)
    # A short poll: the relay's pause is the delay between a payment and its saga's first step.
    relay = OutboxRelay(engine, redis, keys, poll_interval_s=0.01)
    process = SessionsProcess(server, engine, redis, participant, watcher, relay)
    process.tasks = [asyncio.create_task(relay.run()), asyncio.create_task(watcher.run())]
    return process
