"""A committed transition wakes the outbox relay and sends its watchers the change (SQLite, PostgreSQL)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis
from sqlalchemy import select
from travel.sessions.v1 import sessions_pb2

from bus.deadlines import STUCK_CHECKS, DeadlineSchedule
from bus.keys import BusKeys
from bus.outbox import OutboxRelay, outbox_table
from bus.outbox import metadata as outbox_metadata
from kit.database import Database
from kit.statements import Statement
from services.sagas import definitions as saga_plans
from services.sessions.arbiter import Arbiter
from services.sessions.change_notices import Beside, ChangeNotices
from services.sessions.domain import HotelStay, Money, PaymentOutcome, PaymentReport
from services.sessions.ports import Change
from services.sessions.repository import SessionRepository, metadata
from services.sessions.saga_writes import OutboxSagaStarter
from services.sessions.stuck_checks import StuckCheckBooking
from tests.support.databases import opened_database
from tests.support.polling import eventually
from tests.support.pubsub import bytes_client_like, next_notice

# Far longer than any deadline below: only a commit's wake-up can publish within the test.
SWEEP_SECONDS = 60.0
DEADLINE_SECONDS = 15.0
UNSENT = Statement(select(outbox_table.c.id).where(outbox_table.c.sent_at.is_(None)))
STAY = HotelStay("h1", "HTL-LIS-01", "Hotel", "LIS", "2031-01-01", "2031-01-03", 1, Money(12_000, "EUR"))


class Deadlines:
    async def schedule(self, session_id: str, deadline_ms: int) -> None:
        pass


@pytest.fixture
async def db(database: tuple[str, str | None]) -> AsyncIterator[Database]:
    url, schema = database
    async with opened_database(url, schema, "sessions", metadata, outbox_metadata) as opened:
        yield opened


@pytest.fixture
def keys() -> BusKeys:
    return BusKeys(f"wake{uuid.uuid4().hex[:10]}", partitions=1)  # one stream to watch


async def test_a_paid_session_starts_its_saga_at_once_and_tells_its_watchers(
    db: Database, redis: Redis, keys: BusKeys
) -> None:
    relay = OutboxRelay(db, redis, keys, sweep_interval_s=SWEEP_SECONDS)
    # As the sessions process does: the rows leased in a commit go to the relay after its notice.
    notices = ChangeNotices(redis, keys, relay)
    arbiter = Arbiter(
        repository=SessionRepository(db, notices.committed),
        sagas=OutboxSagaStarter(lambda: datetime.now(UTC), saga_plans, relay),
        deadlines=Deadlines(),
        clock=lambda: datetime.now(UTC),
        new_id=lambda: str(uuid.uuid4()),
        ttl=timedelta(minutes=10),
    )
    first, second = await checked_out(arbiter, "c1"), await checked_out(arbiter, "c2")
    await arbiter.record_payment(first, paid(first))
    tasks = [asyncio.create_task(relay.run()), asyncio.create_task(notices.run())]
    listener = bytes_client_like(redis)
    pubsub = listener.pubsub()
    await pubsub.subscribe(keys.session_changes(second))
    hotel_stream = keys.stream(0, "hotel")
    try:
        # The relay's first pass publishes the first saga; then it sleeps for the whole sweep.
        await eventually(
            lambda: _sessions_in(redis, hotel_stream, [first]),
            timeout=DEADLINE_SECONDS,
            what="the relay's first pass",
        )
        await arbiter.record_payment(second, paid(second))

        # The notice carries the change: the session as it now is, and the entries the commit added.
        notice = await next_notice(pubsub, timeout=DEADLINE_SECONDS, what="a notice on the session's channel")
        if notice.session.state != sessions_pb2.STATE_CONFIRMING:  # the checkout's, sent as the relay began
            notice = await next_notice(pubsub, timeout=DEADLINE_SECONDS, what="the payment's notice")
        assert notice.session.id == second
        assert notice.session.state == sessions_pb2.STATE_CONFIRMING
        assert [(e.kind, e.step, e.outcome) for e in notice.events] == [("session", "payment", "SUCCEEDED")]
        # One count for both publishers: the attach and checkout's notice (1), the payment's (2),
        # then the saga start the relay publishes (3).
        assert notice.seq == 2
        started = await next_notice(pubsub, timeout=DEADLINE_SECONDS, what="the saga start's notice")
        assert started.seq == 3
        assert [(e.kind, e.step, e.outcome) for e in started.events] == [
            ("confirm", "hotel.confirm", "STARTED")
        ]
        await eventually(
            lambda: _sessions_in(redis, hotel_stream, [first, second]),
            timeout=DEADLINE_SECONDS,
            what="the woken pass",
        )
    finally:
        relay.stop()
        notices.stop()
        await asyncio.gather(*tasks)
        await pubsub.aclose()
        await listener.aclose()
        found = [key async for key in redis.scan_iter(match=keys.pattern())]
        if found:
            await redis.delete(*found)


async def checked_out(arbiter: Arbiter, customer: str) -> str:
    session = await arbiter.open(customer)
    await arbiter.attach(session.id, customer, STAY)
    await arbiter.begin_checkout(session.id, customer)
    return session.id


def paid(session_id: str) -> PaymentReport:
    return PaymentReport(f"pay-{session_id}", PaymentOutcome.CAPTURED, STAY.price, session_id)


async def _sessions_in(redis: Redis, stream: str, expected: list[str]) -> bool:
    return [fields["session_id"] for _, fields in await redis.xrange(stream)] == expected


async def test_the_notice_publishes_the_saga_its_commit_leased_and_a_later_write_marks_it_sent(
    db: Database, redis: Redis, keys: BusKeys
) -> None:
    # The relay does not run: only the notice's pipeline can publish the saga.
    relay = OutboxRelay(db, redis, keys, sweep_interval_s=SWEEP_SECONDS, mark_within_s=SWEEP_SECONDS)
    checks = DeadlineSchedule(redis, keys, name=STUCK_CHECKS)
    booking = StuckCheckBooking(checks, timedelta(minutes=2))
    notices = ChangeNotices(redis, keys, relay, beside=Beside(booking.runs, booking.booked))

    def committed(changes: Sequence[Change]) -> None:
        notices.committed(changes)
        booking.committed(changes)

    arbiter = Arbiter(
        repository=SessionRepository(db, committed),
        sagas=OutboxSagaStarter(lambda: datetime.now(UTC), saga_plans, relay),
        deadlines=Deadlines(),
        clock=lambda: datetime.now(UTC),
        new_id=lambda: str(uuid.uuid4()),
        ttl=timedelta(minutes=10),
    )
    session_id = await checked_out(arbiter, "c1")
    await arbiter.record_payment(session_id, paid(session_id))
    try:
        assert await notices.publish_pending() == 1
        assert await _sessions_in(redis, keys.stream(0, "hotel"), [session_id])
        assert await redis.get(keys.session_notices(session_id)) == "2"  # the payment's, then the saga's
        assert await checks.scheduled([session_id]) == {session_id}  # its stuck check, booked beside
        assert db.riders_waiting == 1  # the mark, for the next write
        await arbiter.get(session_id)  # a read does not carry it
        assert db.riders_waiting == 1
        await db.carry_riders()
        assert db.riders_waiting == 0
        assert await db.read(lambda conn: conn.rows(UNSENT)) == []
    finally:
        found = [key async for key in redis.scan_iter(match=keys.pattern())]
        if found:
            await redis.delete(*found)
