"""Outbox on SQLite and PostgreSQL: slips commit with the service's data; the relay publishes once."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from bus_harness import confirm_slip
from redis.asyncio import Redis
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from bus.keys import BusKeys
from bus.outbox import OutboxRelay, add, create_outbox_table, outbox_table

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture(params=["sqlite", "postgresql"])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    if request.param == "sqlite":
        engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'outbox.db'}")
        await create_outbox_table(engine)
        yield engine
        await engine.dispose()
        return
    schema = f"bus_test_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(POSTGRES_URL)
    try:
        async with admin.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as error:  # no PostgreSQL here: say so instead of failing
        await admin.dispose()
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 unavailable: {error}")
    engine = create_async_engine(POSTGRES_URL).execution_options(schema_translate_map={None: schema})
    await create_outbox_table(engine)
    yield engine
    await engine.dispose()
    async with admin.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    await admin.dispose()


async def unsent(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        rows = await conn.execute(select(outbox_table.c.id).where(outbox_table.c.sent_at.is_(None)))
        return len(rows.all())


async def test_rolled_back_transaction_publishes_nothing(
    engine: AsyncEngine, client7: Redis, keys: BusKeys
) -> None:
    async with AsyncSession(engine) as session:
        await add(session, confirm_slip("g1"))
        await session.rollback()
    assert await OutboxRelay(engine, client7, keys).relay_once() == 0
    assert await client7.exists(keys.stream("hotel")) == 0


async def test_committed_slip_is_published_once(engine: AsyncEngine, client7: Redis, keys: BusKeys) -> None:
    async with AsyncSession(engine) as session, session.begin():
        await add(session, confirm_slip("g1"))
        await add(session, confirm_slip("g2"))
    relay = OutboxRelay(engine, client7, keys)
    assert await relay.relay_once() == 2
    assert await unsent(engine) == 0
    assert await relay.relay_once() == 0
    entries = await client7.xrange(keys.stream("hotel"))
    assert [fields["saga_id"] for _, fields in entries] == ["g1", "g2"]
    assert entries[0][1]["step"] == "hotel.confirm"


async def test_relay_crash_after_xadd_does_not_duplicate(
    engine: AsyncEngine, client7: Redis, keys: BusKeys
) -> None:
    async with AsyncSession(engine) as session, session.begin():
        await add(session, confirm_slip("g1"))
    relay = OutboxRelay(engine, client7, keys)
    assert await relay.relay_once() == 1
    # Pretend the relay died after XADD but before its UPDATE committed.
    async with engine.begin() as conn:
        await conn.execute(update(outbox_table).values(sent_at=None))
    assert await relay.relay_once() == 1
    assert await unsent(engine) == 0
    assert await client7.xlen(keys.stream("hotel")) == 1
