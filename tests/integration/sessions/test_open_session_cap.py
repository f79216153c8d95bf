"""A customer's open sessions are capped, atomically under concurrent opens, on SQLite and PostgreSQL."""

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
from kit.errors import ResourceExhausted
from kit.statements import Statement
from services.sagas import definitions as saga_plans
from services.sessions.arbiter import Arbiter
from services.sessions.domain import Reason
from services.sessions.repository import SessionRepository, metadata, sessions
from services.sessions.saga_writes import OutboxSagaStarter
from tests.support.databases import drop_schema, new_schema

TTL = timedelta(minutes=10)


class Deadlines:
    async def schedule(self, session_id: str, deadline_ms: int) -> None:
        return None


STORED_FOR = Statement(
    select(func.count()).select_from(sessions).where(sessions.c.customer_id == bindparam("customer"))
)


def arbiter_on(db: Database, limit: int) -> Arbiter:
    return Arbiter(
        repository=SessionRepository(db),
        sagas=OutboxSagaStarter(lambda: datetime.now(UTC), saga_plans),
        deadlines=Deadlines(),
        clock=lambda: datetime.now(UTC),
        new_id=lambda: str(uuid.uuid4()),
        ttl=TTL,
        open_per_customer=limit,
    )


@pytest.fixture
async def db(database: tuple[str, str | None]) -> AsyncIterator[Database]:
    url, schema = database
    opened = await open_database(url, schema, "sessions", metadata, outbox_metadata)
    yield opened
    await opened.close()


async def stored_for(db: Database, customer: str) -> int:
    return int(await db.read(lambda conn: conn.scalar(STORED_FOR, {"customer": customer})))


async def test_the_session_over_the_cap_is_refused_with_a_retry_time_and_not_stored(
    db: Database,
) -> None:
    arbiter = arbiter_on(db, limit=3)
    for _ in range(3):
        await arbiter.open("ana")
    with pytest.raises(ResourceExhausted) as refused:
        await arbiter.open("ana")
    assert "at most 3 open sessions" in refused.value.message
    assert refused.value.subject == "sessions:open"
    # The earliest open session expires in about the TTL: that is when to come back.
    assert TTL.total_seconds() - 60 <= refused.value.retry_after_seconds <= TTL.total_seconds()
    assert await stored_for(db, "ana") == 3
    await arbiter.open("bo")  # another customer is not affected


async def test_a_cancelled_session_makes_room(db: Database) -> None:
    arbiter = arbiter_on(db, limit=2)
    first = await arbiter.open("cy")
    await arbiter.open("cy")
    with pytest.raises(ResourceExhausted):
        await arbiter.open("cy")
    await arbiter.customer_cancel(first.id, "cy")
    # CANCELLING still holds what the cancellation saga is releasing.
    with pytest.raises(ResourceExhausted):
        await arbiter.open("cy")
    await arbiter.finish_cancellation(first.id, Reason.HOTEL_REJECTED)
    await arbiter.open("cy")
    assert await stored_for(db, "cy") == 3


async def test_concurrent_opens_never_exceed_the_cap(db: Database) -> None:
    arbiter = arbiter_on(db, limit=3)
    results = await asyncio.gather(*(arbiter.open("di") for _ in range(12)), return_exceptions=True)
    opened = [r for r in results if not isinstance(r, BaseException)]
    assert len(opened) == 3
    assert all(isinstance(r, ResourceExhausted) for r in results if isinstance(r, BaseException))
    assert await stored_for(db, "di") == 3


async def test_replicas_on_postgresql_never_exceed_the_cap_together(postgres_url: str) -> None:
    schema = new_schema()
    replicas = [
        await open_database(postgres_url, schema, "sessions", metadata, outbox_metadata) for _ in range(2)
    ]
    try:
        arbiters = [arbiter_on(db, limit=4) for db in replicas]
        results = await asyncio.gather(
            *(arbiters[n % 2].open("ed") for n in range(16)), return_exceptions=True
        )
        assert len([r for r in results if not isinstance(r, BaseException)]) == 4
        assert all(isinstance(r, ResourceExhausted) for r in results if isinstance(r, BaseException))
        assert await stored_for(replicas[0], "ed") == 4
    finally:
        for db in replicas:
            await db.close()
        drop_schema(postgres_url, schema)
