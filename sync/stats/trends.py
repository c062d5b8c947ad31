"""A week's statistics next to the eight weeks before it, and the week day by day (pure; no I/O).

`sync.stats.queries.bucket_counts` counts leads and deals per time bucket in one pass; these functions turn the
buckets into the figures the weekly report draws: a sparkline per statistic, "this week against last week"
with its direction, and the cumulative daily line of the run rate against the plan's line. Each figure uses the
definitions of docs/metrics.md, so the week's own point equals what `leadpact stats show` prints for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta, tzinfo
from decimal import Decimal
from typing import Literal

from sync.stats.metrics import (
    PlanEntry,
    PlanFigures,
    SpendEntry,
    WonBasis,
    money_ratio,
    plan_for,
    ratio,
    spend_for,
)
from sync.stats.periods import Period

PREVIOUS_WEEKS = 8


@dataclass(frozen=True, slots=True)
class BucketCounts:
    """One time bucket: leads created in it (classified, qualified, won by now) and deals closed in it."""

    leads: int = 0
    classified: int = 0
    qualified: int = 0
    won_of_leads: int = 0  # of the bucket's leads, won by now (the cohort's deals)
    cohort_revenue: int = 0  # the price of those
    deals: int = 0  # won leads whose closed_at falls in the bucket
    revenue: int = 0


TrendMetric = Literal["leads", "qualified_pct", "deals", "revenue", "conversion", "per_customer"]
# Whether a rise is good news: a higher cost per customer is not.
HIGHER_IS_BETTER: dict[TrendMetric, bool] = {
    "leads": True,
    "qualified_pct": True,
    "deals": True,
    "revenue": True,
    "conversion": True,
    "per_customer": False,
}


@dataclass(frozen=True, slots=True)
class WeekPoint:
    week: Period
    leads: int
    classified: int
    qualified: int
    qualified_pct: float | None
    deals: int
    revenue: int
    conversion: float | None  # of the week's leads, the share won by now
    spend: Decimal | None
    per_customer: Decimal | None

    def value(self, metric: TrendMetric) -> float | None:
        figure = getattr(self, metric)
        return None if figure is None else float(figure)


@dataclass(frozen=True, slots=True)
class DayPoint:
    """The reported week up to the end of one day, cumulative."""

    day: date
    leads: int
    qualified: int
    deals: int
    revenue: int


@dataclass(frozen=True, slots=True)
class Delta:
    metric: TrendMetric
    current: float | None
    previous: float | None
    change: float | None  # current − previous
    direction: Literal["up", "down", "flat"] | None  # None: one of the two is unknown
    good: bool | None  # the change is good news (None: flat or unknown)


@dataclass(frozen=True, slots=True)
class Trends:
    weeks: tuple[WeekPoint, ...]  # oldest first; the reported week last
    days: tuple[DayPoint, ...]  # the reported week's days up to the as-of moment
    plan: PlanFigures  # the reported week's plan (its line rises evenly over the days)
    won_basis: WonBasis

    @property
    def deltas(self) -> tuple[Delta, ...]:
        """This week against the week before, per statistic."""
        current, previous = self.weeks[-1], self.weeks[-2] if len(self.weeks) > 1 else None
        return tuple(week_delta(metric, current, previous) for metric in HIGHER_IS_BETTER)


def week_delta(metric: TrendMetric, current: WeekPoint, previous: WeekPoint | None) -> Delta:
    now = current.value(metric)
    before = None if previous is None else previous.value(metric)
    if now is None or before is None:
        return Delta(metric, now, before, None, None, None)
    change = now - before
    direction: Literal["up", "down", "flat"] = "flat" if change == 0 else "up" if change > 0 else "down"
    good = None if direction == "flat" else (direction == "up") == HIGHER_IS_BETTER[metric]
    return Delta(metric, now, before, change, direction, good)


def trend_periods(week: Period, *, previous: int = PREVIOUS_WEEKS) -> tuple[list[Period], list[date]]:
    """The `previous` weeks before `week` (oldest first) and `week`'s days."""
    weeks = [
        Period(week.start - timedelta(days=7 * back), week.end - timedelta(days=7 * back))
        for back in range(previous, 0, -1)
    ]
    days = [week.start + timedelta(days=offset) for offset in range(week.days)]
    return weeks, days


def trend_bounds(weeks: Sequence[Period], days: Sequence[date], tz: tzinfo) -> list[int]:
    """Bucket bounds in unix seconds: each previous week, then each day of the reported week."""
    starts = [week.bounds(tz)[0] for week in weeks] + [Period(day, day).bounds(tz)[0] for day in days]
    return [*starts, Period(days[-1], days[-1]).bounds(tz)[1]]


def _week_point(
    week: Period, counts: BucketCounts, *, won_basis: WonBasis, spend: Iterable[SpendEntry]
) -> WeekPoint:
    deals = counts.won_of_leads if won_basis == "cohort" else counts.deals
    revenue = counts.cohort_revenue if won_basis == "cohort" else counts.revenue
    spent = spend_for(week, spend)
    total = sum(spent.values(), Decimal(0)) if spent else None
    return WeekPoint(
        week=week,
        leads=counts.leads,
        classified=counts.classified,
        qualified=counts.qualified,
        qualified_pct=ratio(counts.qualified, counts.classified),
        deals=deals,
        revenue=revenue,
        conversion=ratio(counts.won_of_leads, counts.leads),
        spend=total,
        per_customer=money_ratio(total, deals),
    )


def summed_counts(counts: Iterable[BucketCounts]) -> BucketCounts:
    rows = list(counts)
    return BucketCounts(
        *(sum(getattr(row, name) for row in rows) for name in BucketCounts.__dataclass_fields__)
    )


def build_trends(
    week: Period,
    weeks: Sequence[Period],
    days: Sequence[date],
    counts: Sequence[BucketCounts],
    *,
    as_of_day: date,
    won_basis: WonBasis,
    spend: Sequence[SpendEntry],
    plans: Sequence[PlanEntry],
) -> Trends:
    """`counts` holds one bucket per previous week, then one per day of `week` (as `trend_bounds` cut them)."""
    previous_counts, day_counts = counts[: len(weeks)], counts[len(weeks) :]
    points = [
        _week_point(period, bucket, won_basis=won_basis, spend=spend)
        for period, bucket in zip(weeks, previous_counts, strict=True)
    ]
    points.append(_week_point(week, summed_counts(day_counts), won_basis=won_basis, spend=spend))
    cumulative: list[DayPoint] = []
    leads = qualified = deals = revenue = 0
    for day, bucket in zip(days, day_counts, strict=True):
        if day > as_of_day:
            break
        leads += bucket.leads
        qualified += bucket.qualified
        deals += bucket.won_of_leads if won_basis == "cohort" else bucket.deals
        revenue += bucket.cohort_revenue if won_basis == "cohort" else bucket.revenue
        cumulative.append(DayPoint(day, leads, qualified, deals, revenue))
    return Trends(
        weeks=tuple(points), days=tuple(cumulative), plan=plan_for(week, plans), won_basis=won_basis
    )


# --- results since install ------------------------------------------------------------------------------------

# The panel shows at most this many weeks (the most recent), so an old account's report stays one cheap pass.
RESULTS_MAX_WEEKS = 26


@dataclass(frozen=True, slots=True)
class ResultsWeek:
    """One week since install: what the three steps promise to move."""

    week: Period
    conversion: float | None  # of the week's leads, the share won by now
    revenue: int
    per_customer: Decimal | None  # marketing spend per deal; None: no spend recorded or no deal
    median_cycle_days: float | None  # deals closed in the week: lead creation → won, in days; None: no deal
    qualified_pct: float | None
    leads: int


@dataclass(frozen=True, slots=True)
class ResultsSinceInstall:
    installed_on: date
    weeks: tuple[ResultsWeek, ...]  # oldest first; the reported week last
    won_basis: WonBasis
    truncated: bool  # installed longer ago than RESULTS_MAX_WEEKS weeks


def weeks_since(
    installed_on: date, week: Period, *, limit: int = RESULTS_MAX_WEEKS
) -> tuple[list[Period], bool]:
    """The weeks from the one holding `installed_on` through `week` (at most `limit`, the latest), and whether
    older ones were left out. Empty when the account was installed after `week`."""
    first = installed_on - timedelta(days=installed_on.weekday())
    count = (week.start - first).days // 7 + 1
    if count <= 0:
        return [], False
    shown = min(count, limit)
    periods = [
        Period(week.start - timedelta(days=7 * back), week.end - timedelta(days=7 * back))
        for back in range(shown - 1, -1, -1)
    ]
    return periods, count > limit


def median_of_histogram(histogram: dict[int, int]) -> float | None:
    """The median of values given as {value: how many} (the mean of the two middle ones for an even count)."""
    total = sum(histogram.values())
    if total == 0:
        return None
    middle = [(total - 1) // 2, total // 2]
    found: list[int] = []
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        while len(found) < 2 and middle[len(found)] < seen:
            found.append(value)
    return (found[0] + found[1]) / 2


def build_results(
    installed_on: date,
    weeks: Sequence[Period],
    counts: Sequence[BucketCounts],
    cycles: Sequence[dict[int, int]],
    *,
    won_basis: WonBasis,
    spend: Sequence[SpendEntry],
    truncated: bool = False,
) -> ResultsSinceInstall:
    """`counts` and `cycles` (deal cycle in whole days → deals) hold one bucket per week of `weeks`."""
    rows = []
    for period, bucket, cycle in zip(weeks, counts, cycles, strict=True):
        point = _week_point(period, bucket, won_basis=won_basis, spend=spend)
        rows.append(
            ResultsWeek(
                week=period,
                conversion=point.conversion,
                revenue=point.revenue,
                per_customer=point.per_customer,
                median_cycle_days=median_of_histogram(cycle),
                qualified_pct=point.qualified_pct,
                leads=point.leads,
            )
        )
    return ResultsSinceInstall(
        installed_on=installed_on, weeks=tuple(rows), won_basis=won_basis, truncated=truncated
    )
