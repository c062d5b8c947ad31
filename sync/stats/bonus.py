"""Freezing the marketing bonus base when a period closes.

The frozen snapshot (rule version, the qualified leads' ids, the figures) is what the bonus is paid on; later
rule changes, re-classification or edits of leads change the live figures but never the snapshot.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, tzinfo

from sqlalchemy import select
from sqlmodel import Session, col

from integration.i18n import Text
from integration.storage import stats as storage
from integration.storage.leads import LeadSnapshot
from integration.storage.promos import list_disputes
from sync.stats import queries
from sync.stats.metrics import bonus_base, plan_for, sum_counts
from sync.stats.periods import Period, StatsInputError

PERIOD_NOT_CLOSED = Text(
    ru="Период {period} ещё не закончился: базу бонуса фиксируют после его окончания.",
    en="The period {period} has not ended yet: the bonus base is frozen after it ends.",
)


def freeze_bonus_base(
    *,
    session: Session,
    account_id: int,
    period: Period,
    now: int,
    tz: tzinfo = UTC,
    open_disputes: Sequence[int] | None = None,
) -> tuple[storage.StatsBonusSnapshot, bool]:
    """Freezes the period's bonus base once: (snapshot, created); a second call returns the first one.

    `open_disputes` lists the disputed lead ids to keep beside the base; by default, the period's leads that
    reps have disputed (from the lead card widget) up to now.
    """
    existing = storage.get_bonus_snapshot(
        session=session, account_id=account_id, period_start=period.start, period_end=period.end
    )
    if existing is not None:
        return existing, False
    start, end = period.bounds(tz)
    if now < end:
        raise StatsInputError(PERIOD_NOT_CLOSED, period=period.label)
    connection = session.connection()
    channels, _managers = queries.cohort_counts(connection, account_id=account_id, start=start, end=end)
    totals = sum_counts(channels)
    plan = plan_for(period, queries.load_plans(connection, account_id=account_id))
    base = bonus_base(plan=plan, arrived=totals.leads, qualified=totals.qualified)
    qualified = list(queries.qualified_lead_ids(connection, account_id=account_id, start=start, end=end))
    versions = Counter(version for _lead, version in qualified if version is not None)
    if open_disputes is None:
        open_disputes = _disputed_leads(session, account_id=account_id, start=start, end=end, until=now)
    snapshot = storage.StatsBonusSnapshot(
        account_id=account_id,
        period_start=period.start,
        period_end=period.end,
        # The version most of the base was classified by; all versions are kept in the figures.
        rule_version=versions.most_common(1)[0][0] if versions else None,
        lead_ids=[lead_id for lead_id, _version in qualified],
        figures={**asdict(base), "rule_versions": {str(v): n for v, n in sorted(versions.items())}},
        open_disputes=sorted(set(open_disputes)),
        frozen_at=now,
    )
    return storage.insert_bonus_snapshot(session=session, snapshot=snapshot), True


def _disputed_leads(session: Session, *, account_id: int, start: int, end: int, until: int) -> list[int]:
    """Leads created in [start, end) that a rep disputed before `until`."""
    disputed = {d.lead_id for d in list_disputes(session=session, account_id=account_id, until=until + 1)}
    if not disputed:
        return []
    in_period = session.scalars(
        select(LeadSnapshot.lead_id).where(  # type: ignore[call-overload]
            LeadSnapshot.account_id == account_id,
            col(LeadSnapshot.lead_id).in_(sorted(disputed)),
            LeadSnapshot.created_at >= start,
            LeadSnapshot.created_at < end,
        )
    )
    return sorted(int(lead_id) for lead_id in in_period)
