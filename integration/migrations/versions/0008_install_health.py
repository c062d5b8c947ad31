"""install health per account (tokens, fields, webhook, rules mapping, last error) and the provisioning job's state

Every account installed before this revision is scheduled for provisioning once more: that run creates the
API-only fields and switches «Целевой» from the old checkbox to the Да/Нет select.

Revision ID: 0008_install_health
Revises: 0007
"""

import time

import sqlalchemy as sa
from alembic import op

revision = "0008_install_health"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "install_health",
        sa.Column(
            "account_id",
            sa.Integer(),
            sa.ForeignKey("accounts.id", ondelete="CASCADE"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("tokens_checked_at", sa.Integer(), nullable=True),
        sa.Column("fields_state", sa.String(), nullable=False),
        sa.Column("fields_checked_at", sa.Integer(), nullable=True),
        sa.Column("webhook_state", sa.String(), nullable=False),
        sa.Column("webhook_checked_at", sa.Integer(), nullable=True),
        sa.Column("rules_state", sa.String(), nullable=False),
        sa.Column("rules_missing_roles", sa.JSON(), nullable=False),
        sa.Column("rules_checked_at", sa.Integer(), nullable=True),
        sa.Column("provisioning_state", sa.String(), nullable=False),
        sa.Column("provisioning_attempts", sa.Integer(), nullable=False),
        sa.Column("provisioning_next_at", sa.Float(), nullable=False),
        sa.Column("provisioning_lease_until", sa.Float(), nullable=True),
        sa.Column("provisioned_at", sa.Integer(), nullable=True),
        sa.Column("last_error_cause", sa.String(), nullable=True),
        sa.Column("last_error_step", sa.String(), nullable=True),
        sa.Column("last_error_detail", sa.String(), nullable=True),
        sa.Column("last_error_at", sa.Integer(), nullable=True),
    )
    op.create_index("ix_install_health_provisioning_state", "install_health", ["provisioning_state"])
    op.execute(
        sa.text(
            "INSERT INTO install_health (account_id, fields_state, webhook_state, rules_state, "
            "rules_missing_roles, provisioning_state, provisioning_attempts, provisioning_next_at) "
            "SELECT id, 'pending', 'missing', 'unchecked', '[]', 'pending', 0, :now FROM accounts "
            "WHERE status != 'removed'"
        ).bindparams(now=time.time())
    )


def downgrade() -> None:
    op.drop_index("ix_install_health_provisioning_state", table_name="install_health")
    op.drop_table("install_health")
