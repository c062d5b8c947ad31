"""accounts, tokens, provisioned fields, lead snapshots and status events

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("subdomain", sa.String(), nullable=False),
        sa.Column("base_url", sa.String(), nullable=False),
        sa.Column("webhook_key", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("status_reason", sa.String(), nullable=True),
        sa.Column("language", sa.String(), nullable=False),
        sa.Column("credential_kind", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_accounts_webhook_key", "accounts", ["webhook_key"], unique=True)
    op.create_table(
        "account_tokens",
        sa.Column(
            "account_id",
            sa.Integer(),
            sa.ForeignKey("accounts.id", ondelete="CASCADE"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("access_token_enc", sa.String(), nullable=False),
        sa.Column("refresh_token_enc", sa.String(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "account_fields",
        sa.Column(
            "account_id",
            sa.Integer(),
            sa.ForeignKey("accounts.id", ondelete="CASCADE"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("key", sa.String(), primary_key=True),
        sa.Column("amo_id", sa.Integer(), nullable=False),
        sa.Column("enums", sa.JSON(), nullable=False),
    )
    op.create_table(
        "lead_snapshots",
        sa.Column("account_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("lead_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("price", sa.Integer(), nullable=True),
        sa.Column("status_id", sa.Integer(), nullable=True),
        sa.Column("pipeline_id", sa.Integer(), nullable=True),
        sa.Column("responsible_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.Integer(), nullable=False),
        sa.Column("closed_at", sa.Integer(), nullable=True),
        sa.Column("is_deleted", sa.Boolean(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("channel", sa.String(), nullable=True),
        sa.Column("level", sa.String(), nullable=True),
        sa.Column("qualified", sa.Boolean(), nullable=True),
        sa.Column("reason", sa.String(), nullable=True),
        sa.Column("rule_version", sa.Integer(), nullable=True),
        sa.Column("classified_at", sa.Integer(), nullable=True),
    )
    op.create_index("ix_lead_snapshots_account_created", "lead_snapshots", ["account_id", "created_at"])
    op.create_index("ix_lead_snapshots_account_channel", "lead_snapshots", ["account_id", "channel"])
    op.create_index("ix_lead_snapshots_account_updated", "lead_snapshots", ["account_id", "updated_at"])
    op.create_table(
        "lead_status_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.BigInteger(), nullable=False),
        sa.Column("pipeline_id", sa.Integer(), nullable=True),
        sa.Column("old_status_id", sa.Integer(), nullable=True),
        sa.Column("status_id", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.UniqueConstraint("account_id", "lead_id", "occurred_at", "status_id", name="uq_lead_status_event"),
    )
    op.create_index("ix_lead_status_events_account_time", "lead_status_events", ["account_id", "occurred_at"])


def downgrade() -> None:
    op.drop_table("lead_status_events")
    op.drop_table("lead_snapshots")
    op.drop_table("account_fields")
    op.drop_table("account_tokens")
    op.drop_table("accounts")
