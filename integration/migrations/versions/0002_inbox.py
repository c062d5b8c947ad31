"""inbox items, reconciliation watermarks, shared rate budgets

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbox_items",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("received_at", sa.Float(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.Float(), nullable=False),
        sa.Column("lease_owner", sa.String(), nullable=True),
        sa.Column("lease_expires_at", sa.Float(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("processed_at", sa.Float(), nullable=True),
    )
    op.create_index("ix_inbox_items_status_next", "inbox_items", ["status", "next_attempt_at"])
    op.create_index("ix_inbox_items_account_status", "inbox_items", ["account_id", "status"])
    op.create_table(
        "reconcile_watermarks",
        sa.Column("account_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("leads_updated_at", sa.Integer(), nullable=False),
        sa.Column("last_run_at", sa.Float(), nullable=True),
    )
    op.create_table(
        "rate_budgets",
        sa.Column("account_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("next_slot_at", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("rate_budgets")
    op.drop_table("reconcile_watermarks")
    op.drop_index("ix_inbox_items_account_status", table_name="inbox_items")
    op.drop_index("ix_inbox_items_status_next", table_name="inbox_items")
    op.drop_table("inbox_items")
