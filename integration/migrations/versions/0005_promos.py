"""promos, coupon pools, promos applying to leads, disputes and event attendance

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "promos",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("description", sa.String(), nullable=False),
        sa.Column("condition", sa.String(), nullable=False),
        sa.Column("shared_code", sa.String(), nullable=True),
        sa.Column("uses_coupon_pool", sa.Boolean(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=True),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("catalog_element_id", sa.BigInteger(), nullable=True),
        sa.Column("catalog_synced_hash", sa.String(), nullable=True),
        sa.Column("updated_at", sa.Integer(), nullable=False),
        sa.UniqueConstraint("account_id", "key", name="uq_promos_account_key"),
    )
    op.create_table(
        "coupon_codes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("promo_id", sa.Integer(), sa.ForeignKey("promos.id", ondelete="CASCADE"), nullable=False),
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("lead_id", sa.BigInteger(), nullable=True),
        sa.Column("issued_at", sa.Integer(), nullable=True),
        sa.Column("used_at", sa.Integer(), nullable=True),
        sa.Column("used_by_user_id", sa.Integer(), nullable=True),
        sa.UniqueConstraint("account_id", "code", name="uq_coupon_codes_account_code"),
        sa.UniqueConstraint("promo_id", "lead_id", name="uq_coupon_codes_promo_lead"),
    )
    op.create_table(
        "lead_promos",
        sa.Column("account_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("lead_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column(
            "promo_id",
            sa.Integer(),
            sa.ForeignKey("promos.id", ondelete="CASCADE"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("first_matched_at", sa.Integer(), nullable=False),
    )
    op.create_table(
        "lead_disputes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("channel", sa.String(), nullable=True),
        sa.Column("level", sa.String(), nullable=True),
        sa.Column("rule_version", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.Integer(), nullable=False),
    )
    op.create_index("ix_lead_disputes_account_created", "lead_disputes", ["account_id", "created_at"])
    op.create_table(
        "event_attendances",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=False),
        sa.Column("event_name", sa.String(), nullable=False),
        sa.Column("event_date", sa.Date(), nullable=False),
        sa.Column("imported_at", sa.Integer(), nullable=False),
        sa.UniqueConstraint(
            "account_id", "contact_id", "event_name", "event_date", name="uq_event_attendances_contact_event"
        ),
    )


def downgrade() -> None:
    op.drop_table("event_attendances")
    op.drop_index("ix_lead_disputes_account_created", table_name="lead_disputes")
    op.drop_table("lead_disputes")
    op.drop_table("lead_promos")
    op.drop_table("coupon_codes")
    op.drop_table("promos")
