"""Alembic migrations of the customers database (run by kit.migrations)."""
