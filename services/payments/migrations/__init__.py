"""Alembic migrations of the payments database (run by kit.migrations)."""
