"""Hypotheses recorded at the weekly meeting, per account: what should move, whose it is, since when.

Closed hypotheses stay (with the note they were closed with) so the history of what was tried is kept.
"""

from __future__ import annotations

import time
from datetime import date

from sqlalchemy import BigInteger, Date, Index, func
from sqlmodel import Field, Session, SQLModel, col, select


class Hypothesis(SQLModel, table=True):
    __tablename__ = "hypotheses"
    __table_args__ = (Index("ix_hypotheses_account_closed", "account_id", "closed_at"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int
    text: str
    owner_id: int | None = Field(default=None, sa_type=BigInteger, description="amoCRM user id")
    metric: str = Field(description="qualified_pct | conversion | cpl | cpql")
    direction: str = Field(description="up | down: where the metric should go")
    channel: str | None = Field(default=None, description="a channel key of the rule file; None: all leads")
    starts_on: date = Field(sa_type=Date)
    created_at: int = 0
    closed_at: int | None = None
    close_note: str = ""


def add_hypothesis(
    *,
    session: Session,
    account_id: int,
    text: str,
    owner_id: int | None,
    metric: str,
    direction: str,
    channel: str | None,
    starts_on: date,
    now: int | None = None,
) -> Hypothesis:
    row = Hypothesis(
        account_id=account_id,
        text=text,
        owner_id=owner_id,
        metric=metric,
        direction=direction,
        channel=channel,
        starts_on=starts_on,
        created_at=int(time.time()) if now is None else now,
    )
    session.add(row)
    session.flush()
    return row


def list_hypotheses(*, session: Session, account_id: int, include_closed: bool = False) -> list[Hypothesis]:
    statement = select(Hypothesis).where(Hypothesis.account_id == account_id)
    if not include_closed:
        statement = statement.where(col(Hypothesis.closed_at).is_(None))
    return list(session.exec(statement.order_by(col(Hypothesis.id))))


def close_hypothesis(
    *, session: Session, account_id: int, hypothesis_id: int, note: str, now: int | None = None
) -> Hypothesis | None:
    """Closes an open hypothesis of the account; None when there is no such open hypothesis."""
    row = session.get(Hypothesis, hypothesis_id)
    if row is None or row.account_id != account_id or row.closed_at is not None:
        return None
    row.closed_at = int(time.time()) if now is None else now
    row.close_note = note
    session.add(row)
    session.flush()
    return row


def hypotheses_fingerprint(*, session: Session, account_id: int) -> tuple[int, int | None, int]:
    """Changes when a hypothesis is recorded or closed: (how many, the newest id, how many closed)."""
    count, newest, closed = session.exec(
        select(func.count(), func.max(col(Hypothesis.id)), func.count(col(Hypothesis.closed_at))).where(
            col(Hypothesis.account_id) == account_id
        )
    ).one()
    return int(count), None if newest is None else int(newest), int(closed)
