"""Alembic environment of the sessions database: the sessions tables and the saga bus outbox."""

from bus.outbox import metadata as outbox_metadata
from kit.migrations import run_environment
from services.sessions.repository import metadata

run_environment(metadata, outbox_metadata)
