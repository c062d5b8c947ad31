"""stats: plans, spend, frozen bonus bases, pipeline stage order, backfill checkpoints, pushed figures

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stats_plans",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("leads", sa.Integer(), nullable=True),
        sa.Column("qualified", sa.Integer(), nullable=True),
        sa.Column("deals", sa.Integer(), nullable=True),
        sa.Column("revenue", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.Integer(), nullable=False),
        sa.UniqueConstraint("account_id", "period_start", "period_end", name="uq_stats_plan_period"),
    )
    op.create_index("ix_stats_plans_account_id", "stats_plans", ["account_id"])
    op.create_table(
        "stats_spend",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("updated_at", sa.Integer(), nullable=False),
        sa.UniqueConstraint(
            "account_id", "channel", "period_start", "period_end", name="uq_stats_spend_period"
        ),
    )
    op.create_index("ix_stats_spend_account_period", "stats_spend", ["account_id", "period_start"])
    op.create_table(
        "stats_bonus_snapshots",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("rule_version", sa.Integer(), nullable=True),
        sa.Column("lead_ids", sa.JSON(), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("open_disputes", sa.JSON(), nullable=False),
        sa.Column("frozen_at", sa.Integer(), nullable=False),
        sa.UniqueConstraint("account_id", "period_start", "period_end", name="uq_stats_bonus_period"),
    )
    op.create_index("ix_stats_bonus_snapshots_account_id", "stats_bonus_snapshots", ["account_id"])
    op.create_table(
        "stats_pipeline_stages",
        sa.Column("account_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("pipeline_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("status_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("sort", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
    )
    op.create_table(
        "stats_backfill_checkpoints",
        sa.Column("account_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("since", sa.Integer(), nullable=False),
        sa.Column("cursor_updated_at", sa.Integer(), nullable=False),
        sa.Column("leads_done", sa.Integer(), nullable=False),
        sa.Column("events_done", sa.Integer(), nullable=False),
        sa.Column("finished_at", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.Integer(), nullable=False),
    )
    op.create_table(
        "stats_pushed_values",
        sa.Column("account_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("target", sa.String(), primary_key=True),
        sa.Column("key", sa.String(), primary_key=True),
        sa.Column("entity_id", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("pushed_at", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("stats_pushed_values")
    op.drop_table("stats_backfill_checkpoints")
    op.drop_table("stats_pipeline_stages")
    op.drop_index("ix_stats_bonus_snapshots_account_id", table_name="stats_bonus_snapshots")
    op.drop_table("stats_bonus_snapshots")
    op.drop_index("ix_stats_spend_account_period", table_name="stats_spend")
    op.drop_table("stats_spend")
    op.drop_index("ix_stats_plans_account_id", table_name="stats_plans")
    op.drop_table("stats_plans")
