"""The outbox relay sleeps between commits: a commit's wake-up publishes it, not the safety sweep; its
marks ride other transactions, and it sweeps when a lease it saw runs out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from bus_harness import confirm_slip
from prometheus_client import REGISTRY
from redis.asyncio import Redis
from sqlalchemy import select

from bus.keys import BusKeys
from bus.outbox import OutboxRelay, add, metadata, outbox_table
from kit.database import Database
from kit.statements import Statement
from tests.support.databases import opened_database
from tests.support.polling import eventually

# Far longer than any deadline below: only a wake-up can publish within the test.
SWEEP_SECONDS = 60.0
UNSENT = Statement(select(outbox_table.c.id).where(outbox_table.c.sent_at.is_(None)))


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


async def unsent(db: Database) -> int:
    return len(await db.read(lambda conn: conn.rows(UNSENT)))


def db_transactions(db: Database) -> float:
    return REGISTRY.get_sample_value("travel_db_transactions_total", {"database": db.name}) or 0.0


async def test_a_relay_pass_marks_rows_sent_in_the_next_transaction_of_its_process(
    db: Database, client7: Redis, keys: BusKeys
) -> None:
    relay = OutboxRelay(db, client7, keys, sweep_interval_s=SWEEP_SECONDS, mark_within_s=SWEEP_SECONDS)
    await db.transaction(lambda conn: add(conn, confirm_slip("ridden")))
    before = db_transactions(db)
    assert await relay.relay_once(mark_now=False) == 1
    await db.transaction(lambda conn: None)  # any write of the process
    # The claim and the write that carried the mark: no transaction of the mark's own.
    assert db_transactions(db) - before == 2
    assert db.riders_waiting == 0
    assert await unsent(db) == 0
    assert await published(client7, keys) == ["ridden"]


async def test_a_mark_no_transaction_carries_gets_one_of_its_own(
    db: Database, client7: Redis, keys: BusKeys
) -> None:
    relay = OutboxRelay(db, client7, keys, sweep_interval_s=SWEEP_SECONDS, mark_within_s=0.05)
    await db.transaction(lambda conn: add(conn, confirm_slip("alone")))
    running = asyncio.create_task(relay.run())
    try:
        await eventually(lambda: _has(client7, keys, "alone"), what="the first pass")
        await eventually(lambda: _unsent_is(db, 0), what="the mark in a transaction of its own")
    finally:
        relay.stop()
        await running


async def test_a_sleeping_relay_sweeps_when_a_dead_relays_lease_runs_out(
    db: Database, client7: Redis, keys: BusKeys
) -> None:
    dead = OutboxRelay(db, client7, keys, lease_s=1.0)
    # Committed and leased, never published: as when the process dies right after its commit.
    await db.transaction(lambda conn: dead.lease_in(conn, [confirm_slip("orphan")]))
    relay = OutboxRelay(db, client7, keys, sweep_interval_s=SWEEP_SECONDS)
    running = asyncio.create_task(relay.run())
    try:
        # The first sweep sees the lease; the next comes when it runs out, not a sweep interval later.
        await eventually(lambda: _has(client7, keys, "orphan"), what="the sweep at the lease's end")
    finally:
        relay.stop()
        await running


async def test_stop_marks_what_the_relay_published(db: Database, client7: Redis, keys: BusKeys) -> None:
    relay = OutboxRelay(db, client7, keys, sweep_interval_s=SWEEP_SECONDS, mark_within_s=SWEEP_SECONDS)
    await db.transaction(lambda conn: add(conn, confirm_slip("last")))
    running = asyncio.create_task(relay.run())
    await eventually(lambda: _has(client7, keys, "last"), what="the first pass")
    relay.stop()
    await running
    assert await unsent(db) == 0


async def _unsent_is(db: Database, count: int) -> bool:
    return await unsent(db) == count
