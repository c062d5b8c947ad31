"""rulesets: rule-file versions per account and their marketing/sales approvals

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rule_versions",
        sa.Column("account_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("version", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("proposed_by", sa.String(), nullable=False),
        sa.Column("proposed_at", sa.Integer(), nullable=False),
        sa.Column("comment", sa.String(), nullable=False),
        sa.Column("diff", sa.Text(), nullable=False),
        sa.Column("based_on", sa.Integer(), nullable=False),
        sa.Column("activated_at", sa.Integer(), nullable=True),
        sa.Column("activated_by", sa.String(), nullable=True),
        sa.Column("emergency", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_rule_versions_account_status", "rule_versions", ["account_id", "status"])
    op.create_table(
        "rule_approvals",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("approver", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("at", sa.Integer(), nullable=False),
        sa.UniqueConstraint("account_id", "version", "role", "approver", name="uq_rule_approval"),
    )
    op.create_index("ix_rule_approvals_account_version", "rule_approvals", ["account_id", "version"])


def downgrade() -> None:
    op.drop_table("rule_approvals")
    op.drop_table("rule_versions")
