"""One reconciliation sweep puts back what Redis lost, and releases strays (SQLite, PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import cast

import pytest
from redis.asyncio import Redis

from bus.deadlines import DeadlineSchedule
from bus.keys import BusKeys
from bus.outbox import OutboxRelay
from bus.outbox import metadata as outbox_metadata
from kit.database import Database
from kit.db import open_database
from services.reservations.attempts_redis import RedisAttemptLog
from services.sagas import definitions as saga_plans
from services.sessions.arbiter import Arbiter
from services.sessions.domain import HotelStay, Money, PaymentOutcome, PaymentReport, State
from services.sessions.ports import Change
from services.sessions.reconciler import Reconciler, ReconcilerConfig, outbox_start, owed_slip
from services.sessions.reconciler_redis import RedisReconcileBus, reconcile_lease_key
from services.sessions.reconciliation import Repairs
from services.sessions.repository import SessionRepository, metadata
from services.sessions.saga_writes import OutboxSagaStarter

STAY = HotelStay("h1", "HTL-LIS-01", "Hotel", "LIS", "2031-01-01", "2031-01-03", 1, Money(12_000, "EUR"))
# Every session waiting for a saga is overdue at once: the test decides what the bus lost.
CONFIG = ReconcilerConfig(interval=timedelta(seconds=30), saga_after=timedelta(0))


def utc_now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
async def db(database: tuple[str, str | None]) -> AsyncIterator[Database]:
    url, schema = database
    opened = await open_database(url, schema, "sessions", metadata, outbox_metadata)
    yield opened
    await opened.close()


@pytest.fixture
async def keys(redis: Redis) -> AsyncIterator[BusKeys]:
    keys = BusKeys(f"reconcile{uuid.uuid4().hex[:10]}")
    yield keys
    found = [key async for key in redis.scan_iter(match=keys.pattern())]
    if found:
        await redis.delete(*found)


@pytest.fixture
def schedule(redis: Redis, keys: BusKeys) -> DeadlineSchedule:
    return DeadlineSchedule(redis, keys)


@pytest.fixture
def repository(db: Database) -> SessionRepository:
    return SessionRepository(db)


@pytest.fixture
def arbiter(repository: SessionRepository, schedule: DeadlineSchedule) -> Arbiter:
    return Arbiter(
        repository=repository,
        sagas=OutboxSagaStarter(utc_now, saga_plans),
        deadlines=schedule,
        clock=utc_now,
        new_id=lambda: str(uuid.uuid4()),
        ttl=timedelta(minutes=10),
    )


async def all_deadlines(redis: Redis, schedule: DeadlineSchedule) -> list[tuple[str, float]]:
    """(session, deadline) of every partition's waiting deadlines."""
    found: list[tuple[str, float]] = []
    for partition in schedule.keys.all_partitions():
        # A client that answers strings: (member, score) pairs.
        pairs = await redis.zrange(schedule.deadlines_key(partition), 0, -1, withscores=True)
        found.extend(cast(list[tuple[str, float]], pairs))
    return found


def reconciler(
    repository: SessionRepository, redis: Redis, keys: BusKeys, schedule: DeadlineSchedule
) -> Reconciler:
    bus = RedisReconcileBus(redis, keys, schedule, RedisAttemptLog(redis, keys))
    return Reconciler(repository, bus, CONFIG, utc_now, saga_plans)


async def test_one_sweep_restores_lost_deadlines_and_restarts_a_lost_confirmation(
    db: Database,
    redis: Redis,
    keys: BusKeys,
    schedule: DeadlineSchedule,
    repository: SessionRepository,
    arbiter: Arbiter,
) -> None:
    relay = OutboxRelay(db, redis, keys, sweep_interval_s=60)
    opened = (await arbiter.open("c1")).id
    pending = await checked_out(arbiter, "c2")
    confirming = await checked_out(arbiter, "c3")
    await arbiter.record_payment(confirming, paid(confirming))
    assert await relay.relay_once() == 1
    saga = f"confirm-{confirming}"
    deadlines = await all_deadlines(redis, schedule)
    assert {member for member, _ in deadlines} == {opened, pending, confirming}

    # Redis loses the schedule and everything the bus kept of the confirmation.
    await redis.delete(
        *(schedule.deadlines_key(partition) for partition in keys.all_partitions()),
        keys.saga_steps(keys.partition_of(confirming), saga),
        keys.saga_history(keys.partition_of(confirming), saga),
        keys.session_sagas(confirming),
        keys.stream(keys.partition_of(confirming), "hotel"),
    )

    assert await reconciler(repository, redis, keys, schedule).sweep() == Repairs(deadlines=2, sagas=1)

    restored = await all_deadlines(redis, schedule)
    assert sorted(restored) == sorted(pair for pair in deadlines if pair[0] != confirming)
    # The start goes through the outbox: the relay publishes it as the arbiter's first start was.
    assert await relay.relay_once() == 1
    partition = keys.partition_of(confirming)
    entries = await redis.xrange(keys.stream(partition, "hotel"))
    assert [(fields["saga_id"], fields["step"]) for _, fields in entries] == [(saga, "hotel.confirm")]
    assert await redis.exists(keys.saga_steps(partition, saga), keys.saga_history(partition, saga)) == 2
    events = await repository.events(confirming)
    assert (events[-1].step, events[-1].outcome, events[-1].saga_id) == ("reconcile", "SAGA_RESTARTED", saga)

    # Another replica finds the lease taken; once it runs out, nothing is left to repair.
    other = reconciler(repository, redis, keys, schedule)
    assert await other.sweep() is None
    await redis.delete(reconcile_lease_key(keys.namespace))
    assert await other.sweep() == Repairs()


async def test_a_saga_the_bus_still_remembers_is_left_alone_and_a_repeated_start_is_refused(
    db: Database,
    redis: Redis,
    keys: BusKeys,
    schedule: DeadlineSchedule,
    repository: SessionRepository,
    arbiter: Arbiter,
) -> None:
    relay = OutboxRelay(db, redis, keys, sweep_interval_s=60)
    confirming = await checked_out(arbiter, "c1")
    await arbiter.record_payment(confirming, paid(confirming))
    assert await relay.relay_once() == 1
    saga = f"confirm-{confirming}"
    # Only the history is lost: the start marker survives, so the bus still knows the saga.
    await redis.delete(keys.saga_history(keys.partition_of(confirming), saga))

    assert await reconciler(repository, redis, keys, schedule).sweep() == Repairs()

    # Were it started again anyway, the surviving start marker turns the publish into a no-op.
    session = await repository.get(confirming)
    assert session is not None
    slip = owed_slip(saga_plans, session, utc_now())
    assert slip is not None and slip.saga_id == saga
    await db.transaction(outbox_start(slip, utc_now()))
    assert await relay.relay_once() == 1
    assert len(await redis.xrange(keys.stream(keys.partition_of(confirming), "hotel"))) == 1


async def checked_out(arbiter: Arbiter, customer: str) -> str:
    session = await arbiter.open(customer)
    await arbiter.attach(session.id, customer, STAY)
    await arbiter.begin_checkout(session.id, customer)
    return session.id


def paid(session_id: str) -> PaymentReport:
    return PaymentReport(f"pay-{session_id}", PaymentOutcome.CAPTURED, STAY.price, session_id)


async def test_a_reserve_attempt_left_for_a_settled_session_gets_a_release_of_its_strays(
    db: Database,
    redis: Redis,
    keys: BusKeys,
    schedule: DeadlineSchedule,
    repository: SessionRepository,
    arbiter: Arbiter,
) -> None:
    settled = (await arbiter.open("c1")).id
    await arbiter.customer_cancel(settled, "c1")
    moving = (await arbiter.open("c2")).id
    started = datetime.now(UTC) - CONFIG.attempt_grace - timedelta(seconds=1)
    attempts = RedisAttemptLog(redis, keys, clock=lambda: started.timestamp())
    left = [await attempts.record(settled, "flights"), await attempts.record(moving, "hotel")]
    young = await RedisAttemptLog(redis, keys).record(settled, "hotel")
    # The cancellation saga is the session's own; settle the session as that saga would.
    cancelling = await repository.get(settled)
    assert cancelling is not None
    await repository.transition(
        settled,
        lambda found: (
            Change(
                replace(cancelling, state=State.CANCELLED, version=cancelling.version + 1), cancelling.version
            ),
            None,
        ),
    )

    repairs = await reconciler(repository, redis, keys, schedule).sweep()

    assert repairs is not None and repairs.strays == 1
    entries = await redis.xrange(keys.stream(keys.partition_of(settled), "flights"))
    [(saga_id, step)] = [(fields["saga_id"], fields["step"]) for _, fields in entries]
    assert saga_id.startswith("strays-") and step == "flights.release"
    # The session still open may attach its hold yet; the young attempt may not have made it yet.
    remaining = await attempts.started_before(int(datetime.now(UTC).timestamp() * 1000) + 1)
    assert {a.field for a in remaining} == {left[1].field, young.field}
