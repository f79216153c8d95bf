"""The checkout's trace on a payment, and the pending report of a provider event.

Both columns are nullable and mean nothing new when NULL, so rows written before them need no
backfill. A database adopted from before migrations (stamped with the baseline) may come from the
version that had one column and not the other: a column already there is left as it is.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

COLUMNS = (
    ("payments", sa.Column("checkout_traceparent", sa.String(length=55), nullable=True)),
    ("provider_events", sa.Column("report_pending_since", sa.DateTime(timezone=True), nullable=True)),
)


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    for table, column in COLUMNS:
        if column.name not in {found["name"] for found in inspector.get_columns(table)}:
            op.add_column(table, column)


def downgrade() -> None:
    for table, column in reversed(COLUMNS):
        with op.batch_alter_table(table) as batch:
            batch.drop_column(column.name)
