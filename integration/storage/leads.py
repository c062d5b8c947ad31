"""What LeadPact knows of each lead: the latest snapshot with its classification, and status-change history."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Table, UniqueConstraint, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Field, Session, SQLModel, col

from integration.i18n import Language
from rules import Classification


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


# --- data access -------------------------------------------------------------------------------------------


def snapshot_row(
    account_id: int,
    lead: Mapping[str, Any],
    classification: Classification,
    *,
    rule_version: int,
    classified_at: int,
    lang: Language,
) -> dict[str, Any]:
    """A `lead_snapshots` row from amoCRM's v4 lead JSON and what the rules made of it."""
    return {
        "account_id": account_id,
        "lead_id": int(lead["id"]),
        "name": lead.get("name") or "",
        "price": lead.get("price"),
        "status_id": lead.get("status_id"),
        "pipeline_id": lead.get("pipeline_id"),
        "responsible_user_id": lead.get("responsible_user_id"),
        "created_at": lead.get("created_at") or 0,
        "updated_at": lead.get("updated_at") or 0,
        "closed_at": lead.get("closed_at"),
        "is_deleted": bool(lead.get("is_deleted")),
        "data": dict(lead),
        "channel": classification.channel,
        "level": classification.level,
        "qualified": classification.qualified,
        "reason": classification.reason(lang),
        "rule_version": rule_version,
        "classified_at": classified_at,
    }


def advance_snapshots(*, session: Session, account_id: int, leads: Sequence[Mapping[str, Any]]) -> None:
    """Hold these leads' newer state (v4 JSON) without re-classifying: the echo of our own write, whose only
    change is the values we computed. A snapshot already newer is left alone."""
    for lead in leads:
        session.execute(
            update(LeadSnapshot)
            .where(
                col(LeadSnapshot.account_id) == account_id,
                col(LeadSnapshot.lead_id) == int(lead["id"]),
                col(LeadSnapshot.updated_at) < int(lead["updated_at"] or 0),
            )
            .values(updated_at=int(lead["updated_at"] or 0), data=dict(lead))
        )


def dialect_insert(session: Session) -> Any:
    """The INSERT that can say ON CONFLICT on this session's backend (PostgreSQL or SQLite)."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def upsert_snapshots(*, session: Session, rows: Sequence[Mapping[str, Any]], chunk: int = 200) -> None:
    """Store snapshots; an older state (smaller `updated_at`) never overwrites a newer one already stored."""
    if not rows:
        return
    insert = dialect_insert(session)
    table: Table = LeadSnapshot.__table__  # type: ignore[attr-defined]
    for start in range(0, len(rows), chunk):
        statement = insert(table).values(list(rows[start : start + chunk]))
        newer = {name: statement.excluded[name] for name in rows[0] if name not in ("account_id", "lead_id")}
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["account_id", "lead_id"],
                set_=newer,
                where=table.c.updated_at <= statement.excluded.updated_at,
            )
        )


def insert_status_events(*, session: Session, rows: Sequence[Mapping[str, Any]], chunk: int = 500) -> None:
    """Record status moves; one already recorded (same lead, time and status) is kept once."""
    insert = dialect_insert(session)
    table: Table = LeadStatusEvent.__table__  # type: ignore[attr-defined]
    for start in range(0, len(rows), chunk):
        session.execute(insert(table).values(list(rows[start : start + chunk])).on_conflict_do_nothing())
