"""The customers' recent CreateSession request ids (AIP-155), kept 24 hours.

Created only where missing: a database adopted from before migrations may already have it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("request_ids"):
        return
    op.create_table(
        "request_ids",
        sa.Column("scope", sa.String(length=254), primary_key=True),
        sa.Column("request_id", sa.String(length=36), primary_key=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("response", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_request_ids_created_at", "request_ids", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_request_ids_created_at", table_name="request_ids")
    op.drop_table("request_ids")
