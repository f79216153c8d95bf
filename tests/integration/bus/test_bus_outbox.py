"""Outbox on SQLite and PostgreSQL: slips commit with the service's data; the relay publishes them
outside any transaction, keeps what it could not publish, and replicas share one outbox."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence

import psycopg
import pytest
from bus_harness import confirm_slip
from prometheus_client import REGISTRY
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import bindparam, func, select, update

from bus import slip_json
from bus.entries import SLIP_FIELD, decode_entry
from bus.keys import BusKeys
from bus.outbox import (
    OutboxRelay,
    PendingSlip,
    RedisSlipPublisher,
    SlipPublisher,
    add,
    lease_table,
    metadata,
    outbox_table,
)
from kit.database import Connection, Database
from kit.statements import Statement
from tests.support.databases import opened_database, sqlite_path
from tests.support.polling import eventually
from tests.support.ports import free_port

UNSENT = Statement(select(outbox_table.c.id).where(outbox_table.c.sent_at.is_(None)))
LEASES = Statement(select(func.count()).select_from(lease_table))
FORGET_SENT = Statement(update(outbox_table).values(sent_at=None))
AS_JSON = Statement(update(outbox_table).values(slip=bindparam("json")))


@pytest.fixture
def app_name() -> str:
    """The relay's PostgreSQL connections carry it, so a test can find their transactions."""
    return f"relay_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def url(database: tuple[str, str | None], app_name: str) -> str:
    base, schema = database
    return base if schema is None else f"{base}?application_name={app_name}"


@pytest.fixture
async def db(url: str, database: tuple[str, str | None]) -> AsyncIterator[Database]:
    async with opened_database(url, database[1], "outbox", metadata) as opened:
        yield opened


async def unsent(db: Database) -> int:
    return len(await db.read(lambda conn: conn.rows(UNSENT)))


async def leases(db: Database) -> int:
    return int(await db.read(lambda conn: conn.scalar(LEASES)) or 0)


def db_transactions(db: Database) -> float:
    return REGISTRY.get_sample_value("travel_db_transactions_total", {"database": db.name}) or 0.0


async def saga_ids(client: Redis, keys: BusKeys) -> list[str]:
    return [fields["saga_id"] for _, fields in await client.xrange(keys.stream(0, "hotel"))]


async def add_sagas(db: Database, names: Sequence[str]) -> None:
    def add_all(conn: Connection) -> None:
        for name in names:
            add(conn, confirm_slip(name))

    await db.transaction(add_all)


class Refused(Exception):
    pass


class Recording:
    """Publishes through the real one and remembers which rows it was given."""

    def __init__(self, inner: SlipPublisher) -> None:
        self.inner = inner
        self.published: list[int] = []

    async def publish(self, slips: Sequence[PendingSlip]) -> None:
        await self.inner.publish(slips)
        self.published.extend(pending.id for pending in slips)


class CheckingRowsAreFree:
    """From inside the publish, another connection locks and updates the rows without waiting, and
    sees their leases committed; on PostgreSQL no connection of the relay is in a transaction."""

    def __init__(self, inner: SlipPublisher, url: str, schema: str | None, app_name: str) -> None:
        self.inner = inner
        self.url = url
        self.schema = schema
        self.app_name = app_name
        self.checked: list[int] = []

    async def publish(self, slips: Sequence[PendingSlip]) -> None:
        ids = [pending.id for pending in slips]
        seen = await (self._postgresql(ids) if self.schema else self._sqlite(ids))
        assert seen == len(ids), f"{seen} of {len(ids)} leases visible to another connection"
        self.checked.extend(ids)
        await self.inner.publish(slips)

    def _sqlite_check(self, ids: list[int]) -> int:
        # timeout=0: a write transaction still open anywhere fails BEGIN IMMEDIATE at once.
        conn = sqlite3.connect(sqlite_path(self.url), timeout=0, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            marks = ", ".join("?" for _ in ids)
            changed = conn.execute(
                f"UPDATE bus_outbox SET created_at = created_at WHERE id IN ({marks})", ids
            )
            assert changed.rowcount == len(ids)
            row = conn.execute(f"SELECT count(*) FROM bus_outbox_leases WHERE outbox_id IN ({marks})", ids)
            seen = int(row.fetchone()[0])
            conn.execute("ROLLBACK")
            return seen
        finally:
            conn.close()

    async def _sqlite(self, ids: list[int]) -> int:
        return self._sqlite_check(ids)

    async def _postgresql(self, ids: list[int]) -> int:
        base = self.url.split("?", 1)[0]
        async with await psycopg.AsyncConnection.connect(
            base, options=f"-csearch_path={self.schema}"
        ) as conn:
            busy = await conn.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE application_name = %s AND xact_start IS NOT NULL",
                [self.app_name],
            )
            assert (await busy.fetchone()) == (0,), "a relay connection is inside a transaction"
            # NOWAIT: a lock still held by the relay fails at once instead of waiting.
            await conn.execute("SELECT id FROM bus_outbox WHERE id = ANY(%s) FOR UPDATE NOWAIT", [ids])
            changed = await conn.execute(
                "UPDATE bus_outbox SET created_at = created_at WHERE id = ANY(%s)", [ids]
            )
            assert changed.rowcount == len(ids)
            found = await conn.execute(
                "SELECT count(*) FROM bus_outbox_leases WHERE outbox_id = ANY(%s)", [ids]
            )
            row = await found.fetchone()
            await conn.rollback()
            return int(row[0]) if row else 0


class FailingFirst:
    """The first publish goes to a Redis nobody listens on (a real connection error); later ones work."""

    def __init__(self, dead: SlipPublisher, live: SlipPublisher) -> None:
        self.dead = dead
        self.live = live
        self.attempts = 0

    async def publish(self, slips: Sequence[PendingSlip]) -> None:
        self.attempts += 1
        await (self.dead if self.attempts == 1 else self.live).publish(slips)


@pytest.fixture
async def dead_redis() -> AsyncIterator[Redis]:
    # No retries: the refused connection fails the publish at once.
    client = Redis(host="127.0.0.1", port=free_port(), retry=Retry(NoBackoff(), 0), decode_responses=True)
    yield client
    await client.aclose()


async def test_rolled_back_transaction_publishes_nothing(db: Database, client7: Redis, keys: BusKeys) -> None:
    def add_then_fail(conn: Connection) -> None:
        add(conn, confirm_slip("g1"))
        raise Refused

    with pytest.raises(Refused):
        await db.transaction(add_then_fail)
    assert await OutboxRelay(db, client7, keys).relay_once() == 0
    assert await client7.exists(keys.stream(0, "hotel")) == 0


async def test_committed_slip_is_published_once(db: Database, client7: Redis, keys: BusKeys) -> None:
    await add_sagas(db, ["g1", "g2"])
    relay = OutboxRelay(db, client7, keys)
    assert await relay.relay_once() == 2
    assert await unsent(db) == 0
    assert await leases(db) == 0
    assert await relay.relay_once() == 0
    entries = await client7.xrange(keys.stream(0, "hotel"))
    assert [fields["saga_id"] for _, fields in entries] == ["g1", "g2"]
    assert entries[0][1]["step"] == "hotel.confirm"


async def test_rows_written_as_protobuf_json_before_the_binary_slip_are_still_published(
    db: Database, client7: Redis, keys: BusKeys
) -> None:
    slip = confirm_slip("g-json")
    await add_sagas(db, ["g-json"])
    # The row as a relay of the previous release wrote it: the slip as protobuf JSON.
    await db.transaction(lambda conn: conn.execute(AS_JSON, {"json": slip_json.dumps(slip)}))
    assert await OutboxRelay(db, client7, keys).relay_once() == 1
    [(entry_id, fields)] = await client7.xrange(keys.stream(0, "hotel"))
    published = decode_entry(entry_id, fields).slip
    assert published.saga_id == "g-json" and list(published.itinerary) == list(slip.itinerary)
    assert SLIP_FIELD in fields and "slip" not in fields


async def test_rows_leased_in_their_transaction_are_published_once_handed_without_a_claim(
    db: Database, client7: Redis, keys: BusKeys
) -> None:
    relay = OutboxRelay(db, client7, keys)
    pending = await db.transaction(
        lambda conn: relay.lease_in(conn, [confirm_slip("g1"), confirm_slip("g2")])
    )
    assert await leases(db) == 2
    # Leased to the relay that wrote them: another relay's claim passes them by.
    assert await OutboxRelay(db, client7, keys).relay_once() == 0
    relay.hand(pending)
    before = db_transactions(db)
    assert await relay.relay_once() == 2
    assert db_transactions(db) - before == 1  # the mark only: nothing was claimed
    assert await unsent(db) == 0
    assert await leases(db) == 0
    assert await saga_ids(client7, keys) == ["g1", "g2"]


async def test_rows_leased_by_a_process_killed_before_publishing_are_swept_once_the_lease_ran_out(
    db: Database, client7: Redis, keys: BusKeys
) -> None:
    killed = OutboxRelay(db, client7, keys)
    await db.transaction(lambda conn: killed.lease_in(conn, [confirm_slip("g1")]))
    # Committed but never handed, as when the process dies right after the commit.
    assert await OutboxRelay(db, client7, keys).relay_once() == 0
    assert await OutboxRelay(db, client7, keys, clock=lambda: 10**10).relay_once() == 1
    assert await unsent(db) == 0
    assert await leases(db) == 0
    assert await saga_ids(client7, keys) == ["g1"]


async def test_a_handed_row_whose_publish_failed_is_claimed_at_the_next_pass(
    db: Database, client7: Redis, dead_redis: Redis, keys: BusKeys
) -> None:
    relay = OutboxRelay(db, client7, keys, publisher=RedisSlipPublisher(dead_redis, keys))
    relay.hand(await db.transaction(lambda conn: relay.lease_in(conn, [confirm_slip("g1")])))
    with pytest.raises(RedisConnectionError):
        await relay.relay_once()
    assert await leases(db) == 0  # given back at once
    assert await OutboxRelay(db, client7, keys).relay_once() == 1
    assert await saga_ids(client7, keys) == ["g1"]


async def test_relay_crash_after_xadd_does_not_duplicate(db: Database, client7: Redis, keys: BusKeys) -> None:
    await db.transaction(lambda conn: add(conn, confirm_slip("g1")))
    relay = OutboxRelay(db, client7, keys)
    assert await relay.relay_once() == 1
    # Pretend the relay died after XADD but before its UPDATE committed.
    await db.transaction(lambda conn: conn.execute(FORGET_SENT))
    assert await relay.relay_once() == 1
    assert await unsent(db) == 0
    assert await client7.xlen(keys.stream(0, "hotel")) == 1


async def test_no_transaction_is_open_while_the_relay_publishes(
    url: str, database: tuple[str, str | None], app_name: str, db: Database, client7: Redis, keys: BusKeys
) -> None:
    await add_sagas(db, ["g1", "g2", "g3"])
    checking = CheckingRowsAreFree(RedisSlipPublisher(client7, keys), url, database[1], app_name)
    relay = OutboxRelay(db, client7, keys, publisher=checking)
    assert await relay.relay_once() == 3
    assert len(checking.checked) == 3
    assert await unsent(db) == 0
    assert await saga_ids(client7, keys) == ["g1", "g2", "g3"]


async def test_a_failed_publish_leaves_the_rows_pending_and_a_later_pass_sends_them(
    db: Database, client7: Redis, dead_redis: Redis, keys: BusKeys
) -> None:
    await add_sagas(db, ["g1", "g2"])
    publisher = FailingFirst(RedisSlipPublisher(dead_redis, keys), RedisSlipPublisher(client7, keys))
    relay = OutboxRelay(db, client7, keys, publisher=publisher)
    with pytest.raises(RedisConnectionError):
        await relay.relay_once()
    assert await unsent(db) == 2
    assert await leases(db) == 0  # given back: the next pass need not wait for them to expire
    assert await saga_ids(client7, keys) == []
    assert await relay.relay_once() == 2
    assert await unsent(db) == 0
    assert await saga_ids(client7, keys) == ["g1", "g2"]


async def test_a_running_relay_sends_after_a_failed_pass_at_the_next_wake(
    db: Database, client7: Redis, dead_redis: Redis, keys: BusKeys
) -> None:
    publisher = FailingFirst(RedisSlipPublisher(dead_redis, keys), RedisSlipPublisher(client7, keys))
    # The sweep never comes within the test: only a commit's wake-up can start the second pass.
    relay = OutboxRelay(db, client7, keys, publisher=publisher, sweep_interval_s=600)
    running = asyncio.create_task(relay.run())
    try:
        await add_sagas(db, ["g1"])
        relay.wake()
        await eventually(lambda: publisher.attempts >= 1, what="the failing pass")
        await add_sagas(db, ["g2"])
        relay.wake()
        await eventually(lambda: _unsent_is(db, 0), what="both rows sent")
        assert await saga_ids(client7, keys) == ["g1", "g2"]
    finally:
        relay.stop()
        await running


async def test_a_relay_woken_once_for_more_rows_than_a_batch_sends_them_all(
    db: Database, client7: Redis, keys: BusKeys
) -> None:
    # Commits that land while a relay is busy wake it once: that wake must cover every row.
    relay = OutboxRelay(db, client7, keys, batch_size=5, sweep_interval_s=600)
    await add_sagas(db, [f"g{n}" for n in range(12)])
    running = asyncio.create_task(relay.run())
    try:
        relay.wake()
        await eventually(lambda: _unsent_is(db, 0), what="every row sent")
        assert sorted(await saga_ids(client7, keys)) == sorted(f"g{n}" for n in range(12))
    finally:
        relay.stop()
        await running


async def test_relay_replicas_on_postgresql_never_publish_the_same_rows(
    url: str, database: tuple[str, str | None], db: Database, client7: Redis, keys: BusKeys
) -> None:
    schema = database[1]
    if schema is None:
        pytest.skip("one process owns a SQLite file, so it has one relay")
    await add_sagas(db, [f"g{n}" for n in range(20)])
    first, second = Recording(RedisSlipPublisher(client7, keys)), Recording(RedisSlipPublisher(client7, keys))
    async with opened_database(url, schema, "outbox", metadata) as replica:
        handled = await asyncio.gather(
            OutboxRelay(db, client7, keys, batch_size=20, publisher=first).relay_once(),
            OutboxRelay(replica, client7, keys, batch_size=20, publisher=second).relay_once(),
        )
    assert sum(handled) == 20
    assert not set(first.published) & set(second.published)
    assert await unsent(db) == 0


async def test_a_relay_skips_rows_another_relay_is_publishing(
    db: Database, client7: Redis, keys: BusKeys
) -> None:
    await add_sagas(db, ["g1", "g2"])
    other = OutboxRelay(db, client7, keys)
    during: list[int] = []

    class PublishingBeside:
        async def publish(self, slips: Sequence[PendingSlip]) -> None:
            during.append(await other.relay_once())
            await RedisSlipPublisher(client7, keys).publish(slips)

    assert await OutboxRelay(db, client7, keys, publisher=PublishingBeside()).relay_once() == 2
    assert during == [0]
    assert await saga_ids(client7, keys) == ["g1", "g2"]


async def test_rows_whose_lease_ran_out_are_published_twice_and_reach_the_bus_once(
    db: Database, client7: Redis, keys: BusKeys
) -> None:
    await add_sagas(db, ["g1", "g2"])
    # A relay whose clock is past the first one's lease sees it run out, as after a stall.
    late = OutboxRelay(db, client7, keys, clock=lambda: 10**10)
    during: list[int] = []

    class StallingPast:
        async def publish(self, slips: Sequence[PendingSlip]) -> None:
            during.append(await late.relay_once())
            await RedisSlipPublisher(client7, keys).publish(slips)

    assert await OutboxRelay(db, client7, keys, publisher=StallingPast()).relay_once() == 2
    assert during == [2]
    assert await unsent(db) == 0
    assert await leases(db) == 0
    assert await saga_ids(client7, keys) == ["g1", "g2"]


async def test_two_running_relays_over_one_postgresql_outbox_send_every_saga_once(
    url: str, database: tuple[str, str | None], db: Database, client7: Redis, keys: BusKeys
) -> None:
    schema = database[1]
    if schema is None:
        pytest.skip("one process owns a SQLite file, so it has one relay")
    names = [f"g{n}" for n in range(60)]
    first, second = Recording(RedisSlipPublisher(client7, keys)), Recording(RedisSlipPublisher(client7, keys))
    async with opened_database(url, schema, "outbox", metadata) as replica:
        relays = [
            OutboxRelay(db, client7, keys, batch_size=5, publisher=first, sweep_interval_s=600),
            OutboxRelay(replica, client7, keys, batch_size=5, publisher=second, sweep_interval_s=600),
        ]
        running = [asyncio.create_task(relay.run()) for relay in relays]
        try:
            # Commits land while both relays run; each replica is woken by the commits it sees.
            for start in range(0, len(names), 6):
                await add_sagas(db, names[start : start + 6])
                for relay in relays:
                    relay.wake()
            await eventually(lambda: _unsent_is(db, 0), what="every row sent")
        finally:
            for relay in relays:
                relay.stop()
            await asyncio.gather(*running)
    rows = await db.read(lambda conn: conn.rows(Statement(select(outbox_table.c.id))))
    assert {row.id for row in rows} <= set(first.published) | set(second.published)
    assert Counter(await saga_ids(client7, keys)) == Counter(names)
    assert await leases(db) == 0


async def _unsent_is(db: Database, count: int) -> bool:
    return await unsent(db) == count
