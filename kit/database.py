"""A service's database: every transaction runs whole, as one synchronous call.

On PostgreSQL the event loop hands a unit of work `work(connection)` to one of the database's
threads and awaits its result: one hop per transaction, however many statements it runs. On SQLite
the work runs on the event loop itself: a transaction there is a few tens of microseconds of
local calls, and the hop to a thread and back cost four times as much CPU as the transaction.
The work runs on the DBAPI connection SQLAlchemy's engine opened (sqlite3 or psycopg), with
statements compiled once. Bookkeeping nobody awaits (`ride`) joins the next write transaction
instead of paying for its own.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import queue
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import Engine, MetaData

from kit.metrics import count_db_transaction
from kit.statements import Statement
from kit.tracing import recording_tracer

log = logging.getLogger(__name__)

T = TypeVar("T")


class Connection:
    """The DBAPI connection of one transaction, running compiled statements."""

    def __init__(self, raw: Any, dialect: str) -> None:
        self.raw = raw
        self.dialect = dialect

    def execute(self, statement: Statement, params: Mapping[str, Any] | None = None) -> int:
        """Run a statement; the number of rows it changed."""
        sql, values = statement.compiled(self.dialect).bind(params)
        return int(self.raw.execute(sql, values).rowcount)

    def execute_many(self, statement: Statement, rows: Sequence[Mapping[str, Any]]) -> int:
        """Run a statement once per parameter set, in one driver call; the rows changed in total."""
        if not rows:
            return 0
        compiled = statement.compiled(self.dialect)
        if compiled.expanding:
            raise ValueError("an IN list may differ per row: run such a statement with execute()")
        bound = [compiled.bind(row) for row in rows]
        cursor = self.raw.cursor()
        try:
            cursor.executemany(bound[0][0], [values for _, values in bound])
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def rows(self, statement: Statement, params: Mapping[str, Any] | None = None) -> list[Any]:
        compiled = statement.compiled(self.dialect)
        sql, values = compiled.bind(params)
        return [compiled.make_row(raw) for raw in self.raw.execute(sql, values).fetchall()]

    def first(self, statement: Statement, params: Mapping[str, Any] | None = None) -> Any | None:
        compiled = statement.compiled(self.dialect)
        sql, values = compiled.bind(params)
        raw = self.raw.execute(sql, values).fetchone()
        return None if raw is None else compiled.make_row(raw)

    def scalar(self, statement: Statement, params: Mapping[str, Any] | None = None) -> Any | None:
        row = self.first(statement, params)
        return None if row is None else row[0]


Work = Callable[[Connection], T]
_Job = tuple[Callable[..., Any], str, "asyncio.Future[Any]", contextvars.Context]


class _Slot:
    """The pooled connection one runner (a database thread, or the event loop) holds between jobs."""

    def __init__(self) -> None:
        self.pooled: Any = None


class Database:
    """One database of a service, named in metrics; `threads` connections serve its transactions.

    SQLite gets one connection, used on the event loop: it has one writer, and one connection
    queues writers in order where several would wait in SQLite's busy handler. PostgreSQL gets
    `threads` connections, each on a thread of its own, so a slow statement never stalls the loop.
    """

    def __init__(self, engine: Engine, name: str, threads: int = 1, on_loop: bool | None = None) -> None:
        """`on_loop` chooses where transactions run; by default on the loop for SQLite only."""
        self.engine = engine
        self.name = name
        self.dialect = engine.dialect.name
        self._tracer = recording_tracer(__name__)
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        # Appended on the event loop, taken on a database thread: deque's append and popleft are atomic.
        self._riders: deque[Work[None]] = deque()
        if on_loop is None:
            on_loop = self.dialect == "sqlite"
        self._inline = _Slot() if on_loop else None
        self._threads = [
            threading.Thread(target=self._serve, name=f"db-{name}-{n}", daemon=True)
            for n in range(0 if self._inline else threads)
        ]
        for thread in self._threads:
            thread.start()

    async def transaction(self, work: Work[T]) -> T:
        """Run `work` in one write transaction: committed if it returns, rolled back if it raises."""
        return await self._submit(work, "write")

    def ride(self, work: Work[None]) -> None:
        """Run `work` first in the next write transaction, whoever's it is, and commit it with it.

        For writes whose loss is harmless and whose timing is loose (the outbox relay's "sent"
        marks): they cost no transaction of their own. Put back if that transaction rolls back;
        dropped, and logged, if `work` itself fails (the caller's transaction then runs without it).
        Nothing runs them unless a write transaction comes: see `carry_riders`.
        """
        self._riders.append(work)

    @property
    def riders_waiting(self) -> int:
        """How many `ride` works wait for a write transaction."""
        return len(self._riders)

    async def carry_riders(self) -> None:
        """A write transaction of its own for the `ride` works still waiting, if any."""
        if self._riders:
            await self.transaction(_nothing)

    async def read(self, work: Work[T]) -> T:
        """Run `work` in one read transaction (on SQLite it takes no write lock)."""
        return await self._submit(work, "read")

    async def create_tables(self, *metadata: MetaData, schema: str | None = None) -> None:
        """Create the schema (PostgreSQL) and the tables that do not exist yet, with SQLAlchemy."""

        def create() -> None:
            with self.engine.begin() as conn:
                if schema and self.dialect == "postgresql":
                    conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
                for each in metadata:
                    each.create_all(conn)

        await self._submit(create, "schema")

    async def close(self) -> None:
        try:
            await self.carry_riders()
        except Exception:
            log.warning("could not run %d writes riding a transaction", len(self._riders), exc_info=True)
        for _ in self._threads:
            self._jobs.put(None)
        if self._threads:
            await asyncio.get_running_loop().run_in_executor(None, self._join)
        if self._inline is not None and self._inline.pooled is not None:
            self._inline.pooled.close()
            self._inline.pooled = None
        self.engine.dispose()

    def _join(self) -> None:
        for thread in self._threads:
            thread.join()

    def _submit(self, work: Callable[..., T], mode: str) -> asyncio.Future[T]:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        # The work sees the caller's context: its log ids, and the trace an outbox row records.
        caller = contextvars.copy_context()
        if self._inline is not None:
            settle, value = self._perform(self._inline, work, mode, caller)
            settle(future, value)
        else:
            self._jobs.put((work, mode, future, caller))
        return future

    def _serve(self) -> None:
        slot = _Slot()
        while (job := self._jobs.get()) is not None:
            work, mode, future, caller = job
            _hand_back(future, *self._perform(slot, work, mode, caller))
        if slot.pooled is not None:
            slot.pooled.close()

    def _perform(
        self, slot: _Slot, work: Callable[..., Any], mode: str, caller: contextvars.Context
    ) -> tuple[Callable[[asyncio.Future[Any], Any], None], Any]:
        """Run one job on the slot's connection: how to settle its future, and with what."""
        try:
            if mode == "schema":
                # SQLAlchemy's own connection from the pool: the slot's goes back first.
                if slot.pooled is not None:
                    slot.pooled.close()
                    slot.pooled = None
                return _succeed, caller.run(work)
            if slot.pooled is None:
                slot.pooled = self._open()
            connection = Connection(slot.pooled.driver_connection, self.dialect)
            return _succeed, caller.run(self._traced_run, connection, work, mode)
        except BaseException as error:  # handed to the awaiting task
            if slot.pooled is not None and _is_broken(slot.pooled.driver_connection):
                slot.pooled.invalidate()
                slot.pooled = None
            return _fail, error

    def _open(self) -> Any:
        pooled = self.engine.raw_connection()
        raw: Any = pooled.driver_connection
        if self.dialect == "sqlite":
            raw.isolation_level = None  # BEGIN and COMMIT are ours to say
        else:
            raw.autocommit = False
            raw.prepare_threshold = 0  # every statement prepared on first use: planned once
        return pooled

    def _traced_run(self, conn: Connection, work: Work[T], mode: str) -> T:
        """A span per transaction when tracing is on (statements run on the raw DBAPI connection,
        which SQLAlchemy's instrumentation does not see)."""
        if self._tracer is None:
            return self._run(conn, work, mode)
        attributes = {"db.system.name": self.dialect, "db.namespace": self.name}
        with self._tracer.start_as_current_span(f"{self.name} {mode} transaction", attributes=attributes):
            return self._run(conn, work, mode)

    def _run(self, conn: Connection, work: Work[T], mode: str) -> T:
        count_db_transaction(self.name)
        raw = conn.raw
        self._begin(raw, mode)
        riders = self._take_riders() if mode == "write" else []
        if riders and not self._run_riders(conn, riders):
            riders = []
            self._begin(raw, mode)
        try:
            result = work(conn)
            if self.dialect == "sqlite":
                raw.execute("COMMIT")
            else:
                raw.commit()
        except BaseException:
            _roll_back(raw, self.dialect)
            # Not the riders' fault: the next write transaction takes them.
            self._riders.extendleft(reversed(riders))
            raise
        return result

    def _begin(self, raw: Any, mode: str) -> None:
        if self.dialect == "sqlite":
            # IMMEDIATE takes the write lock up front, so a read-then-write never fails to upgrade.
            raw.execute("BEGIN IMMEDIATE" if mode == "write" else "BEGIN")

    def _take_riders(self) -> list[Work[None]]:
        riders = []
        while True:
            try:
                riders.append(self._riders.popleft())
            except IndexError:
                return riders

    def _run_riders(self, conn: Connection, riders: list[Work[None]]) -> bool:
        """Run the riders; False, with the transaction rolled back and the riders dropped, if one failed."""
        try:
            for rider in riders:
                rider(conn)
        except Exception:
            _roll_back(conn.raw, self.dialect)
            log.warning("dropped %d writes riding a transaction", len(riders), exc_info=True)
            return False
        return True


def _nothing(_: Connection) -> None:
    pass


def _roll_back(raw: Any, dialect: str) -> None:
    try:
        if dialect != "sqlite":
            raw.rollback()
        elif raw.in_transaction:
            raw.execute("ROLLBACK")
    except Exception:  # the connection is gone; the transaction died with it
        log.debug("rollback failed", exc_info=True)


def _hand_back(
    future: asyncio.Future[Any], settle: Callable[[asyncio.Future[Any], Any], None], value: Any
) -> None:
    try:
        future.get_loop().call_soon_threadsafe(settle, future, value)
    except RuntimeError:  # the loop is closed: nobody awaits the outcome any more
        log.debug("database outcome dropped: its event loop is closed")


def _succeed(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():
        future.set_result(result)


def _fail(future: asyncio.Future[Any], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)


def _is_broken(raw: Any) -> bool:
    return bool(getattr(raw, "closed", False))
