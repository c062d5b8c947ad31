"""inbox items count the parts of their delivery that could not be read

A delivery is salvaged rather than failed whole (issue 13): a bad value fails only its field, an entity that
cannot be read fails alone. `unreadable_count` keeps how many parts were lost per delivery, so the inbox page
can say "delivered, N fields unreadable" without reading every stored event.

Revision ID: 0012_inbox_unreadable
Revises: 0011_sign_off_people
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_inbox_unreadable"
down_revision = "0011_sign_off_people"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbox_items") as batch:
        batch.add_column(sa.Column("unreadable_count", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("inbox_items") as batch:
        batch.drop_column("unreadable_count")
