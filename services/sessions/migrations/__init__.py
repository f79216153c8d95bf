"""Alembic migrations of the sessions database (run by kit.migrations)."""
