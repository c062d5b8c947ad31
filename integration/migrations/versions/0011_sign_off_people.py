"""sign-off by two real people: who signs for each department, who actually gave each sign-off, and disputes
that reach the rule owners (the disputed criterion, the amoCRM task, the owner's answer)

`rule_signers` maps each sign-off role (marketing, sales) of an account to amoCRM users, with the name they were
picked by. `rule_approvals.actor` is who gave a sign-off (the amoCRM user, or the operator running the CLI), so
one person cannot sign a version off for both departments under two names.

Revision ID: 0011_sign_off_people
Revises: 0010_users_cache
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_sign_off_people"
down_revision = "0010_users_cache"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("rule_approvals") as table:
        table.add_column(sa.Column("actor", sa.String(), nullable=True))
    op.create_table(
        "rule_signers",
        sa.Column("account_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("role", sa.String(), primary_key=True),
        sa.Column("user_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("user_name", sa.String(), nullable=False),
    )
    with op.batch_alter_table("lead_disputes") as table:
        table.add_column(sa.Column("criterion", sa.String(), nullable=True))
        table.add_column(sa.Column("task_id", sa.BigInteger(), nullable=True))
        table.add_column(sa.Column("answer", sa.String(), nullable=True))
        table.add_column(sa.Column("answered_by", sa.String(), nullable=True))
        table.add_column(sa.Column("answered_at", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("lead_disputes") as table:
        for column in ("answered_at", "answered_by", "answer", "task_id", "criterion"):
            table.drop_column(column)
    op.drop_table("rule_signers")
    with op.batch_alter_table("rule_approvals") as table:
        table.drop_column("actor")
