"""Baseline: the sessions, their events and the saga bus outbox, as create_all made them before migrations."""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# SQLite only auto-increments an INTEGER PRIMARY KEY, PostgreSQL wants a BIGINT.
ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("items", sa.Text(), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("payment_id", sa.String(length=64), nullable=False),
        sa.Column("cancel_target", sa.String(length=20), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_sessions_customer", "sessions", ["customer_id", "created_at"], unique=False)
    op.create_index("ix_sessions_state", "sessions", ["state"], unique=False)
    op.create_table(
        "session_events",
        sa.Column("seq", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("step", sa.String(length=40), nullable=False),
        sa.Column("outcome", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("saga_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_index("ix_session_events_session_id", "session_events", ["session_id"], unique=False)
    op.create_table(
        "bus_outbox",
        sa.Column("id", ROW_ID, nullable=False),
        sa.Column("saga_id", sa.String(length=128), nullable=False),
        sa.Column("step", sa.String(length=128), nullable=False),
        sa.Column("participant", sa.String(length=64), nullable=False),
        sa.Column("slip", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_bus_outbox_unsent", "bus_outbox", ["sent_at", "id"], unique=False)
    op.create_table(
        "bus_outbox_leases",
        sa.Column("outbox_id", ROW_ID, nullable=False),
        sa.Column("holder", sa.String(length=32), nullable=False),
        sa.Column("expires_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("outbox_id"),
    )


def downgrade() -> None:
    op.drop_table("bus_outbox_leases")
    op.drop_index("ix_bus_outbox_unsent", table_name="bus_outbox")
    op.drop_table("bus_outbox")
    op.drop_index("ix_session_events_session_id", table_name="session_events")
    op.drop_table("session_events")
    op.drop_index("ix_sessions_state", table_name="sessions")
    op.drop_index("ix_sessions_customer", table_name="sessions")
    op.drop_table("sessions")
