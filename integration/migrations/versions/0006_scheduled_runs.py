"""scheduled job runs (once per account, job and period across replicas)

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scheduled_runs",
        sa.Column("account_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("job", sa.String(), primary_key=True),
        sa.Column("period_key", sa.String(), primary_key=True),
        sa.Column("claimed_at", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("scheduled_runs")
