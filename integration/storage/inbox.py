"""The durable inbox of amoCRM webhooks, reconciliation watermarks and the shared per-account rate budget.

Every webhook the receiver accepts is one `InboxItem` (raw body + parsed events), written before amoCRM
gets its 200. Workers lease items (`claim_batch`): a lease is an owner plus an expiry, so a crashed worker's
items become claimable again once the lease runs out. On PostgreSQL the claim uses `FOR UPDATE SKIP LOCKED`,
so several workers and replicas never take the same item; SQLite serialises writers,
which is enough for one process.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, Column, Float, Index, Integer, Table, Text, func, insert, update
from sqlalchemy.engine import Connection
from sqlmodel import Field, Session, SQLModel, col, select


class InboxStatus:
    PENDING = "pending"  # waiting for (or leased by) a worker
    DONE = "done"
    FAILED = "failed"  # the body could not be parsed; kept with the reason, retryable by hand
    DEAD = "dead"  # processing failed `worker_max_attempts` times; retryable by hand


PROBLEM_STATUSES = (InboxStatus.FAILED, InboxStatus.DEAD)


class InboxItem(SQLModel, table=True):
    """One delivery: a webhook POST as received, or a batch of updates found by reconciliation."""

    __tablename__ = "inbox_items"
    __table_args__ = (
        Index("ix_inbox_items_status_next", "status", "next_attempt_at"),
        Index("ix_inbox_items_account_status", "account_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int
    source: str = Field(default="webhook", description="webhook | reconcile")
    # Times here are unix seconds (float): cheap to compare and identical on SQLite and PostgreSQL.
    received_at: float = Field(default_factory=time.time, sa_column=Column(Float, nullable=False))
    body: str = Field(default="", sa_column=Column(Text, nullable=False))
    events: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    event_count: int = 0
    # Parts of the delivery that could not be read (fields, or whole entities): the rest was applied.
    unreadable_count: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    status: str = Field(default=InboxStatus.PENDING)
    attempts: int = 0
    next_attempt_at: float = Field(default_factory=time.time, sa_column=Column(Float, nullable=False))
    lease_owner: str | None = None
    lease_expires_at: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    processed_at: float | None = Field(default=None, sa_column=Column(Float, nullable=True))


class ReconcileWatermark(SQLModel, table=True):
    """How far reconciliation has read an account's leads (amoCRM `updated_at`, unix seconds)."""

    __tablename__ = "reconcile_watermarks"

    account_id: int = Field(primary_key=True)
    leads_updated_at: int = 0
    last_run_at: float | None = Field(default=None, sa_column=Column(Float, nullable=True))


class RateBudget(SQLModel, table=True):
    """The next free request slot of an account (unix seconds), shared by every worker and replica."""

    __tablename__ = "rate_budgets"

    account_id: int = Field(primary_key=True)
    next_slot_at: float = Field(default=0.0, sa_column=Column(Float, nullable=False))


@dataclass(frozen=True, slots=True)
class InboxStats:
    pending: int
    done: int
    failed: int
    dead: int
    oldest_pending_age_seconds: float


def add_item(
    *,
    session: Session,
    account_id: int,
    body: str,
    events: Sequence[dict[str, Any]],
    source: str = "webhook",
    parse_error: str | None = None,
    now: float | None = None,
) -> InboxItem:
    """Store one delivery; with `parse_error` it is kept as a failed item for a person to look at."""
    now = time.time() if now is None else now
    item = InboxItem(
        account_id=account_id,
        source=source,
        received_at=now,
        body=body,
        events=list(events),
        event_count=len(events),
        status=InboxStatus.FAILED if parse_error else InboxStatus.PENDING,
        next_attempt_at=now,
        last_error=parse_error,
    )
    session.add(item)
    session.flush()
    return item


# Leads per queued item: one claim re-evaluates a chunk, one GET reads it.
LEAD_UPDATE_CHUNK = 250


def enqueue_lead_updates(
    *,
    session: Session,
    account_id: int,
    lead_ids: Sequence[int],
    source: str,
    updated_at: Mapping[int, int] | None = None,
    now: float | None = None,
) -> int:
    """Ask the worker to re-read and re-evaluate these leads (reconciliation, rule changes, ended promos).

    With `updated_at` the event carries the lead's amoCRM time, so a worker holding a newer state skips it;
    without, the worker always re-reads the lead.
    """
    for start in range(0, len(lead_ids), LEAD_UPDATE_CHUNK):
        events: list[dict[str, Any]] = []
        for lead_id in lead_ids[start : start + LEAD_UPDATE_CHUNK]:
            event: dict[str, Any] = {"kind": "lead", "action": "update", "lead_id": int(lead_id)}
            if updated_at is not None and lead_id in updated_at:
                event["updated_at"] = updated_at[lead_id]
            events.append(event)
        add_item(session=session, account_id=account_id, body="", events=events, source=source, now=now)
    return len(lead_ids)


@dataclass(frozen=True, slots=True)
class NewInboxItem:
    account_id: int
    body: str
    events: Sequence[dict[str, Any]]
    parse_error: str | None = None
    source: str = "webhook"
    unreadable_count: int = 0


_ITEMS: Table = InboxItem.__table__  # type: ignore[attr-defined]
_INSERT_ITEM = insert(_ITEMS)
_NEW_ITEM_COLUMNS = (
    "account_id",
    "source",
    "received_at",
    "body",
    "events",
    "event_count",
    "unreadable_count",
    "status",
    "attempts",
    "next_attempt_at",
    "last_error",
)
COPY_NEW_ITEMS = f"COPY inbox_items ({', '.join(_NEW_ITEM_COLUMNS)}) FROM STDIN"


def copy_row(item: NewInboxItem, now: float, serialize: Callable[[Any], str]) -> tuple[Any, ...]:
    """One item as a row of `COPY_NEW_ITEMS`."""
    return (
        item.account_id,
        item.source,
        now,
        item.body,
        serialize(list(item.events)),
        len(item.events),
        item.unreadable_count,
        InboxStatus.FAILED if item.parse_error else InboxStatus.PENDING,
        0,
        now,
        item.parse_error,
    )


def add_items(*, connection: Connection, items: Sequence[NewInboxItem], now: float | None = None) -> None:
    """Store many deliveries in the connection's transaction with one Core executemany (the receiver's group
    commit on SQLite; PostgreSQL's goes through COPY, see `inbox_appender`)."""
    if not items:
        return
    now = time.time() if now is None else now
    rows = [
        {
            "account_id": item.account_id,
            "source": item.source,
            "received_at": now,
            "body": item.body,
            "events": list(item.events),
            "event_count": len(item.events),
            "unreadable_count": item.unreadable_count,
            "status": InboxStatus.FAILED if item.parse_error else InboxStatus.PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "lease_owner": None,
            "lease_expires_at": None,
            "last_error": item.parse_error,
            "processed_at": None,
        }
        for item in items
    ]
    connection.execute(_INSERT_ITEM, rows)


def claim_batch(
    *,
    session: Session,
    owner: str,
    limit: int,
    lease_seconds: float,
    now: float | None = None,
    account_id: int | None = None,
    account_ids: Sequence[int] | None = None,
    received_before: float | None = None,
) -> list[InboxItem]:
    """Lease up to `limit` due items to `owner`, oldest first; visible to others once the session commits."""
    now = time.time() if now is None else now
    due = (
        select(col(InboxItem.id))
        .where(
            col(InboxItem.status) == InboxStatus.PENDING,
            col(InboxItem.next_attempt_at) <= now,
            (col(InboxItem.lease_expires_at).is_(None)) | (col(InboxItem.lease_expires_at) < now),
        )
        .order_by(col(InboxItem.id))
        .limit(limit)
    )
    if account_id is not None:
        due = due.where(col(InboxItem.account_id) == account_id)
    if account_ids is not None:
        due = due.where(col(InboxItem.account_id).in_(account_ids))
    if received_before is not None:
        due = due.where(col(InboxItem.received_at) <= received_before)
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    statement = (
        update(InboxItem)
        .where(col(InboxItem.id).in_(due.scalar_subquery()))
        .values(lease_owner=owner, lease_expires_at=now + lease_seconds)
        .returning(InboxItem)
        .execution_options(synchronize_session=False)
    )
    items = list(session.exec(statement).scalars())
    return sorted(items, key=lambda item: item.id or 0)


def pending_lead_times(*, session: Session, account_id: int) -> dict[int, int]:
    """Lead id → the newest amoCRM time of a lead event still waiting in the account's inbox (webhooks only)."""
    times: dict[int, int] = {}
    rows = session.exec(
        select(col(InboxItem.events)).where(
            col(InboxItem.account_id) == account_id,
            col(InboxItem.status) == InboxStatus.PENDING,
            col(InboxItem.source) == "webhook",
        )
    )
    for events in rows:
        for event in events or ():
            if event.get("kind") != "lead" or not isinstance(event.get("lead_id"), int):
                continue
            at = event.get("last_modified") or event.get("updated_at") or event.get("created_at")
            if isinstance(at, int) and at > times.get(event["lead_id"], -1):
                times[event["lead_id"]] = at
    return times


def accounts_due(
    *, session: Session, oldest_received_before: float, events_at_least: int, now: float | None = None
) -> list[int]:
    """Accounts whose waiting deliveries are due as one batch: the oldest was received before
    `oldest_received_before`, or they hold at least `events_at_least` events (the write-back window)."""
    now = time.time() if now is None else now
    query = (
        select(col(InboxItem.account_id))
        .where(
            col(InboxItem.status) == InboxStatus.PENDING,
            col(InboxItem.next_attempt_at) <= now,
            (col(InboxItem.lease_expires_at).is_(None)) | (col(InboxItem.lease_expires_at) < now),
        )
        .group_by(col(InboxItem.account_id))
        .having(
            (func.min(col(InboxItem.received_at)) <= oldest_received_before)
            | (func.sum(col(InboxItem.event_count)) >= events_at_least)
        )
    )
    return [int(account_id) for account_id in session.exec(query)]


def complete_items(*, session: Session, ids: Sequence[int], owner: str, now: float | None = None) -> int:
    """Mark leased items done; items whose lease was lost to another worker are left alone."""
    if not ids:
        return 0
    result = session.exec(
        update(InboxItem)
        .where(col(InboxItem.id).in_(ids), col(InboxItem.lease_owner) == owner)
        .values(
            status=InboxStatus.DONE,
            processed_at=time.time() if now is None else now,
            lease_owner=None,
            lease_expires_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def release_for_retry(
    *,
    session: Session,
    ids: Sequence[int],
    owner: str,
    error: str,
    max_attempts: int,
    delay_seconds: float,
    now: float | None = None,
) -> None:
    """Count a failed attempt: the items come back after `delay_seconds`, or go dead after `max_attempts`."""
    if not ids:
        return
    now = time.time() if now is None else now
    mine = (col(InboxItem.id).in_(ids), col(InboxItem.lease_owner) == owner)
    session.exec(
        update(InboxItem)
        .where(*mine)
        .values(
            attempts=col(InboxItem.attempts) + 1,
            last_error=error[:2000],
            next_attempt_at=now + delay_seconds,
            lease_owner=None,
            lease_expires_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    session.exec(
        update(InboxItem)
        .where(col(InboxItem.id).in_(ids), col(InboxItem.attempts) >= max_attempts)
        .where(col(InboxItem.status) == InboxStatus.PENDING)
        .values(status=InboxStatus.DEAD)
        .execution_options(synchronize_session=False)
    )


def problem_items(*, session: Session, account_id: int | None = None, limit: int = 100) -> list[InboxItem]:
    """Failed (unparseable) and dead-lettered items, newest first."""
    query = select(InboxItem).where(col(InboxItem.status).in_(PROBLEM_STATUSES))
    if account_id is not None:
        query = query.where(col(InboxItem.account_id) == account_id)
    return list(session.exec(query.order_by(col(InboxItem.id).desc()).limit(limit)))


def salvaged_items(*, session: Session, account_id: int, limit: int = 20) -> list[InboxItem]:
    """Deliveries taken with some parts unreadable (the rest applied), newest first."""
    query = select(InboxItem).where(
        col(InboxItem.account_id) == account_id,
        col(InboxItem.unreadable_count) > 0,
        col(InboxItem.status).not_in(PROBLEM_STATUSES),
    )
    return list(session.exec(query.order_by(col(InboxItem.id).desc()).limit(limit)))


def requeue_item(
    *,
    session: Session,
    item_id: int,
    events: Sequence[dict[str, Any]] | None = None,
    parse_error: str | None = None,
) -> InboxItem | None:
    """Put a failed or dead item back in the queue, optionally with freshly parsed events; None if unknown."""
    item = session.get(InboxItem, item_id)
    if item is None:
        return None
    if events is not None:
        item.events = list(events)
        item.event_count = len(events)
    item.status = InboxStatus.FAILED if parse_error else InboxStatus.PENDING
    item.last_error = parse_error
    item.attempts = 0
    item.next_attempt_at = time.time()
    item.lease_owner = None
    item.lease_expires_at = None
    session.add(item)
    session.flush()
    return item


def inbox_stats(*, session: Session, now: float | None = None) -> InboxStats:
    now = time.time() if now is None else now
    counts: dict[str, int] = {
        status: int(count)
        for status, count in session.exec(
            select(col(InboxItem.status), func.count()).group_by(col(InboxItem.status))
        ).all()
    }
    oldest = session.exec(
        select(func.min(col(InboxItem.received_at))).where(col(InboxItem.status) == InboxStatus.PENDING)
    ).one_or_none()
    return InboxStats(
        pending=counts.get(InboxStatus.PENDING, 0),
        done=counts.get(InboxStatus.DONE, 0),
        failed=counts.get(InboxStatus.FAILED, 0),
        dead=counts.get(InboxStatus.DEAD, 0),
        oldest_pending_age_seconds=max(0.0, now - oldest) if oldest is not None else 0.0,
    )


def get_watermark(*, session: Session, account_id: int) -> ReconcileWatermark:
    mark = session.get(ReconcileWatermark, account_id)
    return mark or ReconcileWatermark(account_id=account_id)


def save_watermark(
    *, session: Session, account_id: int, leads_updated_at: int, now: float | None = None
) -> None:
    mark = session.get(ReconcileWatermark, account_id) or ReconcileWatermark(account_id=account_id)
    mark.leads_updated_at = max(mark.leads_updated_at, leads_updated_at)
    mark.last_run_at = time.time() if now is None else now
    session.add(mark)
    session.flush()
