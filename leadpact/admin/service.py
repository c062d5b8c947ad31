"""What the admin pages ask of storage beyond the areas' own functions: one account's inbox health, a backtest
preview over its latest stored leads, and queueing its open leads for re-classification after an activation."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from integration.storage import inbox as inbox_store
from integration.storage.inbox import InboxItem, InboxStatus
from integration.storage.leads import LeadSnapshot
from integration.storage.rulesets import active_ruleset, active_version, missing_roles
from rules import BacktestLead, BacktestReport, RuleSet, backtest

# The preview must answer while the admin waits; the CLI backtest covers every stored lead.
PREVIEW_LEADS = 2_000
# One inbox item per this many leads: the worker coalesces and fetches them 250 per request.
RECLASSIFY_SOURCE = "rules"
WON_STATUS, LOST_STATUS = 142, 143


@dataclass(frozen=True, slots=True)
class InboxHealth:
    pending: int
    done: int
    failed: int
    dead: int
    lag_seconds: float


def inbox_health(*, session: Session, account_id: int, now: float | None = None) -> InboxHealth:
    """Depth, lag and problem counts of one account's inbox (other accounts' queues stay invisible)."""
    moment = time.time() if now is None else now
    counts = {
        status: int(count)
        for status, count in session.exec(
            select(col(InboxItem.status), func.count())
            .where(col(InboxItem.account_id) == account_id)
            .group_by(col(InboxItem.status))
        ).all()
    }
    oldest = session.exec(
        select(func.min(col(InboxItem.received_at))).where(
            col(InboxItem.account_id) == account_id, col(InboxItem.status) == InboxStatus.PENDING
        )
    ).one_or_none()
    return InboxHealth(
        pending=counts.get(InboxStatus.PENDING, 0),
        done=counts.get(InboxStatus.DONE, 0),
        failed=counts.get(InboxStatus.FAILED, 0),
        dead=counts.get(InboxStatus.DEAD, 0),
        lag_seconds=max(0.0, moment - oldest) if oldest is not None else 0.0,
    )


def _latest_leads(session: Session, account_id: int, limit: int) -> Iterator[BacktestLead]:
    rows = session.exec(
        select(col(LeadSnapshot.data), col(LeadSnapshot.lead_id), col(LeadSnapshot.status_id))
        .where(col(LeadSnapshot.account_id) == account_id, col(LeadSnapshot.is_deleted).is_(False))
        .order_by(col(LeadSnapshot.updated_at).desc())
        .limit(limit)
    )
    for data, lead_id, status_id in rows:
        lead = dict(data or {})
        lead.setdefault("id", lead_id)
        lead.setdefault("status_id", status_id)
        yield BacktestLead.from_lead(lead)


def backtest_preview(
    *,
    session: Session,
    account_id: int,
    candidate: RuleSet,
    limit: int = PREVIEW_LEADS,
    now: datetime | None = None,
) -> BacktestReport:
    """The candidate against the running rules over the account's latest stored leads."""
    _version, active = active_ruleset(session=session, account_id=account_id)
    return backtest(
        candidate, active, _latest_leads(session, account_id, limit), now or datetime.now(UTC), sample_size=5
    )


def lead_names(*, session: Session, account_id: int, lead_ids: list[int]) -> dict[int, str]:
    """Names of the given leads as stored (shown next to backtest samples so people recognise them)."""
    if not lead_ids:
        return {}
    rows = session.exec(
        select(col(LeadSnapshot.lead_id), col(LeadSnapshot.name)).where(
            col(LeadSnapshot.account_id) == account_id, col(LeadSnapshot.lead_id).in_(lead_ids)
        )
    ).all()
    return {int(lead_id): name for lead_id, name in rows}


def unmapped_running_version(*, session: Session, account_id: int) -> int | None:
    """The running version (0: default pack) when it reads a role the account's mapping leaves without a field.

    Its verdicts say «поле не сопоставлено»: they were never verdicts, so a won or lost lead keeps none of them.
    """
    if not missing_roles(session=session, account_id=account_id):
        return None
    return active_version(session=session, account_id=account_id)


def queue_reclassification(
    *, session: Session, account_id: int, now: float | None = None, unmapped_version: int | None = None
) -> int:
    """Queue every open lead of the account for the worker, which classifies it with the rules now running.

    Closed leads keep the classification they were closed with (their bonus base is frozen per period), except
    those classified by `unmapped_version` (see `unmapped_running_version`): those get their first real verdict.
    """
    is_open = func.coalesce(col(LeadSnapshot.status_id), 0).not_in([WON_STATUS, LOST_STATUS])
    wanted = (
        is_open
        if unmapped_version is None
        else or_(is_open, col(LeadSnapshot.rule_version) == unmapped_version)
    )
    lead_ids = session.exec(
        select(col(LeadSnapshot.lead_id))
        .where(col(LeadSnapshot.account_id) == account_id, col(LeadSnapshot.is_deleted).is_(False), wanted)
        .order_by(col(LeadSnapshot.lead_id))
    ).all()
    inbox_store.enqueue_lead_updates(
        session=session, account_id=account_id, lead_ids=list(lead_ids), source=RECLASSIFY_SOURCE, now=now
    )
    return len(lead_ids)
