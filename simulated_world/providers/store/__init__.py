"""Database adapters of the providers: tables, idempotency, holds, capacity and payments."""
