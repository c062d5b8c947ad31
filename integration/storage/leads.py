"""What LeadPact knows of each lead: the latest snapshot with its classification, and status-change history."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel


class LeadSnapshot(SQLModel, table=True):
    """The newest state of one lead as amoCRM returned it (API v4 shape), plus what our rules made of it.

    Times are unix seconds, as amoCRM gives them, so aggregations stay cheap on both backends.
    """

    __tablename__ = "lead_snapshots"
    __table_args__ = (
        Index("ix_lead_snapshots_account_created", "account_id", "created_at"),
        Index("ix_lead_snapshots_account_channel", "account_id", "channel"),
        Index("ix_lead_snapshots_account_updated", "account_id", "updated_at"),
    )

    account_id: int = Field(primary_key=True)
    lead_id: int = Field(primary_key=True, sa_type=BigInteger)
    name: str = ""
    price: int | None = None
    status_id: int | None = None
    pipeline_id: int | None = None
    responsible_user_id: int | None = None
    created_at: int = 0
    updated_at: int = 0
    closed_at: int | None = None
    is_deleted: bool = False
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # Classification by the active rules (None until classified).
    channel: str | None = None
    level: str | None = None
    qualified: bool | None = None
    reason: str | None = None
    rule_version: int | None = None
    classified_at: int | None = None


class LeadStatusEvent(SQLModel, table=True):
    """A lead moved from one status to another (from webhooks, reconciliation or backfill)."""

    __tablename__ = "lead_status_events"
    __table_args__ = (
        UniqueConstraint("account_id", "lead_id", "occurred_at", "status_id", name="uq_lead_status_event"),
        Index("ix_lead_status_events_account_time", "account_id", "occurred_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int
    lead_id: int = Field(sa_type=BigInteger)
    pipeline_id: int | None = None
    old_status_id: int | None = None
    status_id: int
    occurred_at: int
    source: str = "webhook"
