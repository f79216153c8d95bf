"""INSERT ... ON CONFLICT DO NOTHING on SQLite and PostgreSQL: the race-free way to claim a key."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection


async def insert_if_absent(conn: AsyncConnection, table: Table, values: dict[str, Any]) -> bool:
    """Insert the row unless its key exists; True when this call inserted it.

    On PostgreSQL a concurrent insert of the same key waits for the other transaction, so exactly
    one caller wins; on SQLite writers are serialised by the database lock.
    """
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    # RETURNING rather than rowcount: psycopg does not report a row count for this statement.
    statement = (
        dialect.insert(table).values(**values).on_conflict_do_nothing().returning(*table.primary_key.columns)
    )
    result = await conn.execute(statement)
    return result.first() is not None
