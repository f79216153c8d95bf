"""Test databases on the production engine factory: SQLite files in WAL mode, a schema each on PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the root conftest imports this module: it stays free of the services' imports
    from sqlalchemy import MetaData

    from kit.database import Database

# One id per test run, in every PostgreSQL schema it makes, so runs sharing a server never collide.
RUN_ID = uuid.uuid4().hex[:10]
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def new_schema() -> str:
    """A PostgreSQL schema name no other test uses."""
    return f"t_{RUN_ID}_{uuid.uuid4().hex[:8]}"


def drop_schema(url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def sqlite_path(url: str) -> str:
    """The file of a `sqlite:///` URL."""
    return url.removeprefix("sqlite:///")


@asynccontextmanager
async def opened_database(
    url: str, schema: str | None, name: str, *metadata: MetaData, threads: int = 4
) -> AsyncIterator[Database]:
    """A database as a service opens it (kit.db.open_database), closed on the way out."""
    from kit.db import open_database

    database = await open_database(url, schema, name, *metadata, threads=threads)
    try:
        yield database
    finally:
        await database.close()


async def migrated(url: str, schema: str | None, service: str) -> None:
    """Bring a service's database to the newest revision, as `make run` does before the service starts."""
    import asyncio

    from kit.migrations import upgrade

    await asyncio.to_thread(upgrade, url, schema or None, service)
