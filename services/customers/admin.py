"""Operator commands of the customers service: `python -m services.customers.admin create-admin EMAIL`."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from kit.db import database_url, schema_name
from kit.errors import InvalidArgument
from kit.migrations import open_migrated_database
from kit.settings import ConfigError, Env
from services.customers.administrators import AdminChange, AdminOutcome, create_admin
from services.customers.config import argon2_parameters
from services.customers.passwords import PasswordHashing
from services.customers.repository import CustomerRepository

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

MESSAGES = {
    AdminChange.CREATED: "created admin {email} (customer {id})",
    AdminChange.PROMOTED: "promoted {email} (customer {id}) to admin",
    AdminChange.ALREADY_ADMIN: "{email} (customer {id}) is already an admin",
}


class PasswordUnavailable(Exception):
    """No password file was given and there is no terminal to ask on."""


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m services.customers.admin", description=__doc__)
    commands = top.add_subparsers(dest="command", required=True)
    create = commands.add_parser(
        "create-admin",
        help="give a customer the admin role, creating the account when the email is new",
        description="Promote the customer with EMAIL to admin, or create an admin account with that email. "
        "The password is read from --password-file, else asked for twice on the terminal; an existing "
        "customer keeps their own password.",
    )
    create.add_argument("email", metavar="EMAIL")
    create.add_argument("--name", default="Operator", help="the new account's name (default: Operator)")
    create.add_argument(
        "--password-file", type=Path, help="file whose first line is the new account's password ('-': stdin)"
    )
    return top


def password_source(password_file: Path | None) -> Callable[[], str]:
    """Where the new account's password comes from; asked only if the account is new."""
    if password_file is not None:
        return lambda: read_password_file(password_file)
    return ask_password


def read_password_file(password_file: Path) -> str:
    try:
        text = sys.stdin.read() if str(password_file) == "-" else password_file.read_text()
    except OSError as error:
        raise PasswordUnavailable(f"cannot read the password file: {error}") from None
    return text.splitlines()[0] if text else ""


def ask_password() -> str:
    if not sys.stdin.isatty():
        raise PasswordUnavailable("no terminal to ask for a password on: give --password-file")
    first = getpass.getpass("Password for the new admin: ")
    if first != getpass.getpass("Repeat it: "):
        raise PasswordUnavailable("the two passwords differ")
    return first


async def run_create_admin(env: Env, email: str, name: str, password: Callable[[], str]) -> AdminOutcome:
    database = await open_migrated_database(
        database_url(env, "customers"), schema_name(env, "customers"), "customers", threads=1
    )
    hashing = PasswordHashing(argon2_parameters(env))
    try:
        return await create_admin(
            CustomerRepository(database),
            hashing,
            email,
            name,
            password,
            clock=lambda: datetime.now(UTC),
            new_id=lambda: str(uuid.uuid4()),
        )
    finally:
        hashing.close()
        await database.close()


def main(argv: Sequence[str] | None = None, env: Env | None = None) -> int:
    arguments = parser().parse_args(argv)
    try:
        outcome = asyncio.run(
            run_create_admin(
                env or Env(), arguments.email, arguments.name, password_source(arguments.password_file)
            )
        )
    except InvalidArgument as error:
        for violation in error.violations:
            print(f"create-admin: {violation.field} {violation.description}", file=sys.stderr)
        return EXIT_USAGE
    except PasswordUnavailable as error:
        print(f"create-admin: {error}", file=sys.stderr)
        return EXIT_USAGE
    except ConfigError as error:
        print(f"create-admin: configuration error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (SQLAlchemyError, OSError) as error:
        print(f"create-admin: the customers database failed: {error}", file=sys.stderr)
        return EXIT_FAILED
    customer = outcome.customer
    print(MESSAGES[outcome.change].format(email=customer.email, id=customer.id))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
