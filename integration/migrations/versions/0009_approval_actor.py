"""rule approvals record who actually signed (the amoCRM user, or the operator running the CLI)

`approver` is the name the sign-off was given under; `actor` is who gave it, so one person cannot sign a version
off for both marketing and sales under two names.

Revision ID: 0009_approval_actor
Revises: 0008_install_health
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_approval_actor"
down_revision = "0008_install_health"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("rule_approvals") as table:
        table.add_column(sa.Column("actor", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rule_approvals") as table:
        table.drop_column("actor")
