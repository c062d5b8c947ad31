"""The measured effect of the account's open hypotheses (composition: storage + one grouped SQL count per
hypothesis + the pure arithmetic of `rules.hypotheses`). docs/metrics.md states the method and the verdict.

Each hypothesis costs one grouped query over the leads created in its 2·N-day window, read through the
(account_id, created_at) index: no lead is loaded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta, tzinfo

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlmodel import Session

from integration.i18n import Text
from integration.storage import hypotheses as hypothesis_store
from integration.storage.hypotheses import Hypothesis
from rules.hypotheses import Direction, Effect, Metric, Side, measure, window_days
from sync.reports.model import ReportNames, TrackedHypothesis
from sync.stats.metrics import WON_STATUS, SpendEntry
from sync.stats.periods import Period
from sync.stats.queries import load_spend

ALL_CHANNELS = Text(ru="все каналы", en="all channels")


def _midnight(day: date, tz: tzinfo) -> int:
    return int(datetime.combine(day, datetime.min.time(), tzinfo=tz).timestamp())


def window_counts(
    connection: Connection,
    *,
    account_id: int,
    channel: str | None,
    start: int,
    middle: int,
    end: int,
    won_cut_before: int,
    won_cut_after: int,
) -> dict[int, tuple[int, int, int, int]]:
    """Leads created in [start, middle) (side 0) and [middle, end) (side 1): (leads, classified, qualified, won).

    A lead counts as won when it was won before its side's cut: the before side is looked at as it stood N days
    earlier, so both sides had the same time to close."""
    deleted = "NOT l.is_deleted" if connection.dialect.name == "postgresql" else "l.is_deleted = 0"
    segment = "AND l.channel = :channel" if channel is not None else ""
    sql = f"""
        SELECT side, COUNT(*) AS leads, SUM(classified) AS classified, SUM(qualified) AS qualified,
               SUM(won) AS won FROM (
            SELECT CASE WHEN l.created_at < :middle THEN 0 ELSE 1 END AS side,
                   CASE WHEN l.qualified IS NULL THEN 0 ELSE 1 END AS classified,
                   CASE WHEN l.qualified THEN 1 ELSE 0 END AS qualified,
                   CASE WHEN l.status_id = :won AND l.closed_at IS NOT NULL AND l.closed_at <
                        (CASE WHEN l.created_at < :middle THEN :cut_before ELSE :cut_after END)
                        THEN 1 ELSE 0 END AS won
            FROM lead_snapshots AS l
            WHERE l.account_id = :account_id AND {deleted}
              AND l.created_at >= :start AND l.created_at < :end {segment}
        ) AS windows
        GROUP BY side
    """
    params = {
        "account_id": account_id,
        "start": start,
        "middle": middle,
        "end": end,
        "won": WON_STATUS,
        "cut_before": won_cut_before,
        "cut_after": won_cut_after,
        "channel": channel,
    }
    result = {0: (0, 0, 0, 0), 1: (0, 0, 0, 0)}
    for row in connection.execute(text(sql), params):
        result[int(row.side)] = (
            int(row.leads),
            int(row.classified or 0),
            int(row.qualified or 0),
            int(row.won or 0),
        )
    return result


def window_spend(spend: Sequence[SpendEntry], channel: str | None, first: date, last: date) -> float | None:
    """Spend of [first, last] (inclusive), each entry spread evenly over its days; None when none overlaps."""
    window = Period(first, last)
    total, found = 0.0, False
    for entry in spend:
        if channel is not None and entry.channel != channel:
            continue
        overlap = entry.period.overlap_days(window)
        if overlap:
            found = True
            total += float(entry.amount) * overlap / ((entry.period.end - entry.period.start).days + 1)
    return total if found else None


def _sides(
    metric: str, counts: Mapping[int, tuple[int, int, int, int]], spend: tuple[float | None, float | None]
) -> tuple[Side, Side]:
    sides = []
    for index in (0, 1):
        leads, classified, qualified, won = counts[index]
        if metric == "qualified_pct":
            sides.append(Side(units=classified, successes=qualified))
        elif metric == "conversion":
            sides.append(Side(units=leads, successes=won))
        elif metric == "cpl":
            sides.append(Side(units=leads, spend=spend[index]))
        else:
            sides.append(Side(units=qualified, spend=spend[index]))
    return sides[0], sides[1]


def effect_of(
    connection: Connection,
    hypothesis: Hypothesis,
    *,
    as_of: int,
    tz: tzinfo,
    spend: Sequence[SpendEntry],
) -> Effect:
    as_of_day = datetime.fromtimestamp(as_of, tz).date()
    days = window_days((as_of_day - hypothesis.starts_on).days)
    start_day = hypothesis.starts_on - timedelta(days=days)
    end_day = hypothesis.starts_on + timedelta(days=days)
    counts = window_counts(
        connection,
        account_id=hypothesis.account_id,
        channel=hypothesis.channel,
        start=_midnight(start_day, tz),
        middle=_midnight(hypothesis.starts_on, tz),
        end=_midnight(end_day, tz),
        won_cut_before=as_of - days * 86400,
        won_cut_after=as_of,
    )
    spent: tuple[float | None, float | None] = (None, None)
    if days and hypothesis.metric in ("cpl", "cpql"):
        spent = (
            window_spend(spend, hypothesis.channel, start_day, hypothesis.starts_on - timedelta(days=1)),
            window_spend(spend, hypothesis.channel, hypothesis.starts_on, end_day - timedelta(days=1)),
        )
    before, after = _sides(hypothesis.metric, counts, spent)
    metric: Metric = hypothesis.metric  # type: ignore[assignment]
    direction: Direction = hypothesis.direction  # type: ignore[assignment]
    return measure(metric, direction, days, before, after)


def tracked_hypotheses(
    *, session: Session, account_id: int, as_of: int, tz: tzinfo, names: ReportNames
) -> tuple[TrackedHypothesis, ...]:
    """The account's open hypotheses with their effect as of `as_of`."""
    rows = hypothesis_store.list_hypotheses(session=session, account_id=account_id)
    if not rows:
        return ()
    connection = session.connection()
    spend = load_spend(connection, account_id=account_id)
    result = []
    for row in rows:
        assert row.id is not None
        result.append(
            TrackedHypothesis(
                id=row.id,
                text=row.text,
                owner=names.person(row.owner_id),
                metric=row.metric,
                direction=row.direction,
                segment=names.channel(row.channel) if row.channel is not None else ALL_CHANNELS,
                starts_on=row.starts_on,
                effect=effect_of(connection, row, as_of=as_of, tz=tz, spend=spend),
            )
        )
    return tuple(result)
