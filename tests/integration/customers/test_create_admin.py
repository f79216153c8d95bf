"""`python -m services.customers.admin create-admin` against a real customers database."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kit.database import Database
from kit.db import open_database
from kit.migrations import migrate
from kit.settings import Env
from kit.signing_keys import new_private_pem, public_pem_of
from kit.tokens import TokenIssuer, TokenVerifier
from services.customers.accounts import Accounts
from services.customers.attempt_limits import AttemptLimits, Count, Counter
from services.customers.domain import Customer
from services.customers.passwords import Argon2Parameters, PasswordHashing
from services.customers.repository import CustomerRepository
from tests.support.databases import drop_schema

ROOT = Path(__file__).resolve().parents[3]
PASSWORD = "correct horse battery"
FAST_ARGON2 = Argon2Parameters(time_cost=1, memory_kib=8192)


class NoLimits:
    async def hit(self, counters: Sequence[Counter]) -> list[Count]:
        return [Count(counter, attempts=1, resets_in_ms=1000) for counter in counters]


@pytest.fixture
def env(database: tuple[str, str | None], tmp_path: Path) -> Iterator[dict[str, str]]:
    url, schema = database
    values = {"TRAVEL_DATA_DIR": str(tmp_path), "DATABASE_URL": url, "ARGON2_TIME_COST": "1"}
    values["ARGON2_MEMORY_KIB"] = "8192"
    if schema is not None:
        values["DB_SCHEMA_PREFIX"] = f"{schema}_"
    yield values
    if schema is not None:
        drop_schema(url, f"{schema}_customers")


@pytest.fixture
def migrated_env(env: dict[str, str]) -> dict[str, str]:
    """The customers database at the newest revision, as `make run` or compose's `migrate` leave it."""
    migrate(Env(env), ["customers"])
    return env


@pytest.fixture
async def customers_db(migrated_env: dict[str, str]) -> AsyncIterator[Database]:
    env = migrated_env
    schema = f"{env['DB_SCHEMA_PREFIX']}customers" if "DB_SCHEMA_PREFIX" in env else None
    database = await open_database(env["DATABASE_URL"], schema, "customers", threads=1)
    yield database
    await database.close()


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "password"
    path.write_text(PASSWORD + "\n")
    return path


def email() -> str:
    return f"ops.{uuid.uuid4().hex[:8]}@example.com"


def run(env: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    """The command as an operator runs it, with no terminal to ask for a password on."""
    return subprocess.run(
        [sys.executable, "-m", "services.customers.admin", *arguments],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def login_roles(database: Database, address: str) -> frozenset[str]:
    private = new_private_pem()
    accounts = Accounts(
        repository=CustomerRepository(database),
        hashing=PasswordHashing(FAST_ARGON2),
        issuer=TokenIssuer(private, ttl_seconds=600),
        clock=lambda: datetime.now(UTC),
        new_id=lambda: str(uuid.uuid4()),
        attempts=NoLimits(),
        limits=AttemptLimits(),
    )
    token = await accounts.login(address, PASSWORD, "127.0.0.1")
    return TokenVerifier(public_pem_of(private)).verify(token.access_token).roles


async def test_creates_an_admin_whose_token_carries_the_role(
    env: dict[str, str], password_file: Path, customers_db: Database
) -> None:
    address = email()
    created = run(env, "create-admin", address, "--password-file", str(password_file))
    assert created.returncode == 0, created.stderr
    assert created.stdout.startswith(f"created admin {address} (customer ")
    assert await login_roles(customers_db, address) == {"admin"}

    again = run(env, "create-admin", address, "--password-file", str(password_file))
    assert again.returncode == 0, again.stderr
    assert "is already an admin" in again.stdout


async def test_promotes_an_existing_customer_keeping_their_password(
    env: dict[str, str], customers_db: Database, tmp_path: Path
) -> None:
    address = email()
    hashing = PasswordHashing(FAST_ARGON2)
    try:
        customer = Customer(str(uuid.uuid4()), address, "Ana", datetime.now(UTC))
        await CustomerRepository(customers_db).add(customer, address, await hashing.hash(PASSWORD))
    finally:
        hashing.close()
    assert await login_roles(customers_db, address) == frozenset()
    unused = tmp_path / "unused"
    unused.write_text("a different password\n")
    promoted = run(env, "create-admin", address, "--password-file", str(unused))
    assert promoted.returncode == 0, promoted.stderr
    assert promoted.stdout.strip() == f"promoted {address} (customer {customer.id}) to admin"
    assert await login_roles(customers_db, address) == {"admin"}  # with the password they had


def test_refuses_bad_input_with_a_clear_line(
    migrated_env: dict[str, str], password_file: Path, tmp_path: Path
) -> None:
    env = migrated_env
    no_terminal = run(env, "create-admin", email())
    assert no_terminal.returncode == 2
    assert "give --password-file" in no_terminal.stderr

    bad_email = run(env, "create-admin", "not-an-email", "--password-file", str(password_file))
    assert bad_email.returncode == 2
    assert "email is not a valid email address" in bad_email.stderr

    short = tmp_path / "short"
    short.write_text("short\n")
    too_short = run(env, "create-admin", email(), "--password-file", str(short))
    assert too_short.returncode == 2
    assert "password must be at least 10 characters" in too_short.stderr

    missing = run(env, "create-admin", email(), "--password-file", str(tmp_path / "absent"))
    assert missing.returncode == 2
    assert "cannot read the password file" in missing.stderr

    usage = run(env, "create-admin")
    assert usage.returncode == 2
    assert "EMAIL" in usage.stderr


def test_refuses_a_database_the_migrations_have_not_made(env: dict[str, str], password_file: Path) -> None:
    refused = run(env, "create-admin", email(), "--password-file", str(password_file))
    assert refused.returncode == 2
    assert "the customers database is at revision none" in refused.stderr
    assert "python -m kit.migrations customers" in refused.stderr
