"""The database adapter's contract on SQLite and PostgreSQL: commit, roll back, one compare-and-set
winner among real concurrent transactions, the durability settings, one count per transaction, and
the writes that ride the next write transaction."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime

import psycopg
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import Column, Date, DateTime, Integer, MetaData, String, Table, bindparam, select, update

from kit.database import Connection, Database
from kit.db import open_database
from kit.statements import Statement, insert_or_nothing

metadata = MetaData()
counters = Table(
    "counters",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("day", Date, nullable=True),
    Column("at", DateTime(timezone=True), nullable=True),
)

INSERT = insert_or_nothing(counters)
GET = Statement(select(counters).where(counters.c.id == bindparam("id")))
MANY = Statement(select(counters.c.id).where(counters.c.id.in_(bindparam("ids", expanding=True))))
CAS = Statement(
    update(counters)
    .where(counters.c.id == bindparam("id"), counters.c.version == bindparam("expected"))
    .values(version=bindparam("version"))
)


class Refused(Exception):
    pass


@pytest.fixture
async def replicas(database: tuple[str, str | None]) -> AsyncIterator[list[Database]]:
    """Two adapters on the same database, as two processes (or replicas) would have."""
    url, schema = database
    name = f"contract_{uuid.uuid4().hex[:8]}"
    opened = [await open_database(url, schema, name, metadata) for _ in range(2)]
    yield opened
    for db in opened:
        await db.close()


def row(counter_id: str) -> dict[str, object]:
    return {
        "id": counter_id,
        "version": 0,
        "day": date(2031, 1, 2),
        "at": datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC),
    }


def transactions_counted(db: Database) -> float:
    return REGISTRY.get_sample_value("travel_db_transactions_total", {"database": db.name}) or 0.0


async def test_a_committed_transaction_is_seen_by_another_connection(replicas: list[Database]) -> None:
    first, second = replicas
    assert await first.transaction(lambda conn: conn.first(INSERT, row("a"))) is not None
    found = await second.read(lambda conn: conn.first(GET, {"id": "a"}))
    assert found is not None and found.version == 0 and found.day == date(2031, 1, 2)
    assert found.at.replace(tzinfo=found.at.tzinfo or UTC) == datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)
    # The same key again is not inserted: the claim is race-free and says who won.
    assert await second.transaction(lambda conn: conn.first(INSERT, row("a"))) is None
    assert [r.id for r in await first.read(lambda conn: conn.rows(MANY, {"ids": ["a", "b"]}))] == ["a"]


async def test_a_failing_unit_of_work_leaves_nothing_and_raises_its_error(replicas: list[Database]) -> None:
    first, second = replicas

    def insert_then_refuse(conn: Connection) -> None:
        conn.first(INSERT, row("gone"))
        raise Refused

    with pytest.raises(Refused):
        await first.transaction(insert_then_refuse)
    assert await second.read(lambda conn: conn.first(GET, {"id": "gone"})) is None
    # The connection is usable again after the rollback.
    assert await first.transaction(lambda conn: conn.first(INSERT, row("kept"))) is not None


async def test_concurrent_compare_and_set_has_one_winner(replicas: list[Database]) -> None:
    await replicas[0].transaction(lambda conn: conn.first(INSERT, row("cas")))

    def claim(conn: Connection) -> bool:
        return conn.execute(CAS, {"id": "cas", "expected": 0, "version": 1}) == 1

    outcomes = await asyncio.gather(*(replicas[n % 2].transaction(claim) for n in range(16)))
    assert outcomes.count(True) == 1


async def test_read_modify_write_loses_no_update_across_replicas(replicas: list[Database]) -> None:
    await replicas[0].transaction(lambda conn: conn.first(INSERT, row("inc")))

    def increment(conn: Connection) -> bool:
        current = conn.first(GET, {"id": "inc"})
        assert current is not None
        return (
            conn.execute(CAS, {"id": "inc", "expected": current.version, "version": current.version + 1}) == 1
        )

    async def until_done(db: Database) -> None:
        while not await db.transaction(increment):
            pass  # another replica wrote in between: read again

    await asyncio.gather(*(until_done(replicas[n % 2]) for n in range(20)))
    final = await replicas[1].read(lambda conn: conn.first(GET, {"id": "inc"}))
    assert final is not None and final.version == 20


async def test_durability_settings_are_applied(
    replicas: list[Database], database: tuple[str, str | None]
) -> None:
    db = replicas[0]

    def settings(conn: Connection) -> list[object]:
        if conn.dialect == "sqlite":
            pragmas = ("journal_mode", "synchronous", "busy_timeout")
            return [conn.raw.execute(f"PRAGMA {name}").fetchone()[0] for name in pragmas]
        return [conn.raw.execute("SHOW search_path").fetchone()[0]]

    found = await db.read(settings)
    if db.dialect == "sqlite":
        assert found == ["wal", 1, 30000]  # synchronous=1 is NORMAL: committed survives a process crash
    else:
        assert found == [database[1]]  # every connection works in the service's own schema


async def test_every_transaction_is_counted_once(replicas: list[Database]) -> None:
    db = replicas[0]
    before = transactions_counted(db)
    await db.transaction(lambda conn: conn.first(INSERT, row("counted")))
    await db.read(lambda conn: conn.first(GET, {"id": "counted"}))
    with pytest.raises(Refused):
        await db.transaction(lambda conn: (_ for _ in ()).throw(Refused()))
    assert transactions_counted(db) - before == 3


def bump(counter_id: str) -> Callable[[Connection], None]:
    def work(conn: Connection) -> None:
        current = conn.first(GET, {"id": counter_id})
        assert current is not None
        conn.execute(CAS, {"id": counter_id, "expected": current.version, "version": current.version + 1})

    return work


async def version_of(db: Database, counter_id: str) -> int:
    found = await db.read(lambda conn: conn.first(GET, {"id": counter_id}))
    assert found is not None
    return int(found.version)


async def test_a_ride_commits_with_the_next_write_transaction_at_no_cost(replicas: list[Database]) -> None:
    db, other = replicas
    await db.transaction(lambda conn: conn.first(INSERT, row("rider")))
    before = transactions_counted(db)
    db.ride(bump("rider"))
    await db.read(lambda conn: conn.first(GET, {"id": "rider"}))
    assert db.riders_waiting == 1  # a read transaction does not take it
    await db.transaction(lambda conn: conn.first(INSERT, row("carrier")))
    assert db.riders_waiting == 0
    assert transactions_counted(db) - before == 2  # the read and the carrier
    assert await version_of(other, "rider") == 1


async def test_a_ride_whose_carrier_rolls_back_waits_for_the_next_one(replicas: list[Database]) -> None:
    db, other = replicas
    await db.transaction(lambda conn: conn.first(INSERT, row("again")))
    db.ride(bump("again"))

    def refuse(conn: Connection) -> None:
        raise Refused

    with pytest.raises(Refused):
        await db.transaction(refuse)
    assert await version_of(other, "again") == 0
    assert db.riders_waiting == 1
    await db.carry_riders()
    assert db.riders_waiting == 0
    assert await version_of(other, "again") == 1


async def test_a_failing_ride_is_dropped_and_its_carrier_commits(replicas: list[Database]) -> None:
    db, other = replicas
    db.ride(lambda conn: (_ for _ in ()).throw(Refused()))
    await db.transaction(lambda conn: conn.first(INSERT, row("carried")))
    assert db.riders_waiting == 0
    assert await version_of(other, "carried") == 0


async def test_closing_a_database_runs_the_rides_still_waiting(database: tuple[str, str | None]) -> None:
    url, schema = database
    name = f"contract_{uuid.uuid4().hex[:8]}"
    db, other = [await open_database(url, schema, name, metadata) for _ in range(2)]
    try:
        await db.transaction(lambda conn: conn.first(INSERT, row("closing")))
        db.ride(bump("closing"))
        await db.close()
        assert await version_of(other, "closing") == 1
    finally:
        await other.close()


async def test_a_dropped_postgresql_connection_is_replaced(
    replicas: list[Database], database: tuple[str, str | None]
) -> None:
    url, schema = database
    if schema is None:
        pytest.skip("a SQLite connection is a file handle; nothing drops it")
    db = await open_database(url, schema, replicas[0].name, metadata, threads=1)
    try:
        pid = await db.read(lambda conn: conn.raw.execute("SELECT pg_backend_pid()").fetchone()[0])
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(psycopg.OperationalError):
            await db.read(lambda conn: conn.first(GET, {"id": "x"}))
        assert await db.read(lambda conn: conn.first(GET, {"id": "x"})) is None
    finally:
        await db.close()
