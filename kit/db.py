"""Engines from DATABASE_URL: one SQLite file per service, or a schema each on PostgreSQL.

`open_database` is what services run on (see kit.database); the async engine stays for
tools and tests that want SQLAlchemy's own API.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, MetaData, create_engine, event
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from kit.database import Database
from kit.settings import ConfigError, Env
from kit.shared_settings import DATABASE_URL, DB_SCHEMA_PREFIX

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def database_url(env: Env, service: str) -> str:
    """DATABASE_URL when set, else a SQLite file named after the service in the data folder."""
    url = DATABASE_URL.optional(env)
    if url:
        return url
    return f"sqlite:///{Path(env.data_dir()) / f'{service}.sqlite3'}"


def schema_name(env: Env, service: str) -> str:
    """The PostgreSQL schema of a service: DB_SCHEMA_PREFIX + service, so runs never collide."""
    name = f"{DB_SCHEMA_PREFIX.read(env)}{service}".lower()
    if not _SCHEMA_NAME.match(name):
        raise ConfigError(f"DB_SCHEMA_PREFIX gives an invalid schema name {name!r}")
    return name


def to_async_url(url: str) -> str:
    """Pick the asyncio driver for a plain database URL."""
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url.removeprefix("sqlite:///")
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def to_sync_url(url: str) -> str:
    """Pick the synchronous driver for a plain database URL: sqlite3, or psycopg 3."""
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def make_sync_engine(url: str, schema: str | None = None, pool_size: int = 1) -> Engine:
    """A synchronous engine; on PostgreSQL every connection's search_path is the service's own schema."""
    sync_url = to_sync_url(url)
    if sync_url.startswith("sqlite"):
        engine = create_engine(sync_url, connect_args={"timeout": 30}, pool_size=1, max_overflow=0)
        _tune_sqlite(engine)
        return engine
    kwargs: dict[str, Any] = {"pool_size": pool_size, "max_overflow": 0, "pool_pre_ping": True}
    if schema:
        kwargs["connect_args"] = {"options": f"-csearch_path={schema}"}
    return create_engine(sync_url, **kwargs)


async def open_database(
    url: str, schema: str | None, name: str, *metadata: MetaData, threads: int = 4
) -> Database:
    """The service's database with its tables created; `threads` connections on PostgreSQL, one on SQLite."""
    count = threads if not to_sync_url(url).startswith("sqlite") else 1
    database = Database(make_sync_engine(url, schema, pool_size=count), name, threads=count)
    await database.create_tables(*metadata, schema=schema)
    return database


def make_engine(url: str, schema: str | None = None, pool_size: int = 10) -> AsyncEngine:
    """An engine; on PostgreSQL every connection's search_path is the service's own schema."""
    async_url = to_async_url(url)
    if async_url.startswith("sqlite"):
        # SQLite has one writer: one connection per process queues writers in order, where a pool
        # would make them wait in SQLite's busy handler, which sleeps up to 100 ms per retry.
        engine = create_async_engine(
            async_url, connect_args={"timeout": 30}, pool_size=1, max_overflow=0, pool_timeout=60
        )
        _tune_sqlite(engine)
        return engine
    kwargs: dict[str, Any] = {"pool_size": pool_size, "max_overflow": pool_size, "pool_pre_ping": True}
    if schema:
        kwargs["connect_args"] = {"options": f"-csearch_path={schema}"}
    return create_async_engine(async_url, **kwargs)


def _tune_sqlite(engine: AsyncEngine | Engine) -> None:
    # WAL lets readers run beside the single writer; busy_timeout makes writers queue, not fail.
    @event.listens_for(engine if isinstance(engine, Engine) else engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL loses no committed transaction when a process dies, only when the
        # machine does; FULL would fsync on every commit and cap a service at ~60 writes/s here.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


async def create_schema(engine: AsyncEngine, schema: str | None, metadata: Any) -> None:
    """Create the service's schema (PostgreSQL) and tables if they do not exist yet."""
    async with engine.begin() as conn:
        if schema and engine.dialect.name == "postgresql":
            await conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        await conn.run_sync(metadata.create_all)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[Any]:
    return async_sessionmaker(engine, expire_on_commit=False)
