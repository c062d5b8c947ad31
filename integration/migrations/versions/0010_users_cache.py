"""amoCRM users cached per account (names instead of ids), pipeline names beside their stages, and whether
backfill could read the events API

Revision ID: 0010_users_cache
Revises: 0009_field_mapping
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_users_cache"
down_revision = "0009_field_mapping"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "amo_users",
        sa.Column("account_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("user_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("email", sa.String(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "amo_user_refreshes",
        sa.Column("account_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("refreshed_at", sa.Integer(), nullable=False),
        sa.Column("claimed_at", sa.Integer(), nullable=False),
    )
    with op.batch_alter_table("stats_backfill_checkpoints") as batch:
        batch.add_column(sa.Column("events_api", sa.Boolean(), nullable=True))
    with op.batch_alter_table("stats_pipeline_stages") as batch:
        batch.add_column(sa.Column("pipeline_name", sa.String(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("stats_pipeline_stages") as batch:
        batch.drop_column("pipeline_name")
    with op.batch_alter_table("stats_backfill_checkpoints") as batch:
        batch.drop_column("events_api")
    op.drop_table("amo_user_refreshes")
    op.drop_table("amo_users")
