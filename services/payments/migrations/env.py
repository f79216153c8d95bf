"""Alembic environment of the payments database."""

from kit.migrations import run_environment
from services.payments.repository import metadata

run_environment(metadata)
