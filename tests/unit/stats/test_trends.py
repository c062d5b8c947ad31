"""The week against the eight before it, and day by day: hand-built buckets give hand-computed points, deltas
with their direction (a higher cost per customer is bad news) and a cumulative line that stops at "as of"."""

from __future__ import annotations

from datetime import UTC, date
from decimal import Decimal
from itertools import pairwise

from sync.reports.weeks import parse_week
from sync.stats.metrics import PlanEntry, PlanFigures, SpendEntry
from sync.stats.periods import Period
from sync.stats.trends import BucketCounts, build_trends, trend_bounds, trend_periods

WEEK = parse_week("2026-W47")  # 16–22 November 2026
WEEKS, DAYS = trend_periods(WEEK)
LAST_WEEK = WEEKS[-1]


def buckets() -> list[BucketCounts]:
    """Seven quiet weeks, last week (20 leads, 10 of 20 qualified, 2 deals of 3 000) and this week's days
    (Monday 10 leads / 4 qualified, Tuesday 5 / 1 and a deal of 500, Wednesday one lead, then nothing)."""
    quiet = [BucketCounts(leads=1, classified=1) for _ in range(7)]
    last = BucketCounts(
        leads=20, classified=20, qualified=10, won_of_leads=1, cohort_revenue=900, deals=2, revenue=3000
    )
    days = [
        BucketCounts(leads=10, classified=10, qualified=4, won_of_leads=1, cohort_revenue=700),
        BucketCounts(leads=5, classified=5, qualified=1, deals=1, revenue=500),
        BucketCounts(leads=1, classified=1),
        *[BucketCounts() for _ in range(4)],
    ]
    return [*quiet, last, *days]


def trends(as_of_day: date = date(2026, 11, 22), basis: str = "close_date"):  # type: ignore[no-untyped-def]
    spend = (SpendEntry(LAST_WEEK, "vk", Decimal("6000")), SpendEntry(WEEK, "vk", Decimal("4000")))
    plans = (PlanEntry(Period(date(2026, 11, 1), date(2026, 11, 30)), PlanFigures(leads=90, revenue=30_000)),)
    return build_trends(
        WEEK,
        WEEKS,
        DAYS,
        buckets(),
        as_of_day=as_of_day,
        won_basis=basis,
        spend=spend,
        plans=plans,  # type: ignore[arg-type]
    )


def test_eight_previous_weeks_then_this_week_summed_from_its_days() -> None:
    """Nine points, oldest first; this week = 16 leads, 5 of 16 qualified (31 %), 1 deal of 500 by close date."""
    result = trends()
    assert [point.week for point in result.weeks] == [*WEEKS, WEEK]
    assert WEEKS[0] == Period(date(2026, 9, 21), date(2026, 9, 27))
    this = result.weeks[-1]
    assert (this.leads, this.qualified, this.deals, this.revenue) == (16, 5, 1, 500)
    assert this.qualified_pct == 5 / 16 and this.conversion == 1 / 16
    assert this.per_customer == Decimal("4000.00")
    assert result.weeks[-2].per_customer == Decimal("3000.00")  # 6 000 / 2 deals
    assert result.weeks[0].per_customer is None  # no spend that week: unknown, not 0


def test_week_over_week_deltas_carry_direction_and_whether_it_is_good_news() -> None:
    """Leads 20 → 16 down (bad); % qualified 50 → 31 down (bad); cost per customer 3 000 → 4 000 up (bad)."""
    deltas = {delta.metric: delta for delta in trends().deltas}
    assert (deltas["leads"].change, deltas["leads"].direction, deltas["leads"].good) == (-4, "down", False)
    assert deltas["qualified_pct"].direction == "down" and deltas["qualified_pct"].good is False
    assert (deltas["per_customer"].change, deltas["per_customer"].direction) == (1000.0, "up")
    assert deltas["per_customer"].good is False
    assert deltas["revenue"].change == -2500 and deltas["revenue"].good is False


def test_the_cohort_basis_counts_the_weeks_leads_won_by_now() -> None:
    """By cohort this week has 1 deal of 700 (Monday's lead, won later) instead of Tuesday's close of 500."""
    this = trends(basis="cohort").weeks[-1]
    assert (this.deals, this.revenue) == (1, 700)


def test_the_daily_line_is_cumulative_and_stops_at_the_as_of_day() -> None:
    """As of Tuesday the line has two points: 10 then 15 leads, 4 then 5 qualified; the week's plan is
    90 × 7/30 = 21 leads."""
    result = trends(as_of_day=date(2026, 11, 17))
    assert [(day.day.day, day.leads, day.qualified, day.revenue) for day in result.days] == [
        (16, 10, 4, 0),
        (17, 15, 5, 500),
    ]
    assert result.plan.leads == 21.0


def test_bounds_cut_eight_weeks_then_seven_days() -> None:
    """17 bounds: Monday of each previous week, each day of this week, and the end of Sunday."""
    bounds = trend_bounds(WEEKS, DAYS, UTC)
    assert len(bounds) == 8 + 7 + 1
    assert bounds[8] == WEEK.bounds(UTC)[0] and bounds[-1] == WEEK.bounds(UTC)[1]
    assert all(later > earlier for earlier, later in pairwise(bounds))
