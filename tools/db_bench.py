"""Benchmark: CPU per compare-and-set transaction shaped like the arbiter's, on each database path.

Run with `python -m tools.db_bench` (add `--postgres URL` for PostgreSQL; `--transactions N`).
One transaction reads a session row, updates it on its version, and inserts an event row and an
outbox row, as one arbiter hop does. Each path runs the same transactions, in rounds taken in turn
so a noisy machine spreads its noise over all of them; the median round is printed. CPU is this
process's (every thread); on PostgreSQL the server processes' CPU is printed beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import queue
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, and_, bindparam, create_engine, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bus.outbox import metadata as outbox_metadata
from bus.outbox import outbox_table
from kit.database import Connection, Database
from kit.db import make_engine, make_sync_engine, to_async_url, to_sync_url
from kit.statements import Statement
from services.sagas.vocabulary import HOTEL_CONFIRM
from services.sessions.repository import metadata as sessions_metadata
from services.sessions.repository import session_events, sessions

ITEMS = '{"hotel":{"hold_id":"hold_0123456789","hotel_id":"HTL-LIS-01","check_in":"2031-01-01"}}' * 6
SLIP = '{"sagaId":"confirm-0123","steps":[{"name":"hotel.confirm","participant":"hotel"}]}' * 12
APP = "travel-db-bench"

GET = select(sessions).where(sessions.c.id == bindparam("id"))
CAS = (
    update(sessions)
    .where(and_(sessions.c.id == bindparam("_id"), sessions.c.version == bindparam("_expected")))
    .values(version=bindparam("version"), state=bindparam("state"), items=bindparam("items"),
            updated_at=bindparam("updated_at"))
)  # fmt: skip
EVENT = session_events.insert().values(
    {c: bindparam(c) for c in ("session_id", "time", "kind", "step", "outcome", "detail", "saga_id")}
)
OUTBOX = outbox_table.insert().values(
    {c: bindparam(c) for c in ("saga_id", "step", "participant", "slip", "created_at")}
)
STATEMENTS = {
    name: Statement(s) for name, s in (("get", GET), ("cas", CAS), ("event", EVENT), ("outbox", OUTBOX))
}


def _cas_values(row: Any, now: datetime) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    change = {"_id": row.id, "_expected": row.version, "version": row.version + 1, "state": "OPEN",
              "items": ITEMS, "updated_at": now}  # fmt: skip
    event = {"session_id": row.id, "time": now, "kind": "session", "step": "state", "outcome": "OPEN",
             "detail": "bench", "saga_id": ""}  # fmt: skip
    outbox = {"saga_id": f"confirm-{row.id}", "step": HOTEL_CONFIRM.name,
              "participant": HOTEL_CONFIRM.participant, "slip": SLIP, "created_at": now}  # fmt: skip
    return change, event, outbox


def cas_on_connection(conn: Connection, session_id: str) -> None:
    """The candidate unit of work: the DBAPI connection, statements compiled once."""
    row = conn.first(STATEMENTS["get"], {"id": session_id})
    change, event, outbox = _cas_values(row, datetime.now(UTC))
    if conn.execute(STATEMENTS["cas"], change) != 1:
        raise RuntimeError("conflict")
    conn.execute(STATEMENTS["event"], event)
    conn.execute(STATEMENTS["outbox"], outbox)


def cas_on_sqlalchemy(conn: Any, session_id: str) -> None:
    """The same on a synchronous SQLAlchemy connection, statements built once."""
    row = conn.execute(GET, {"id": session_id}).first()
    change, event, outbox = _cas_values(row, datetime.now(UTC))
    if conn.execute(CAS, change).rowcount != 1:
        raise RuntimeError("conflict")
    conn.execute(EVENT, event)
    conn.execute(OUTBOX, outbox)


async def cas_async_built_per_call(engine: AsyncEngine, session_id: str) -> None:
    """Today's shape: the asyncio engine, each statement built as the call runs."""
    async with engine.begin() as conn:
        row = (await conn.execute(select(sessions).where(sessions.c.id == session_id))).first()
        now = datetime.now(UTC)
        change, event, outbox = _cas_values(row, now)
        result = await conn.execute(
            sessions.update()
            .where(and_(sessions.c.id == session_id, sessions.c.version == row.version))  # type: ignore[union-attr]
            .values(version=change["version"], state="OPEN", items=ITEMS, updated_at=now)
        )
        if result.rowcount != 1:
            raise RuntimeError("conflict")
        await conn.execute(session_events.insert(), [event])
        await conn.execute(outbox_table.insert().values(**outbox))


async def cas_async_built_once(engine: AsyncEngine, session_id: str) -> None:
    async with engine.begin() as conn:
        row = (await conn.execute(GET, {"id": session_id})).first()
        change, event, outbox = _cas_values(row, datetime.now(UTC))
        if (await conn.execute(CAS, change)).rowcount != 1:
            raise RuntimeError("conflict")
        await conn.execute(EVENT, event)
        await conn.execute(OUTBOX, outbox)


class SqlAlchemyThread:
    """SQLAlchemy's synchronous engine on one thread of its own, a whole transaction per call."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.loop = asyncio.get_running_loop()
        self.jobs: queue.SimpleQueue[tuple[str, asyncio.Future[None]] | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        with self.engine.connect() as conn:
            while (job := self.jobs.get()) is not None:
                session_id, future = job
                with conn.begin():
                    cas_on_sqlalchemy(conn, session_id)
                self.loop.call_soon_threadsafe(future.set_result, None)

    async def cas(self, session_id: str) -> None:
        future = self.loop.create_future()
        self.jobs.put((session_id, future))
        await future

    def close(self) -> None:
        self.jobs.put(None)
        self.thread.join()


class PsycopgAsyncPool:
    """psycopg 3's AsyncConnection with prepared statements: a few connections, SQL compiled once."""

    def __init__(self, connections: list[Any]) -> None:
        self.idle: asyncio.Queue[Any] = asyncio.Queue()
        for conn in connections:
            self.idle.put_nowait(conn)

    async def cas(self, session_id: str) -> None:
        conn = await self.idle.get()
        try:
            async with conn.transaction():
                sql, values = STATEMENTS["get"].compiled("postgresql").bind({"id": session_id})
                row = (
                    STATEMENTS["get"]
                    .compiled("postgresql")
                    .make_row(await (await conn.execute(sql, values)).fetchone())
                )
                for name, params in zip(
                    ("cas", "event", "outbox"), _cas_values(row, datetime.now(UTC)), strict=True
                ):
                    sql, values = STATEMENTS[name].compiled("postgresql").bind(params)
                    await conn.execute(sql, values)
        finally:
            self.idle.put_nowait(conn)


def server_cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            pass
    return total


async def backend_pids(postgres: Database | None) -> list[int]:
    if postgres is None:
        return []
    rows = await postgres.read(
        lambda conn: conn.raw.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (APP,)
        ).fetchall()
    )
    return [int(row[0]) for row in rows]


Cas = Callable[[str], Awaitable[None]]


async def measure(
    cas: Cas, ids: list[str], transactions: int, concurrency: int, pids: list[int]
) -> tuple[float, float]:
    """CPU per transaction of this process and of the database server processes, in microseconds."""
    per_task = transactions // concurrency

    async def worker(session_id: str) -> None:
        for _ in range(per_task):
            await cas(session_id)

    server, began = server_cpu(pids), time.process_time()
    await asyncio.gather(*(worker(ids[n]) for n in range(concurrency)))
    done = per_task * concurrency
    return 1e6 * (time.process_time() - began) / done, 1e6 * (server_cpu(pids) - server) / done


async def seed(database: Database, count: int) -> list[str]:
    ids = [uuid.uuid4().hex for _ in range(count)]
    now = datetime.now(UTC)
    insert = Statement(sessions.insert())
    common = {"customer_id": "bench", "state": "OPEN", "version": 0, "created_at": now, "updated_at": now,
              "expires_at": now, "items": ITEMS, "reason": "", "payment_id": ""}  # fmt: skip
    common["cancel_target"] = None
    rows = [{"id": i, **common} for i in ids]
    await database.transaction(lambda conn: conn.execute_many(insert, rows))
    return ids


def _sync_engine(url: str, schema: str | None, pool_size: int = 1) -> Engine:
    if schema is None:
        return make_sync_engine(url)
    options = {"options": f"-csearch_path={schema} -capplication_name={APP}"}
    return create_engine(to_sync_url(url), connect_args=options, pool_size=pool_size, max_overflow=0)


def _async_engine(url: str, schema: str | None) -> AsyncEngine:
    if schema is None:
        return make_engine(url)
    options = {"options": f"-csearch_path={schema} -capplication_name={APP}"}
    return create_async_engine(to_async_url(url), connect_args=options, pool_size=10, max_overflow=10)


async def candidates(
    url: str, schema: str | None
) -> tuple[dict[str, Cas], Callable[[], Awaitable[None]], Database]:
    """Every path, each on its own engine or connections over the same tables."""
    pg = schema is not None
    adapter = Database(_sync_engine(url, schema, pool_size=4), "bench", threads=4 if pg else 1)
    await adapter.create_tables(sessions_metadata, outbox_metadata, schema=schema)
    async_engine = _async_engine(url, schema)
    paths: dict[str, Cas] = {
        "asyncio engine, statements built per call (before)": lambda i: cas_async_built_per_call(
            async_engine, i
        ),
        "asyncio engine, statements built once": lambda i: cas_async_built_once(async_engine, i),
    }
    sa_thread = SqlAlchemyThread(_sync_engine(url, schema))
    paths["sync engine on a dedicated thread, whole transaction per call"] = sa_thread.cas
    label = "kit.database: sqlite3 on the event loop"
    if pg:
        label = "kit.database: DBAPI connections on 4 threads"
    paths[label] = lambda i: adapter.transaction(lambda conn: cas_on_connection(conn, i))
    closers: list[Callable[[], Awaitable[None]]] = [async_engine.dispose, adapter.close]
    if not pg:
        threaded = Database(_sync_engine(url, schema), "bench-thread", threads=1, on_loop=False)
        paths["kit.database: sqlite3 on a thread of its own (before)"] = lambda i: threaded.transaction(
            lambda conn: cas_on_connection(conn, i)
        )
        closers.append(threaded.close)
    if pg:
        import psycopg

        options = f"-csearch_path={schema}"
        conns = [await psycopg.AsyncConnection.connect(url, options=options, application_name=APP,
                                                       prepare_threshold=0) for _ in range(4)]  # fmt: skip
        pool = PsycopgAsyncPool(conns)
        paths["psycopg AsyncConnection, prepared statements"] = pool.cas
        one = Database(_sync_engine(url, schema), "bench1", threads=1)
        paths["DBAPI connection on one dedicated thread (threads=1)"] = lambda i: one.transaction(
            lambda conn: cas_on_connection(conn, i)
        )
        closers.append(one.close)

        async def close_conns() -> None:
            for conn in conns:
                await conn.close()

        closers.append(close_conns)
    else:
        import sqlite3

        raw = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None, timeout=30)

        async def inline(session_id: str) -> None:
            raw.execute("BEGIN IMMEDIATE")
            cas_on_connection(Connection(raw, "sqlite"), session_id)
            raw.execute("COMMIT")

        paths["reference: sqlite3 inline on the event loop (blocks it)"] = inline

        async def close_raw() -> None:
            raw.close()

        closers.append(close_raw)

    async def close() -> None:
        sa_thread.close()
        for closer in closers:
            await closer()

    return paths, close, adapter


async def run(url: str, schema: str | None, transactions: int, rounds: int) -> None:
    paths, close, adapter = await candidates(url, schema)
    ids = await seed(adapter, 16)
    for cas in paths.values():  # warm every path: connections, compiled SQL, prepared statements
        await asyncio.gather(*(cas(session_id) for session_id in ids[:8]))
        await asyncio.gather(*(cas(session_id) for session_id in ids[:8]))
    pids = await backend_pids(adapter if schema else None)
    results: dict[tuple[str, int], list[tuple[float, float]]] = {}
    for _ in range(rounds):
        for concurrency in (1, 8):
            for name, cas in paths.items():
                results.setdefault((name, concurrency), []).append(
                    await measure(cas, ids, transactions, concurrency, pids)
                )
    await close()
    title = "PostgreSQL" if schema else "SQLite (WAL, synchronous=NORMAL)"
    print(f"\n{title}: CPU per CAS transaction (select, conditional update, 2 inserts), microseconds")
    header = f"{'path':<70} {'1 in flight':>12} {'8 in flight':>12}"
    print(header + (f" {'server, 8 in flight':>20}" if schema else ""))
    for name in paths:
        one = statistics.median(r[0] for r in results[(name, 1)])
        eight = statistics.median(r[0] for r in results[(name, 8)])
        line = f"{name:<70} {one:>12.0f} {eight:>12.0f}"
        if schema:
            line += f" {statistics.median(r[1] for r in results[(name, 8)]):>20.0f}"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=800, help="per path, per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--postgres", help="also measure on this PostgreSQL URL (a schema is made and dropped)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(run(f"sqlite:///{folder}/bench.sqlite3", None, args.transactions, args.rounds))
    if args.postgres:
        schema = f"db_bench_{uuid.uuid4().hex[:8]}"
        try:
            asyncio.run(run(args.postgres, schema, args.transactions, args.rounds))
        finally:
            import psycopg

            with psycopg.connect(args.postgres.replace("+psycopg", ""), autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


if __name__ == "__main__":
    main()
