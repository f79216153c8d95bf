"""SQLAlchemy Core statements compiled once per dialect, then run as plain SQL on the DBAPI connection.

SQLAlchemy builds the SQL and knows each column type's conversions; running the compiled string on
the driver's own connection skips SQLAlchemy's per-execution machinery, which costs several times
what SQLite itself does for a small transaction.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.expression import Executable

# Named placeholders on both drivers, so parameters are always passed as a mapping.
DIALECTS: dict[str, Dialect] = {
    "sqlite": sqlite.dialect(paramstyle="named"),
    "postgresql": postgresql.psycopg.dialect(),
}

Convert = Callable[[Any], Any]
Builder = Callable[[str], Executable]


@dataclass
class Compiled:
    """One statement's SQL for one dialect, with the conversions its parameters and columns need."""

    sql: str
    marker: Callable[[str], str]
    defaults: dict[str, Any]
    binders: dict[str, Convert]
    expanding: tuple[str, ...]
    row: Any
    readers: tuple[Convert | None, ...] | None
    _expanded: dict[tuple[int, ...], str] = field(default_factory=dict)

    def bind(self, params: Mapping[str, Any] | None) -> tuple[str, dict[str, Any]]:
        values = {**self.defaults, **params} if params else dict(self.defaults)
        for name, convert in self.binders.items():
            value = values.get(name)
            if value is not None:
                values[name] = [convert(v) for v in value] if name in self.expanding else convert(value)
        if not self.expanding:
            return self.sql, values
        return self._expand(values), values

    def _expand(self, values: dict[str, Any]) -> str:
        """Render each list parameter as one placeholder per element (IN lists of any length)."""
        sizes = tuple(len(values[name]) for name in self.expanding)
        if 0 in sizes:
            raise ValueError("an IN list must not be empty")
        for name in self.expanding:
            for index, value in enumerate(values.pop(name), start=1):
                values[f"{name}_{index}"] = value
        sql = self._expanded.get(sizes)
        if sql is None:
            sql = self.sql
            for name, size in zip(self.expanding, sizes, strict=True):
                marks = ", ".join(self.marker(f"{name}_{index}") for index in range(1, size + 1))
                sql = sql.replace(f"__[POSTCOMPILE_{name}]", marks)
            self._expanded[sizes] = sql
        return sql

    def make_row(self, raw: Sequence[Any]) -> Any:
        if self.readers is None:
            return self.row._make(raw)
        values = zip(self.readers, raw, strict=True)
        return self.row._make([v if f is None or v is None else f(v) for f, v in values])


class Statement:
    """A Core statement (or a builder per dialect name), compiled on first use for each dialect."""

    def __init__(self, statement: Executable | Builder) -> None:
        self._source = statement
        self._compiled: dict[str, Compiled] = {}

    def compiled(self, dialect_name: str) -> Compiled:
        found = self._compiled.get(dialect_name)
        if found is None:
            found = self._compiled[dialect_name] = _compile(self._source, dialect_name)
        return found


def insert_or_nothing(table: Table, columns: Sequence[str] | None = None) -> Statement:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING the key: a row back only when this call inserted it.

    `columns` are the ones the caller gives (all of the table's by default); the others take their
    server-side default or NULL.

    The race-free way to claim a key on both databases: on PostgreSQL a concurrent insert of the
    same key waits for the other transaction, so exactly one caller gets the row; on SQLite
    writers are serialised by the database lock.
    """

    def build(dialect_name: str) -> Executable:
        insert = postgresql.insert if dialect_name == "postgresql" else sqlite.insert
        names = [column.name for column in table.c] if columns is None else columns
        values: dict[str, Any] = {name: bindparam(name) for name in names}
        return insert(table).values(values).on_conflict_do_nothing().returning(*table.primary_key.columns)

    return Statement(build)


def _reader(column_type: Any, dialect: Dialect) -> Convert | None:
    try:
        reader: Convert | None = column_type.dialect_impl(dialect).result_processor(dialect, None)
    except TypeError:
        # psycopg's numeric readers want the column's type oid, unknown before a query runs; psycopg
        # itself already answers a float column with a float.
        return None
    return reader


def _compile(source: Executable | Builder, dialect_name: str) -> Compiled:
    dialect = DIALECTS[dialect_name]
    statement = source if isinstance(source, Executable) else source(dialect_name)
    compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
    # Keyed by the name each parameter has in the SQL (a literal IN list gets one made up).
    binds = {compiled.bind_names[bind]: bind for bind in compiled.binds.values()}
    required = {name for name, bind in binds.items() if bind.required}
    defaults = {k: v for k, v in compiled.construct_params(_check=False).items() if k not in required}
    binders: dict[str, Convert] = {}
    for name, bind in binds.items():
        convert = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if convert is not None:
            binders[name] = convert
    for name, value in list(defaults.items()):
        if name in binders and value is not None and not binds[name].expanding:
            defaults[name] = binders.pop(name)(value)
    expanding = tuple(name for name, bind in binds.items() if bind.expanding)
    columns = list(getattr(statement, "exported_columns", ()))
    readers = tuple(_reader(column.type, dialect) for column in columns)
    names = [getattr(c, "key", None) or getattr(c, "name", None) or f"c{i}" for i, c in enumerate(columns)]
    return Compiled(
        sql=compiled.string,
        marker=(lambda name: f":{name}") if dialect_name == "sqlite" else (lambda name: f"%({name})s"),
        defaults=defaults,
        binders=binders,
        expanding=expanding,
        row=namedtuple("Row", names or ["_"], rename=True),
        readers=readers if any(f is not None for f in readers) else None,
    )


def page_statements(table: Table, filters: Sequence[str]) -> tuple[Statement, Statement]:
    """A count and one page (`offset`, `size`) of `table` in creation order, filtered by equality on
    each column named in `filters` (bound as a parameter of the same name)."""
    conditions = [table.c[name] == bindparam(name) for name in filters]
    count = select(func.count()).select_from(table).where(*conditions)
    rows = (
        select(table)
        .where(*conditions)
        .order_by(table.c.created_at, table.c.id)
        .offset(bindparam("offset"))
        .limit(bindparam("size"))
    )
    return Statement(count), Statement(rows)
