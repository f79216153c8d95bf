"""CreateSession request ids on SQLite and PostgreSQL: one session per request id, even for twins."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import bindparam, func, select

from bus.outbox import metadata as outbox_metadata
from kit.database import Database
from kit.db import open_database
from kit.errors import InvalidArgument
from kit.request_ids import KEPT_FOR, RequestIds, RequestKey, sweeps_along
from kit.statements import Statement
from services.sagas import definitions as saga_plans
from services.sessions.arbiter import Arbiter
from services.sessions.repository import SessionRepository, metadata, request_ids, sessions
from services.sessions.saga_writes import OutboxSagaStarter

STORED_FOR = Statement(
    select(func.count()).select_from(sessions).where(sessions.c.customer_id == bindparam("customer"))
)
RECORDS_OF = Statement(
    select(func.count()).select_from(request_ids).where(request_ids.c.scope == bindparam("scope"))
)


class Deadlines:
    async def schedule(self, session_id: str, deadline_ms: int) -> None:
        return None


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def db(database: tuple[str, str | None]) -> AsyncIterator[Database]:
    url, schema = database
    opened = await open_database(url, schema, "sessions", metadata, outbox_metadata)
    yield opened
    await opened.close()


def arbiter_on(db: Database, clock: Clock, limit: int = 5) -> Arbiter:
    return Arbiter(
        repository=SessionRepository(db),
        sagas=OutboxSagaStarter(clock, saga_plans),
        deadlines=Deadlines(),
        clock=clock,
        new_id=lambda: str(uuid.uuid4()),
        ttl=timedelta(minutes=10),
        open_per_customer=limit,
    )


async def count(db: Database, statement: Statement, **params: str) -> int:
    return int(await db.read(lambda conn: conn.scalar(statement, params)))


def key(customer: str, request_id: str, body: str = "create") -> RequestKey:
    return RequestKey(customer, request_id, body)


async def test_a_retried_open_answers_the_first_session_and_stores_one(db: Database, unique_id: str) -> None:
    clock = Clock()
    arbiter = arbiter_on(db, clock, limit=1)
    request_id = str(uuid.uuid4())
    first = await arbiter.open(unique_id, key(unique_id, request_id))
    clock.now += timedelta(seconds=3)
    again = await arbiter.open(unique_id, key(unique_id, request_id))
    assert again == first
    assert await count(db, STORED_FOR, customer=unique_id) == 1
    assert await count(db, RECORDS_OF, scope=unique_id) == 1


async def test_concurrent_twins_open_one_session(db: Database, unique_id: str) -> None:
    arbiter = arbiter_on(db, Clock(), limit=50)
    request_id = str(uuid.uuid4())
    answers = await asyncio.gather(*(arbiter.open(unique_id, key(unique_id, request_id)) for _ in range(8)))
    assert {answer.id for answer in answers} == {answers[0].id}
    assert await count(db, STORED_FOR, customer=unique_id) == 1


async def test_the_same_request_id_of_two_customers_opens_two_sessions(db: Database, unique_id: str) -> None:
    arbiter = arbiter_on(db, Clock())
    request_id = str(uuid.uuid4())
    ana = await arbiter.open(f"{unique_id}-ana", key(f"{unique_id}-ana", request_id))
    bo = await arbiter.open(f"{unique_id}-bo", key(f"{unique_id}-bo", request_id))
    assert ana.id != bo.id


async def test_a_request_id_reused_for_another_request_is_refused_and_opens_nothing(
    db: Database, unique_id: str
) -> None:
    arbiter = arbiter_on(db, Clock())
    request_id = str(uuid.uuid4())
    await arbiter.open(unique_id, key(unique_id, request_id, "create"))
    with pytest.raises(InvalidArgument):
        await arbiter.open(unique_id, key(unique_id, request_id, "another body"))
    assert await count(db, STORED_FOR, customer=unique_id) == 1


async def test_an_expired_record_is_taken_over_and_old_records_are_swept(
    db: Database, unique_id: str
) -> None:
    clock = Clock()
    arbiter = arbiter_on(db, clock, limit=50)
    # One request id in SWEEP_ONE_IN also sweeps the expired records as it is recorded: not this one,
    # so the other expired record is still there to count.
    request_id = next(r for r in (str(uuid.uuid4()) for _ in range(1000)) if not sweeps_along(r))
    first = await arbiter.open(unique_id, key(unique_id, request_id))
    await arbiter.open(unique_id, key(unique_id, str(uuid.uuid4())))
    clock.now += KEPT_FOR
    again = await arbiter.open(unique_id, key(unique_id, request_id))
    assert again.id != first.id
    assert await count(db, RECORDS_OF, scope=unique_id) == 2
    later = clock.now + timedelta(hours=1)
    swept = await db.transaction(lambda conn: RequestIds(request_ids).sweep(conn, later))
    assert swept == 1  # the other expired record; the taken-over one is fresh
    assert await count(db, RECORDS_OF, scope=unique_id) == 1
