"""Schema migrations with Alembic: each service's database is brought to its newest revision.

`python -m kit.migrations [service ...]` runs `upgrade head` on the database of each named service
(every service with a `migrations` folder when none is named), at DATABASE_URL in the service's
schema, or in the service's SQLite file of the data folder. Services only check, at start, that
their database is at that revision; see docs/migrations.md.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, MetaData, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from kit.database import Database
from kit.db import database_url, make_sync_engine, open_database, schema_name
from kit.settings import ConfigError, Env

SERVICES_FOLDER = Path(__file__).resolve().parent.parent / "services"
VERSION_TABLE = "alembic_version"


def migrated_services() -> list[str]:
    """The services that own a database: those with a migrations folder."""
    return sorted(path.parent.parent.name for path in SERVICES_FOLDER.glob("*/migrations/env.py"))


def migrations_folder(service: str) -> Path:
    folder = SERVICES_FOLDER / service / "migrations"
    if not (folder / "env.py").is_file():
        raise ConfigError(f"{service!r} has no migrations; services with a database: {migrated_services()}")
    return folder


def _config(service: str, connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_folder(service)))
    config.attributes["connection"] = connection
    return config


def upgrade(url: str, schema: str | None, service: str, target: str = "head") -> str:
    """Bring the service's database to the newest revision (or `target`); the revision it ended at.

    A database with tables but no version table was made by create_all before migrations existed:
    it is stamped with the baseline revision, and the later revisions run on it as on any other.
    On PostgreSQL the whole upgrade is one transaction, under a lock that makes a concurrent
    upgrade of the same schema wait.
    """
    engine = make_sync_engine(url, schema)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql" and schema:
                connection.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
                connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": schema})
            config = _config(service, connection)
            if _made_before_migrations(connection):
                command.stamp(config, _baseline(config))
            command.upgrade(config, target)
            return _current(connection)
    finally:
        engine.dispose()


def _made_before_migrations(connection: Connection) -> bool:
    # Each service has a schema (PostgreSQL) or a file (SQLite) of its own: any table in it is its.
    tables = set(inspect(connection).get_table_names())
    return bool(tables) and VERSION_TABLE not in tables


def _baseline(config: Config) -> str:
    (base,) = ScriptDirectory.from_config(config).get_bases()
    return base


def _current(connection: Connection) -> str:
    return ",".join(sorted(MigrationContext.configure(connection).get_current_heads())) or "none"


def head(service: str) -> str:
    """The newest revision of the service's migrations."""
    return ",".join(sorted(ScriptDirectory.from_config(_config(service)).get_heads()))


def require_head(url: str, schema: str | None, service: str) -> None:
    """Refuse a database the migrations have not brought to the revision this code expects."""
    engine = make_sync_engine(url, schema)
    try:
        with engine.connect() as connection:
            current = _current(connection)
    finally:
        engine.dispose()
    wanted = head(service)
    if current != wanted:
        raise ConfigError(
            f"the {service} database is at revision {current}, this version needs {wanted}: "
            f"run `python -m kit.migrations {service}` first"
        )


async def open_migrated_database(url: str, schema: str | None, service: str, threads: int = 4) -> Database:
    """The service's database, once it is known to be at the newest revision."""
    await asyncio.to_thread(require_head, url, schema, service)
    return await open_database(url, schema, service, threads=threads)


def migrate(env: Env, services: Sequence[str] | None = None) -> dict[str, str]:
    """Upgrade the database of each service (all with migrations by default); the revision of each."""
    return {
        service: upgrade(database_url(env, service), schema_name(env, service), service)
        for service in (services or migrated_services())
    }


def run_environment(*metadata: MetaData) -> None:
    """The body of every service's env.py: run the migrations on the connection `upgrade` opened."""
    from alembic import context

    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("migrations run through kit.migrations (python -m kit.migrations <service>)")
    context.configure(connection=connection, target_metadata=list(metadata))
    with context.begin_transaction():
        context.run_migrations()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kit.migrations", description=__doc__)
    parser.add_argument("services", nargs="*", help=f"among {', '.join(migrated_services())} (default: all)")
    args = parser.parse_args(argv)
    try:
        for service, revision in migrate(Env(), args.services).items():
            print(f"migrations: {service} database at revision {revision}", flush=True)
    except ConfigError as error:
        print(f"migrations: configuration error: {error}", file=sys.stderr)
        return 2
    except SQLAlchemyError as error:
        print(f"migrations: the database failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
