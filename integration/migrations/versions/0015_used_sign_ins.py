"""sign-in tokens already used: each widget token or sign-in ticket opens one admin session

Revision ID: 0015_used_sign_ins
Revises: 0014_first_touches
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_used_sign_ins"
down_revision = "0014_first_touches"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "used_sign_ins",
        sa.Column("account_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("token_id", sa.String(length=200), primary_key=True),
        sa.Column("expires_at", sa.Integer(), nullable=False),
    )
    op.create_index("ix_used_sign_ins_expires_at", "used_sign_ins", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_used_sign_ins_expires_at", table_name="used_sign_ins")
    op.drop_table("used_sign_ins")
