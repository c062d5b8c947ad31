"""Funnel statistics: plans, marketing spend, frozen bonus bases, pipeline stage order, backfill checkpoints,
and the figures last written to amoCRM (so a re-push writes only what changed).

Periods are calendar dates (inclusive on both ends): plans and spend are entered by people per month or week,
not per amoCRM timestamp.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Numeric, UniqueConstraint, delete, select
from sqlmodel import Field, Session, SQLModel


class StatsPlan(SQLModel, table=True):
    """What an account plans for one period; a figure left empty is simply not planned."""

    __tablename__ = "stats_plans"
    __table_args__ = (
        UniqueConstraint("account_id", "period_start", "period_end", name="uq_stats_plan_period"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(index=True)
    period_start: date
    period_end: date
    leads: int | None = None
    qualified: int | None = None
    deals: int | None = None
    revenue: int | None = Field(default=None, sa_type=BigInteger)
    updated_at: int = 0


class StatsSpend(SQLModel, table=True):
    """Marketing spend of one channel over one period, in the account's currency."""

    __tablename__ = "stats_spend"
    __table_args__ = (
        UniqueConstraint("account_id", "channel", "period_start", "period_end", name="uq_stats_spend_period"),
        Index("ix_stats_spend_account_period", "account_id", "period_start"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int
    channel: str
    period_start: date
    period_end: date
    amount: Decimal = Field(sa_column=Column(Numeric(14, 2), nullable=False))
    updated_at: int = 0


class StatsBonusSnapshot(SQLModel, table=True):
    """The marketing bonus base of a closed period, frozen so later rule changes or edits cannot alter it."""

    __tablename__ = "stats_bonus_snapshots"
    __table_args__ = (
        UniqueConstraint("account_id", "period_start", "period_end", name="uq_stats_bonus_period"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(index=True)
    period_start: date
    period_end: date
    rule_version: int | None = None
    lead_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    figures: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    open_disputes: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    frozen_at: int = 0


class StatsPipelineStage(SQLModel, table=True):
    """The order of a pipeline's statuses as amoCRM shows them (stage-to-stage conversion follows it)."""

    __tablename__ = "stats_pipeline_stages"

    account_id: int = Field(primary_key=True)
    pipeline_id: int = Field(primary_key=True)
    status_id: int = Field(primary_key=True)
    sort: int = 0
    name: str = ""
    pipeline_name: str = ""


class StatsBackfillCheckpoint(SQLModel, table=True):
    """How far `leadpact backfill` got, so a crash or Ctrl-C resumes instead of starting over."""

    __tablename__ = "stats_backfill_checkpoints"

    account_id: int = Field(primary_key=True)
    since: int
    # Leads come ordered by updated_at; everything strictly before this time is stored.
    cursor_updated_at: int
    leads_done: int = 0
    events_done: int = 0
    finished_at: int | None = None
    updated_at: int = 0
    # Whether amoCRM's events list answered on the last run (None: not known — an older run).
    events_api: bool | None = None


class StatsPushedValue(SQLModel, table=True):
    """The last figure LeadPact wrote to one amoCRM target (a catalog element or a lead), by key."""

    __tablename__ = "stats_pushed_values"

    account_id: int = Field(primary_key=True)
    target: str = Field(primary_key=True)  # "lead" or "element"
    key: str = Field(primary_key=True)  # lead id, or "period|channel" for catalog elements
    entity_id: int = Field(default=0, sa_type=BigInteger)
    value: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    pushed_at: int = 0


# --- plans -----------------------------------------------------------------------------------------------


def list_plans(*, session: Session, account_id: int) -> list[StatsPlan]:
    statement = select(StatsPlan).where(StatsPlan.account_id == account_id).order_by(StatsPlan.period_start)  # type: ignore[arg-type]
    return list(session.scalars(statement))


def upsert_plan(
    *,
    session: Session,
    account_id: int,
    period_start: date,
    period_end: date,
    figures: dict[str, int | None],
) -> StatsPlan:
    """Creates the plan of exactly this period or updates the given figures of it (others stay)."""
    statement = select(StatsPlan).where(
        StatsPlan.account_id == account_id,  # type: ignore[arg-type]
        StatsPlan.period_start == period_start,  # type: ignore[arg-type]
        StatsPlan.period_end == period_end,  # type: ignore[arg-type]
    )
    plan = session.scalars(statement).first()
    if plan is None:
        plan = StatsPlan(account_id=account_id, period_start=period_start, period_end=period_end)
    for name, value in figures.items():
        setattr(plan, name, value)
    plan.updated_at = int(time.time())
    session.add(plan)
    session.flush()
    return plan


# --- spend -----------------------------------------------------------------------------------------------


def list_spend(*, session: Session, account_id: int) -> list[StatsSpend]:
    statement = (
        select(StatsSpend)
        .where(StatsSpend.account_id == account_id)  # type: ignore[arg-type]
        .order_by(StatsSpend.period_start, StatsSpend.channel)  # type: ignore[arg-type]
    )
    return list(session.scalars(statement))


def upsert_spend(
    *,
    session: Session,
    account_id: int,
    channel: str,
    period_start: date,
    period_end: date,
    amount: Decimal,
) -> StatsSpend:
    statement = select(StatsSpend).where(
        StatsSpend.account_id == account_id,  # type: ignore[arg-type]
        StatsSpend.channel == channel,  # type: ignore[arg-type]
        StatsSpend.period_start == period_start,  # type: ignore[arg-type]
        StatsSpend.period_end == period_end,  # type: ignore[arg-type]
    )
    row = session.scalars(statement).first()
    if row is None:
        row = StatsSpend(
            account_id=account_id,
            channel=channel,
            period_start=period_start,
            period_end=period_end,
            amount=amount,
        )
    row.amount = amount
    row.updated_at = int(time.time())
    session.add(row)
    session.flush()
    return row


# --- bonus snapshots ---------------------------------------------------------------------------------------


def get_bonus_snapshot(
    *, session: Session, account_id: int, period_start: date, period_end: date
) -> StatsBonusSnapshot | None:
    statement = select(StatsBonusSnapshot).where(
        StatsBonusSnapshot.account_id == account_id,  # type: ignore[arg-type]
        StatsBonusSnapshot.period_start == period_start,  # type: ignore[arg-type]
        StatsBonusSnapshot.period_end == period_end,  # type: ignore[arg-type]
    )
    return session.scalars(statement).first()


def insert_bonus_snapshot(*, session: Session, snapshot: StatsBonusSnapshot) -> StatsBonusSnapshot:
    session.add(snapshot)
    session.flush()
    return snapshot


# --- pipeline stages ---------------------------------------------------------------------------------------


def replace_pipeline_stages(
    *,
    session: Session,
    account_id: int,
    stages: list[tuple[int, int, int, str]],
    pipeline_names: Mapping[int, str] | None = None,
) -> None:
    """Stores the account's stage order: (pipeline_id, status_id, sort, name) rows replace the old ones."""
    session.execute(delete(StatsPipelineStage).where(StatsPipelineStage.account_id == account_id))  # type: ignore[arg-type]
    names = pipeline_names or {}
    for pipeline_id, status_id, sort, name in stages:
        session.add(
            StatsPipelineStage(
                account_id=account_id,
                pipeline_id=pipeline_id,
                status_id=status_id,
                sort=sort,
                name=name,
                pipeline_name=names.get(pipeline_id, ""),
            )
        )
    session.flush()


def list_pipeline_stages(*, session: Session, account_id: int) -> list[StatsPipelineStage]:
    statement = (
        select(StatsPipelineStage)
        .where(StatsPipelineStage.account_id == account_id)  # type: ignore[arg-type]
        .order_by(StatsPipelineStage.pipeline_id, StatsPipelineStage.sort, StatsPipelineStage.status_id)  # type: ignore[arg-type]
    )
    return list(session.scalars(statement))


# --- backfill checkpoints ----------------------------------------------------------------------------------


def get_checkpoint(*, session: Session, account_id: int) -> StatsBackfillCheckpoint | None:
    return session.get(StatsBackfillCheckpoint, account_id)


def save_checkpoint(*, session: Session, checkpoint: StatsBackfillCheckpoint) -> None:
    checkpoint.updated_at = int(time.time())
    session.merge(checkpoint)
    session.flush()


def delete_checkpoint(*, session: Session, account_id: int) -> None:
    session.execute(
        delete(StatsBackfillCheckpoint).where(StatsBackfillCheckpoint.account_id == account_id)  # type: ignore[arg-type]
    )


# --- pushed values -----------------------------------------------------------------------------------------


def load_pushed_values(*, session: Session, account_id: int, target: str) -> dict[str, StatsPushedValue]:
    statement = select(StatsPushedValue).where(
        StatsPushedValue.account_id == account_id,  # type: ignore[arg-type]
        StatsPushedValue.target == target,  # type: ignore[arg-type]
    )
    return {row.key: row for row in session.scalars(statement)}


def save_pushed_value(
    *,
    session: Session,
    account_id: int,
    target: str,
    key: str,
    entity_id: int,
    value: dict[str, Any],
    pushed_at: int,
) -> None:
    session.merge(
        StatsPushedValue(
            account_id=account_id,
            target=target,
            key=key,
            entity_id=entity_id,
            value=value,
            pushed_at=pushed_at,
        )
    )
