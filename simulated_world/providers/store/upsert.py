"""INSERT ... ON CONFLICT DO NOTHING on SQLite and PostgreSQL: the race-free way to claim a key."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table

from kit.database import Connection
from kit.statements import Statement, insert_or_nothing

_CLAIMS: dict[tuple[str, tuple[str, ...]], Statement] = {}


def insert_if_absent(conn: Connection, table: Table, values: dict[str, Any]) -> bool:
    """Insert the row unless its key exists; True when this call inserted it.

    On PostgreSQL a concurrent insert of the same key waits for the other transaction, so exactly
    one caller wins; on SQLite writers are serialised by the database lock.
    """
    shape = (table.name, tuple(values))
    statement = _CLAIMS.get(shape)
    if statement is None:
        statement = _CLAIMS[shape] = insert_or_nothing(table, list(values))
    return conn.first(statement, values) is not None
