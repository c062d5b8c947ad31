"""Funnel metrics as plain functions over small frozen values; definitions in docs/metrics.md.

Nothing here touches a database or the network: `sync.stats.queries` aggregates rows in SQL into the `*Counts`
inputs below, these functions turn them into figures. A figure whose denominator is empty is `None` (shown as
"—"), never 0 or infinity.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from sync.stats.periods import Period

WON_STATUS = 142
LOST_STATUS = 143
# Rank given to won leads in stage reach: beyond every stage of any pipeline.
WON_RANK = 1_000_000

Outcome = Literal["won", "lost", "open"]
HistoryMissing = Literal["no_events_api", "no_history"]
WonBasis = Literal["close_date", "cohort"]
_CENT = Decimal("0.01")


def ratio(numerator: float, denominator: float | None) -> float | None:
    """numerator / denominator, or None when there is nothing to divide by."""
    if denominator is None or denominator == 0:
        return None
    return numerator / denominator


def money_ratio(amount: Decimal | None, count: int) -> Decimal | None:
    """Cost per unit, rounded to cents; None without spend or without units."""
    if amount is None or amount == 0 or count == 0:
        return None
    return (amount / count).quantize(_CENT, rounding=ROUND_HALF_UP)


# --- inputs (produced by the SQL aggregation) --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChannelCounts:
    """One channel in one period: leads created in it and deals won in it."""

    channel: str | None
    leads: int = 0  # created in the period, not deleted
    classified: int = 0  # of those, classified by the rules (qualified is known)
    qualified: int = 0
    deals: int = 0  # won (status 142) with closed_at in the period
    revenue: int = 0  # sum of the price of those deals
    deals_without_price: int = 0


@dataclass(frozen=True, slots=True)
class ManagerCounts:
    manager_id: int | None  # None: lead without a responsible user
    leads: int  # created in the period, not deleted
    won: int  # of those, won by now


@dataclass(frozen=True, slots=True)
class StageReach:
    """How many leads got at most as far as `rank` in the pipeline's stage order (see docs/metrics.md)."""

    pipeline_id: int | None
    rank: int | None  # index in the stage order, WON_RANK for won, None when no known stage
    outcome: Outcome
    in_period: bool  # created in the period (the cohort for funnel conversion)
    leads: int


@dataclass(frozen=True, slots=True)
class OpenDeals:
    """Open (neither won nor lost) leads standing in one status now."""

    pipeline_id: int | None
    status_id: int | None
    deals: int
    value: int
    without_price: int


@dataclass(frozen=True, slots=True)
class CompletenessCounts:
    """How many leads of one channel or manager have each qualification field filled."""

    key: str | int | None
    leads: int
    filled: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class PlanFigures:
    """A plan pro-rated to a period; a figure not planned is None."""

    leads: float | None = None
    qualified: float | None = None
    deals: float | None = None
    revenue: float | None = None


@dataclass(frozen=True, slots=True)
class PlanEntry:
    period: Period
    figures: PlanFigures


@dataclass(frozen=True, slots=True)
class SpendEntry:
    period: Period
    channel: str
    amount: Decimal


# --- outputs ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChannelQuality:
    """% qualified of a channel (scope "channel"), of all leads ("total") or of experimental channels."""

    scope: Literal["channel", "total", "experimental"]
    channel: str | None
    leads: int
    classified: int
    qualified: int
    qualified_pct: float | None  # qualified / classified
    experimental: bool
    norm: float | None
    meets_norm: bool | None  # None: no norm, nothing classified, or too few leads to judge
    # Fewer classified leads than the minimum sample: the share is shown, but no verdict is drawn from it.
    too_few: bool = False
    min_sample: int = 0


@dataclass(frozen=True, slots=True)
class BonusBase:
    """The marketing bonus counts qualified leads, not all leads."""

    plan: float | None  # the plan of qualified leads, else the plan of leads
    arrived: int
    qualified: int
    base: int
    pct_of_plan: float | None


@dataclass(frozen=True, slots=True)
class RunRate:
    metric: Literal["leads", "qualified", "deals", "revenue"]
    plan: float | None
    actual: float
    elapsed_days: float
    total_days: int
    planned_to_date: float | None
    pace: float | None  # actual / planned_to_date
    forecast: float | None  # at the current pace, by the end of the period
    forecast_vs_plan: float | None


@dataclass(frozen=True, slots=True)
class StageWinRate:
    pipeline_id: int | None
    status_id: int
    reached_closed: int  # leads that reached the stage and are closed (won or lost)
    won: int
    win_rate: float | None


@dataclass(frozen=True, slots=True)
class PipelineCoverage:
    open_deals: int
    open_value: int
    # open value × the historical win rate of each deal's stage; None when unknown (no status history, or no
    # open deal stands in a stage with a win rate) — never 0 for "unknown"
    weighted_value: float | None
    unrated_value: int  # open value in stages without any closed history (no win rate to weigh it by)
    deals_without_price: int
    remaining_plan: float | None  # revenue plan minus revenue so far (not below 0)
    coverage: float | None  # weighted_value / remaining_plan
    stages: tuple[StageWinRate, ...] = ()


@dataclass(frozen=True, slots=True)
class StageConversion:
    pipeline_id: int | None
    from_status: int
    to_status: int | None  # None: won
    reached_from: int
    reached_to: int
    conversion: float | None


@dataclass(frozen=True, slots=True)
class ManagerConversion:
    manager_id: int | None
    leads: int
    won: int
    conversion: float | None
    ranked: bool  # enough leads to be ranked


@dataclass(frozen=True, slots=True)
class ManagerRanking:
    managers: tuple[ManagerConversion, ...]
    best: ManagerConversion | None
    worst: ManagerConversion | None
    min_sample: int


@dataclass(frozen=True, slots=True)
class CostPerChannel:
    channel: str | None
    spend: Decimal | None
    leads: int
    qualified: int
    customers: int
    per_lead: Decimal | None
    per_qualified: Decimal | None
    per_customer: Decimal | None


@dataclass(frozen=True, slots=True)
class FieldCompleteness:
    key: str | int | None
    leads: int
    by_field: tuple[tuple[str, float | None], ...]
    overall: float | None  # filled fields / (leads × fields)


@dataclass(frozen=True, slots=True)
class PeriodFigures:
    """Every figure of one account and period, as `leadpact stats show` prints and the catalog holds them."""

    period: Period
    as_of: int
    plan: PlanFigures
    totals: ChannelCounts
    quality_total: ChannelQuality
    quality_experimental: ChannelQuality
    quality: tuple[ChannelQuality, ...]
    costs: tuple[CostPerChannel, ...]
    bonus: BonusBase
    run_rates: tuple[RunRate, ...]
    coverage: PipelineCoverage
    conversions: tuple[StageConversion, ...]
    managers: ManagerRanking
    completeness_by_channel: tuple[FieldCompleteness, ...] = field(default=())
    completeness_by_manager: tuple[FieldCompleteness, ...] = field(default=())
    channels: tuple[ChannelCounts, ...] = field(default=())
    # Why stage figures (stage conversion, win rates, weighted pipeline) are unknown: "no_events_api" (amoCRM's
    # events list refused on backfill), "no_history" (no status change stored at all); None: history known.
    history_missing: HistoryMissing | None = None
    completeness_total: FieldCompleteness | None = None
    # "close_date": won, revenue and cost per customer count deals closed in the period; "cohort": deals won
    # (by now) among the leads created in the period.
    won_basis: WonBasis = "close_date"


# --- plans and spend ----------------------------------------------------------------------------------------


def plan_for(period: Period, plans: Iterable[PlanEntry]) -> PlanFigures:
    """The plan of a period: each stored plan contributes pro rata to the days it shares with the period."""
    sums: dict[str, float | None] = {"leads": None, "qualified": None, "deals": None, "revenue": None}
    for entry in plans:
        share = period.overlap_days(entry.period) / entry.period.days
        if share == 0:
            continue
        for name in sums:
            value = getattr(entry.figures, name)
            if value is not None:
                sums[name] = (sums[name] or 0.0) + value * share
    return PlanFigures(**sums)


def weekly_plan(period: Period, plans: Iterable[PlanEntry]) -> list[tuple[Period, PlanFigures]]:
    """The weekly breakdown of a period's plan (weeks start on Monday, pro rata by days)."""
    entries = list(plans)
    return [(week, plan_for(week, entries)) for week in period.weeks()]


def spend_for(period: Period, spend: Iterable[SpendEntry]) -> dict[str, Decimal]:
    """Spend per channel over a period; a spend row only partly inside it counts pro rata by days."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for entry in spend:
        days = period.overlap_days(entry.period)
        if days == 0:
            continue
        if days == entry.period.days:
            totals[entry.channel] += entry.amount
        else:
            totals[entry.channel] += (entry.amount * days / entry.period.days).quantize(_CENT)
    return dict(totals)


# --- % qualified, bonus base, costs -------------------------------------------------------------------------


def sum_counts(counts: Iterable[ChannelCounts], channel: str | None = None) -> ChannelCounts:
    rows = list(counts)
    return ChannelCounts(
        channel=channel,
        leads=sum(row.leads for row in rows),
        classified=sum(row.classified for row in rows),
        qualified=sum(row.qualified for row in rows),
        deals=sum(row.deals for row in rows),
        revenue=sum(row.revenue for row in rows),
        deals_without_price=sum(row.deals_without_price for row in rows),
    )


def _quality(
    scope: Literal["channel", "total", "experimental"],
    counts: ChannelCounts,
    *,
    experimental: bool,
    norm: float | None,
    min_sample: int = 0,
) -> ChannelQuality:
    pct = ratio(counts.qualified, counts.classified)
    too_few = pct is not None and counts.classified < min_sample
    return ChannelQuality(
        scope=scope,
        channel=counts.channel,
        leads=counts.leads,
        classified=counts.classified,
        qualified=counts.qualified,
        qualified_pct=pct,
        experimental=experimental,
        norm=norm,
        meets_norm=None if pct is None or norm is None or too_few else pct >= norm,
        too_few=too_few,
        min_sample=min_sample,
    )


def channel_quality(
    counts: Sequence[ChannelCounts],
    *,
    experimental_channels: set[str],
    qualified_norm: float | None,
    min_sample: int = 0,
) -> tuple[ChannelQuality, ChannelQuality, tuple[ChannelQuality, ...]]:
    """(total, experimental channels together, per channel) % qualified against the norm from the rules; a
    row with fewer than `min_sample` classified leads gets no verdict ("too few to judge")."""
    per_channel = tuple(
        _quality(
            "channel",
            row,
            experimental=row.channel in experimental_channels,
            norm=qualified_norm,
            min_sample=min_sample,
        )
        for row in sorted(counts, key=lambda row: (row.channel is None, row.channel or ""))
    )
    total = _quality(
        "total", sum_counts(counts), experimental=False, norm=qualified_norm, min_sample=min_sample
    )
    experimental_rows = [row for row in counts if row.channel in experimental_channels]
    experimental = _quality(
        "experimental",
        sum_counts(experimental_rows),
        experimental=True,
        norm=qualified_norm,
        min_sample=min_sample,
    )
    return total, experimental, per_channel


def bonus_base(*, plan: PlanFigures, arrived: int, qualified: int) -> BonusBase:
    """Base = qualified leads; % of plan against the qualified-leads plan, else the leads plan."""
    target = plan.qualified if plan.qualified is not None else plan.leads
    return BonusBase(
        plan=target,
        arrived=arrived,
        qualified=qualified,
        base=qualified,
        pct_of_plan=ratio(qualified, target),
    )


def costs_per_channel(
    counts: Sequence[ChannelCounts], spend: Mapping[str, Decimal]
) -> tuple[CostPerChannel, ...]:
    """Cost per lead, qualified lead and customer for every channel with leads or spend."""
    by_channel = {row.channel: row for row in counts}
    channels: list[str | None] = sorted(
        {*by_channel, *spend}, key=lambda channel: (channel is None, channel or "")
    )
    result = []
    for channel in channels:
        row = by_channel.get(channel, ChannelCounts(channel=channel))
        amount = spend.get(channel) if channel is not None else None
        result.append(
            CostPerChannel(
                channel=channel,
                spend=amount,
                leads=row.leads,
                qualified=row.qualified,
                customers=row.deals,
                per_lead=money_ratio(amount, row.leads),
                per_qualified=money_ratio(amount, row.qualified),
                per_customer=money_ratio(amount, row.deals),
            )
        )
    return tuple(result)


# --- run rate -----------------------------------------------------------------------------------------------


def elapsed_days(period: Period, *, as_of: int, period_start: int) -> float:
    """Days of the period gone by at `as_of` (fractional, 0 before it starts, all of it after it ends)."""
    return min(max((as_of - period_start) / 86_400, 0.0), float(period.days))


def run_rate(
    metric: Literal["leads", "qualified", "deals", "revenue"],
    *,
    actual: float,
    plan: float | None,
    elapsed: float,
    total_days: int,
) -> RunRate:
    """Actual to date against the plan pro rata by days elapsed, and the period-end forecast at this pace."""
    planned_to_date = None if plan is None else plan * elapsed / total_days
    forecast = None if elapsed == 0 else actual / elapsed * total_days
    return RunRate(
        metric=metric,
        plan=plan,
        actual=actual,
        elapsed_days=elapsed,
        total_days=total_days,
        planned_to_date=planned_to_date,
        pace=ratio(actual, planned_to_date),
        forecast=forecast,
        forecast_vs_plan=None if forecast is None else ratio(forecast, plan),
    )


# --- pipeline: conversion and coverage ----------------------------------------------------------------------


def _reached_at_least(
    reach: Iterable[StageReach], stage_count: int
) -> tuple[list[int], list[int], list[int]]:
    """Per stage index 0..stage_count (last = won): leads reaching it, closed among them, won among them."""
    reached = [0] * (stage_count + 1)
    closed = [0] * (stage_count + 1)
    won = [0] * (stage_count + 1)
    for row in reach:
        # A lead with no known stage still entered the pipeline, so it reached its first stage.
        # Only a lead that is won now reached "won": one reopened after a win stands in its last open stage.
        top = min(max(row.rank or 0, 0), stage_count if row.outcome == "won" else stage_count - 1)
        if row.outcome == "won":
            top = stage_count
        for index in range(top + 1):
            reached[index] += row.leads
            if row.outcome != "open":
                closed[index] += row.leads
            if row.outcome == "won":
                won[index] += row.leads
    return reached, closed, won


def stage_conversions(
    reach: Sequence[StageReach], stage_order: Mapping[int, Sequence[int]]
) -> tuple[StageConversion, ...]:
    """Stage-to-stage conversion of the period's leads in each pipeline's stage order, then to won."""
    result: list[StageConversion] = []
    for pipeline_id, statuses in sorted(stage_order.items()):
        rows = [row for row in reach if row.pipeline_id == pipeline_id and row.in_period]
        reached, _, _ = _reached_at_least(rows, len(statuses))
        targets: list[int | None] = [*statuses[1:], None]
        for index, (status_id, to_status) in enumerate(zip(statuses, targets, strict=True)):
            result.append(
                StageConversion(
                    pipeline_id=pipeline_id,
                    from_status=status_id,
                    to_status=to_status,
                    reached_from=reached[index],
                    reached_to=reached[index + 1],
                    conversion=ratio(reached[index + 1], reached[index]),
                )
            )
    return tuple(result)


def stage_win_rates(
    reach: Sequence[StageReach], stage_order: Mapping[int, Sequence[int]]
) -> tuple[StageWinRate, ...]:
    """Per stage: of all closed leads (any time) that reached it, the share that was won."""
    result: list[StageWinRate] = []
    for pipeline_id, statuses in sorted(stage_order.items()):
        rows = [row for row in reach if row.pipeline_id == pipeline_id]
        _, closed, won = _reached_at_least(rows, len(statuses))
        for index, status_id in enumerate(statuses):
            result.append(
                StageWinRate(
                    pipeline_id=pipeline_id,
                    status_id=status_id,
                    reached_closed=closed[index],
                    won=won[index],
                    win_rate=ratio(won[index], closed[index]),
                )
            )
    return tuple(result)


def pipeline_coverage(
    open_deals: Sequence[OpenDeals],
    win_rates: Sequence[StageWinRate],
    *,
    revenue_plan: float | None,
    revenue_so_far: float,
    history_known: bool = True,
) -> PipelineCoverage:
    """Open deals weighted by their stage's win rate, against what is left of the revenue plan.

    Without status history the win rates are guesses, so the weighted value is unknown (None), as it is when
    no open deal stands in a stage that has a win rate."""
    rate_by_status = {rate.status_id: rate.win_rate for rate in win_rates} if history_known else {}
    weighted_sum = 0.0
    rated = 0
    unrated = 0
    for deals in open_deals:
        rate = rate_by_status.get(deals.status_id) if deals.status_id is not None else None
        if rate is None:
            unrated += deals.value
        else:
            rated += deals.deals
            weighted_sum += deals.value * rate
    weighted = weighted_sum if rated or not open_deals else None
    if not history_known and open_deals:
        weighted = None
    remaining = None if revenue_plan is None else max(revenue_plan - revenue_so_far, 0.0)
    return PipelineCoverage(
        open_deals=sum(deals.deals for deals in open_deals),
        open_value=sum(deals.value for deals in open_deals),
        weighted_value=weighted,
        unrated_value=unrated,
        deals_without_price=sum(deals.without_price for deals in open_deals),
        remaining_plan=remaining,
        coverage=None if weighted is None else ratio(weighted, remaining),
        stages=tuple(win_rates),
    )


# --- managers -----------------------------------------------------------------------------------------------


def manager_ranking(counts: Sequence[ManagerCounts], *, min_sample: int) -> ManagerRanking:
    """Lead → won per manager; only managers with at least `min_sample` leads are ranked best or worst."""
    managers = tuple(
        ManagerConversion(
            manager_id=row.manager_id,
            leads=row.leads,
            won=row.won,
            conversion=ratio(row.won, row.leads),
            ranked=row.manager_id is not None and row.leads >= max(min_sample, 1),
        )
        for row in sorted(counts, key=lambda row: (row.manager_id is None, row.manager_id or 0))
    )
    ranked = [manager for manager in managers if manager.ranked]
    # Ties go to the manager with more leads (a steadier figure), then the lower id, so names are stable.
    best = max(ranked, key=lambda m: (m.conversion or 0.0, m.leads, -(m.manager_id or 0)), default=None)
    worst = min(ranked, key=lambda m: (m.conversion or 0.0, -m.leads, m.manager_id or 0), default=None)
    if best is not None and best == worst and len(ranked) < 2:
        worst = None
    return ManagerRanking(managers=managers, best=best, worst=worst, min_sample=min_sample)


# --- field completeness -------------------------------------------------------------------------------------


def field_completeness(
    counts: Sequence[CompletenessCounts], fields: Sequence[str], unmapped: Collection[str] = ()
) -> tuple[FieldCompleteness, ...]:
    """Share of leads with each qualification field filled, per channel or manager. A field the account's
    mapping leaves without an amoCRM field (`unmapped`) is unknown and stays out of the overall share."""
    counted = [code for code in fields if code not in unmapped]
    result = []
    for row in sorted(counts, key=lambda row: (row.key is None, str(row.key or ""))):
        filled_total = sum(row.filled.get(code, 0) for code in counted)
        result.append(
            FieldCompleteness(
                key=row.key,
                leads=row.leads,
                by_field=tuple(
                    (code, None if code in unmapped else ratio(row.filled.get(code, 0), row.leads))
                    for code in fields
                ),
                overall=ratio(filled_total, row.leads * len(counted)),
            )
        )
    return tuple(result)


def completeness_overall(
    counts: Sequence[CompletenessCounts], fields: Sequence[str], unmapped: Collection[str] = ()
) -> FieldCompleteness | None:
    """Completeness over all of the period's leads (the per-channel counts summed); None without fields."""
    if not fields or not counts:
        return None
    filled: dict[str, int] = defaultdict(int)
    for row in counts:
        for code in fields:
            filled[code] += row.filled.get(code, 0)
    total = CompletenessCounts(key=None, leads=sum(row.leads for row in counts), filled=filled)
    return field_completeness([total], fields, unmapped)[0]


# --- everything for one period ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatsInputs:
    """What the SQL aggregation returns for one account and period (see `sync.stats.queries`)."""

    period: Period
    as_of: int
    period_start_ts: int
    channels: tuple[ChannelCounts, ...]
    managers: tuple[ManagerCounts, ...]
    reach: tuple[StageReach, ...]
    open_deals: tuple[OpenDeals, ...]
    stage_order: Mapping[int, Sequence[int]]
    plans: tuple[PlanEntry, ...] = ()
    spend: tuple[SpendEntry, ...] = ()
    completeness_by_channel: tuple[CompletenessCounts, ...] = ()
    completeness_by_manager: tuple[CompletenessCounts, ...] = ()
    history_missing: HistoryMissing | None = None
    won_basis: WonBasis = "close_date"


RunRateMetric = Literal["leads", "qualified", "deals", "revenue"]


def _run_rate_actuals(totals: ChannelCounts) -> tuple[tuple[RunRateMetric, float], ...]:
    return (
        ("leads", totals.leads),
        ("qualified", totals.qualified),
        ("deals", totals.deals),
        ("revenue", totals.revenue),
    )


def compute_period_figures(
    inputs: StatsInputs,
    *,
    experimental_channels: set[str],
    qualified_norm: float | None,
    min_manager_sample: int,
    completeness_fields: Sequence[str],
    min_quality_sample: int = 0,
    unmapped_fields: Collection[str] = (),
) -> PeriodFigures:
    """Every metric of docs/metrics.md for one account and period."""
    period = inputs.period
    plan = plan_for(period, inputs.plans)
    totals = sum_counts(inputs.channels)
    quality_total, quality_experimental, quality = channel_quality(
        inputs.channels,
        experimental_channels=experimental_channels,
        qualified_norm=qualified_norm,
        min_sample=min_quality_sample,
    )
    history_known = inputs.history_missing is None
    conversions = stage_conversions(inputs.reach, inputs.stage_order)
    if not history_known:
        # Without status history a lead "reached" only its current stage: the shares would be made up.
        conversions = tuple(replace(row, conversion=None) for row in conversions)
    elapsed = elapsed_days(period, as_of=inputs.as_of, period_start=inputs.period_start_ts)
    run_rates = tuple(
        run_rate(metric, actual=actual, plan=getattr(plan, metric), elapsed=elapsed, total_days=period.days)
        for metric, actual in _run_rate_actuals(totals)
    )
    win_rates = stage_win_rates(inputs.reach, inputs.stage_order)
    return PeriodFigures(
        period=period,
        as_of=inputs.as_of,
        plan=plan,
        totals=totals,
        quality_total=quality_total,
        quality_experimental=quality_experimental,
        quality=quality,
        costs=costs_per_channel(inputs.channels, spend_for(period, inputs.spend)),
        bonus=bonus_base(plan=plan, arrived=totals.leads, qualified=totals.qualified),
        run_rates=run_rates,
        coverage=pipeline_coverage(
            inputs.open_deals,
            win_rates,
            revenue_plan=plan.revenue,
            revenue_so_far=totals.revenue,
            history_known=history_known,
        ),
        conversions=conversions,
        managers=manager_ranking(inputs.managers, min_sample=min_manager_sample),
        completeness_by_channel=field_completeness(
            inputs.completeness_by_channel, completeness_fields, unmapped_fields
        ),
        completeness_by_manager=field_completeness(
            inputs.completeness_by_manager, completeness_fields, unmapped_fields
        ),
        channels=tuple(sorted(inputs.channels, key=lambda row: (row.channel is None, row.channel or ""))),
        history_missing=inputs.history_missing,
        completeness_total=completeness_overall(
            inputs.completeness_by_channel, completeness_fields, unmapped_fields
        ),
        won_basis=inputs.won_basis,
    )
