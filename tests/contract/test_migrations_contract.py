"""Each service's migrations make exactly the tables of its SQLAlchemy metadata, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, inspect

from bus.outbox import metadata as outbox_metadata
from kit.db import make_sync_engine
from kit.migrations import head, migrated_services, require_head, upgrade
from kit.settings import ConfigError
from services.customers.repository import metadata as customers_metadata
from services.payments.repository import metadata as payments_metadata
from services.sessions.repository import metadata as sessions_metadata

pytestmark = pytest.mark.integration

# What each service's code reads and writes: the sessions database also holds the saga bus outbox.
METADATA: dict[str, list[MetaData]] = {
    "customers": [customers_metadata],
    "payments": [payments_metadata],
    "sessions": [sessions_metadata, outbox_metadata],
}


@pytest.fixture(params=sorted(METADATA))
def service(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def differences(url: str, schema: str | None, metadata: list[MetaData]) -> list[Any]:
    """What autogenerate would change for the database to match the metadata: nothing, when they agree."""
    engine = make_sync_engine(url, schema)
    try:
        with engine.connect() as connection:
            return list(compare_metadata(MigrationContext.configure(connection), metadata))
    finally:
        engine.dispose()


def table_names(url: str, schema: str | None) -> set[str]:
    engine = make_sync_engine(url, schema)
    try:
        with engine.connect() as connection:
            return set(inspect(connection).get_table_names())
    finally:
        engine.dispose()


def test_every_service_with_migrations_is_checked_here() -> None:
    assert migrated_services() == sorted(METADATA)


def test_upgrade_head_on_an_empty_database_makes_exactly_the_metadata(
    service: str, database: tuple[str, str | None]
) -> None:
    url, schema = database
    assert upgrade(url, schema, service) == head(service)
    assert differences(url, schema, METADATA[service]) == []
    tables = {table for each in METADATA[service] for table in each.tables}
    assert table_names(url, schema) == tables | {"alembic_version"}
    require_head(url, schema, service)


def test_a_second_upgrade_finds_nothing_to_do(service: str, database: tuple[str, str | None]) -> None:
    url, schema = database
    first = upgrade(url, schema, service)
    assert upgrade(url, schema, service) == first
    assert differences(url, schema, METADATA[service]) == []


def test_a_database_made_before_migrations_is_adopted(service: str, database: tuple[str, str | None]) -> None:
    """create_all's tables without a version table: stamped with the baseline, then upgraded."""
    url, schema = database
    engine = make_sync_engine(url, schema)
    try:
        with engine.begin() as connection:
            if schema:
                connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
            for each in METADATA[service]:
                each.create_all(connection)
    finally:
        engine.dispose()
    assert upgrade(url, schema, service) == head(service)
    assert differences(url, schema, METADATA[service]) == []


def test_a_service_refuses_a_database_behind_its_code(database: tuple[str, str | None]) -> None:
    url, schema = database
    with pytest.raises(ConfigError, match=r"python -m kit\.migrations payments"):
        require_head(url, schema, "payments")
    upgrade(url, schema, "payments", target="0001")
    with pytest.raises(ConfigError, match=f"at revision 0001, this version needs {head('payments')}"):
        require_head(url, schema, "payments")
    upgrade(url, schema, "payments")
    require_head(url, schema, "payments")
