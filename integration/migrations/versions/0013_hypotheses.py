"""hypotheses of the weekly meeting, with their owner, metric, segment and start date (issue 14)

Revision ID: 0013_hypotheses
Revises: 0012_inbox_unreadable
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_hypotheses"
down_revision = "0012_inbox_unreadable"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hypotheses",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(), nullable=False),
        sa.Column("owner_id", sa.BigInteger(), nullable=True),
        sa.Column("metric", sa.String(), nullable=False),
        sa.Column("direction", sa.String(), nullable=False),
        sa.Column("channel", sa.String(), nullable=True),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.Integer(), nullable=False),
        sa.Column("closed_at", sa.Integer(), nullable=True),
        sa.Column("close_note", sa.String(), nullable=False, server_default=""),
    )
    op.create_index("ix_hypotheses_account_closed", "hypotheses", ["account_id", "closed_at"])


def downgrade() -> None:
    op.drop_index("ix_hypotheses_account_closed", table_name="hypotheses")
    op.drop_table("hypotheses")
