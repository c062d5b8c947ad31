"""the first action a person took on each lead, and how far the pull of actions has read (speed to lead, #14)

Revision ID: 0014_first_touches
Revises: 0013_hypotheses
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_first_touches"
down_revision = "0013_hypotheses"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lead_first_touches",
        sa.Column("account_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("lead_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("touched_at", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
    )
    op.create_table(
        "touch_pull_cursors",
        sa.Column("account_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("pulled_until", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("touch_pull_cursors")
    op.drop_table("lead_first_touches")
