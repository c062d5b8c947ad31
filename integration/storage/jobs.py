"""Scheduled-job runs: one row per (account, job, period) makes a periodic job run once across replicas."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel

from integration.db import session_scope


class ScheduledRun(SQLModel, table=True):
    __tablename__ = "scheduled_runs"

    account_id: int = Field(primary_key=True)
    job: str = Field(primary_key=True)
    period_key: str = Field(primary_key=True, description="e.g. 2026-W47, or the hour number")
    claimed_at: float


def claim_run(*, engine: Engine, account_id: int, job: str, period_key: str, now: float) -> bool:
    """True for exactly one caller per (account, job, period), whichever replica it runs in."""
    try:
        with session_scope(engine) as session:
            session.add(ScheduledRun(account_id=account_id, job=job, period_key=period_key, claimed_at=now))
    except IntegrityError:
        return False
    return True


def release_run(*, engine: Engine, account_id: int, job: str, period_key: str) -> None:
    """Forget a claim whose job failed, so the next tick tries again."""
    with session_scope(engine) as session:
        session.execute(
            delete(ScheduledRun).where(
                ScheduledRun.account_id == account_id,  # type: ignore[arg-type]
                ScheduledRun.job == job,  # type: ignore[arg-type]
                ScheduledRun.period_key == period_key,  # type: ignore[arg-type]
            )
        )
