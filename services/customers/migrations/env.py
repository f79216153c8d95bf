"""Alembic environment of the customers database."""

from kit.migrations import run_environment
from services.customers.repository import metadata

run_environment(metadata)
