"""The outbox relay sleeps between commits: a commit's wake-up publishes it, not the safety sweep."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from bus_harness import confirm_slip
from redis.asyncio import Redis

from bus.keys import BusKeys
from bus.outbox import OutboxRelay, add, metadata
from kit.database import Database
from tests.support.databases import opened_database
from tests.support.polling import eventually

# Far longer than any deadline below: only a wake-up can publish within the test.
SWEEP_SECONDS = 60.0


@pytest.fixture
async def db(database: tuple[str, str | None]) -> AsyncIterator[Database]:
    url, schema = database
    async with opened_database(url, schema, "outbox", metadata) as opened:
        yield opened


async def published(client: Redis, keys: BusKeys) -> list[str]:
    return [fields["saga_id"] for _, fields in await client.xrange(keys.stream(0, "hotel"))]


async def test_a_commit_wakes_the_sleeping_relay(db: Database, client7: Redis, keys: BusKeys) -> None:
    relay = OutboxRelay(db, client7, keys, sweep_interval_s=SWEEP_SECONDS)
    await db.transaction(lambda conn: add(conn, confirm_slip("before-start")))
    running = asyncio.create_task(relay.run())
    try:
        # The first pass runs at start; after it the relay sleeps for the whole sweep interval.
        await eventually(lambda: _has(client7, keys, "before-start"), what="the first pass")
        await db.transaction(lambda conn: add(conn, confirm_slip("after-sleep")))
        relay.wake()
        await eventually(lambda: _has(client7, keys, "after-sleep"), what="the woken pass")
        assert await published(client7, keys) == ["before-start", "after-sleep"]
    finally:
        relay.stop()
        await running


async def test_stop_ends_a_sleeping_relay(db: Database, client7: Redis, keys: BusKeys) -> None:
    relay = OutboxRelay(db, client7, keys, sweep_interval_s=SWEEP_SECONDS)
    await db.transaction(lambda conn: add(conn, confirm_slip("only")))
    running = asyncio.create_task(relay.run())
    await eventually(lambda: _has(client7, keys, "only"), what="the first pass")
    relay.stop()
    await asyncio.wait_for(running, timeout=SWEEP_SECONDS / 2)


async def _has(client: Redis, keys: BusKeys, saga_id: str) -> bool:
    return saga_id in await published(client, keys)
