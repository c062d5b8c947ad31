"""field mapping: the proposal per account, and the mapping each rule version carries

Real accounts' lead fields have no `code`; a rule file names roles (budget, decision maker, …) and each rule
version carries the account's role → field id mapping that was signed off with it.

Revision ID: 0009_field_mapping
Revises: 0008_install_health
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_field_mapping"
down_revision = "0008_install_health"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "field_mapping_proposals",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("mapping", sa.JSON(), nullable=False),
        sa.Column("origins", sa.JSON(), nullable=False),
        sa.Column("catalog", sa.JSON(), nullable=False),
        sa.Column("proposed_at", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("account_id"),
    )
    with op.batch_alter_table("rule_versions") as batch:
        batch.add_column(sa.Column("mapping", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rule_versions") as batch:
        batch.drop_column("mapping")
    op.drop_table("field_mapping_proposals")
