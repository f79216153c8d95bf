"""Composition root of the sessions process: arbiter, its gRPC server, saga steps, outbox relay."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from redis.asyncio import Redis
from travel.operations.v1 import operations_pb2_grpc
from travel.sessions.v1 import sessions_pb2_grpc

from bus.deadlines import STUCK_CHECKS, DeadlineSchedule
from bus.history import HistoryRecord, read_session_history
from bus.outbox import OutboxRelay
from bus.ports import DeadlineScheduler
from bus.runtime import RunningParticipant, connect_redis
from bus.session_changes import SessionChanges
from kit.access_policy import ServerAccess
from kit.auth import CallerCheck
from kit.database import Database
from kit.grpc_server import RunningServer, ServedService, start_server
from kit.migrations import open_migrated_database
from kit.redis_connection import check_access, redis_client
from kit.scraped_metrics import register_scraped_gauges
from kit.tokens import TokenVerifier
from services.reservations.attempts_redis import RedisAttemptLog
from services.sagas import definitions as saga_plans
from services.sagas.session_steps import session_handlers
from services.sessions.access import ACCESS
from services.sessions.arbiter import Arbiter
from services.sessions.attention import DeadLetterWatcher
from services.sessions.change_notices import Beside, ChangeNotices
from services.sessions.config import SessionsConfig
from services.sessions.events import SessionTimeline
from services.sessions.operations.access import ACCESS as OPERATIONS_ACCESS
from services.sessions.operations.bus_reads import RedisBusReads
from services.sessions.operations.console import OperationsConsole
from services.sessions.operations.servicer import SERVICE_NAME as OPERATIONS_SERVICE_NAME
from services.sessions.operations.servicer import OperationsServicer
from services.sessions.ports import Change, SessionStore
from services.sessions.reconciler import Reconciler, unfinished_pages
from services.sessions.reconciler_redis import RedisReconcileBus
from services.sessions.reconciliation import deadlines_to_restore
from services.sessions.repository import SessionRepository
from services.sessions.saga_writes import OutboxSagaStarter
from services.sessions.scraped_figures import read_session_figures
from services.sessions.servicer import SERVICE_NAME, SessionsServicer
from services.sessions.stuck_checks import StuckCheckBooking
from services.sessions.watches import SessionWatches

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class SessionsProcess:
    server: RunningServer
    database: Database
    redis: Redis
    participant: RunningParticipant
    watcher: DeadLetterWatcher
    relay: OutboxRelay
    notices: ChangeNotices
    stuck_checks: StuckCheckBooking
    forget_gauges: Callable[[], None]
    changes: SessionChanges
    changes_redis: Redis
    reconciler: Reconciler | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def stop(self) -> None:
        await self.server.stop()
        self.relay.stop()
        self.notices.stop()
        self.stuck_checks.stop()
        if self.reconciler is not None:
            self.reconciler.stop()
        self.forget_gauges()
        self.watcher.stop()
        await self.participant.stop()
        await asyncio.gather(*self.tasks)
        await self.changes.close()
        await self.changes_redis.aclose()
        await self.redis.aclose()
        await self.database.close()


async def reschedule_open_sessions(repository: SessionStore, schedule: DeadlineScheduler) -> int:
    """Re-add the deadline of every session that can still expire: a crash between the DB write
    and the ZADD must not leave a session that never expires."""
    due: dict[str, int] = {}
    async for page in unfinished_pages(repository):
        due.update(deadlines_to_restore(page, scheduled=()))
    await schedule.schedule_many(due)
    return len(due)


async def start(config: SessionsConfig) -> SessionsProcess:
    database = await open_migrated_database(config.database_url, config.schema, "sessions")
    redis = await connect_redis(config.bus.redis)
    keys = config.bus.keys
    # The notices publish the sagas this process's commits lease to the relay; the relay marks them
    # sent and sweeps for the rows a crash or another replica left.
    relay = OutboxRelay(database, redis, keys, sweep_interval_s=config.outbox_sweep_seconds)
    stuck_checks = StuckCheckBooking(
        DeadlineSchedule(redis, keys, name=STUCK_CHECKS), config.stuck_saga_after
    )
    # The stuck checks a commit books go in its notices' pipeline too: no round trip of their own.
    notices = ChangeNotices(redis, keys, relay, beside=Beside(stuck_checks.runs, stuck_checks.booked))

    def committed(changes: Sequence[Change]) -> None:
        notices.committed(changes)
        stuck_checks.committed(changes)

    repository = SessionRepository(database, committed)
    schedule = DeadlineSchedule(redis, keys)
    arbiter = Arbiter(
        repository=repository,
        sagas=OutboxSagaStarter(utc_now, saga_plans, relay),
        deadlines=schedule,
        clock=utc_now,
        new_id=lambda: str(uuid.uuid4()),
        ttl=config.lifetime.ttl,
        open_per_customer=config.open_per_customer,
    )
    rescheduled = await reschedule_open_sessions(repository, schedule)
    log.info("reconciled %d session deadlines", rescheduled)

    async def saga_history(session_id: str) -> dict[str, list[HistoryRecord]]:
        return await read_session_history(redis, keys, session_id)

    # Bytes, not text (a notice is a serialized message), and no socket timeout: the subscription's
    # connection waits for notices as long as it takes.
    changes_redis = redis_client(config.bus.redis)
    await check_access(changes_redis, config.bus.redis)
    changes = SessionChanges(changes_redis, keys)
    changes.start()
    timeline = SessionTimeline(repository, saga_history)
    servicer = SessionsServicer(arbiter, timeline, SessionWatches(changes, timeline, config.watch_caps))
    operations = OperationsServicer(OperationsConsole(repository, RedisBusReads(redis, keys), utc_now))
    server = await start_server(
        [
            ServedService(
                SERVICE_NAME, lambda s: sessions_pb2_grpc.add_SessionsServiceServicer_to_server(servicer, s)
            ),
            ServedService(
                OPERATIONS_SERVICE_NAME,
                lambda s: operations_pb2_grpc.add_OperationsServiceServicer_to_server(operations, s),
            ),
        ],
        port=config.port,
        host=config.host,
        caller_check=CallerCheck(
            TokenVerifier(config.customer_token_key, config.trusted),
            ServerAccess((ACCESS, OPERATIONS_ACCESS)),
        ),
        tls=config.tls,
    )
    participant = RunningParticipant(redis, config.bus, "sessions", session_handlers(arbiter))
    participant.start()
    watcher = DeadLetterWatcher(redis, keys, arbiter, config.bus.consumer_name)
    forget_gauges = register_scraped_gauges(
        lambda: read_session_figures(repository, database), "the sessions database"
    )
    # Here, not in the expiry process: this process owns the database the reconciler trusts and the
    # outbox it starts sagas again through; the expiry process reaches the arbiter only over gRPC.
    reconcile_bus = RedisReconcileBus(redis, keys, schedule, RedisAttemptLog(redis, keys))
    reconciler = Reconciler(repository, reconcile_bus, config.reconciler, utc_now, saga_plans)
    process = SessionsProcess(
        server,
        database,
        redis,
        participant,
        watcher,
        relay,
        notices,
        stuck_checks,
        forget_gauges,
        changes,
        changes_redis,
        reconciler,
    )
    process.tasks = [
        asyncio.create_task(reconciler.run()),
        asyncio.create_task(relay.run()),
        asyncio.create_task(notices.run()),
        asyncio.create_task(watcher.run()),
    ]
    return process
