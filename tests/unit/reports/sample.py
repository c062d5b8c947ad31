"""A small, hand-counted week of figures, built through the stats engine's own pure functions."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from sync.reports.model import ReportNames, WeeklyReport, build_weekly_report
from sync.reports.weeks import next_week
from sync.stats.metrics import (
    ChannelCounts,
    HistoryMissing,
    ManagerCounts,
    OpenDeals,
    PeriodFigures,
    PlanEntry,
    PlanFigures,
    SpendEntry,
    StageReach,
    StatsInputs,
    compute_period_figures,
)
from sync.stats.periods import Period

WEEK = Period(date(2026, 11, 16), date(2026, 11, 22))  # 2026-W47
WEEK_START = int(datetime(2026, 11, 16, tzinfo=UTC).timestamp())
AFTER_WEEK = int(datetime(2026, 11, 23, 9, tzinfo=UTC).timestamp())
PIPELINE = 7
STAGES = (10, 20, 30)
STAGE_NAMES = {10: "Первичный контакт", 20: "Переговоры", 30: "Счёт выставлен"}


def week_figures(
    *,
    channels: tuple[ChannelCounts, ...] | None = None,
    plan: PlanFigures | None = None,
    norm: float | None = 0.4,
    experimental: frozenset[str] = frozenset({"tiktok"}),
    managers: tuple[ManagerCounts, ...] = (),
    reach: tuple[StageReach, ...] | None = None,
    spend: tuple[SpendEntry, ...] = (),
    history_missing: HistoryMissing | None = None,
    min_quality_sample: int = 0,
) -> PeriodFigures:
    """The figures of 2026-W47 as `leadpact stats show` computes them, from the given counts."""
    if channels is None:
        channels = (
            ChannelCounts("yandex", leads=50, classified=50, qualified=30, deals=3, revenue=300_000),
            ChannelCounts("vk", leads=40, classified=40, qualified=8, deals=1, revenue=50_000),
            ChannelCounts("tiktok", leads=10, classified=10, qualified=2),
        )
    if reach is None:
        reach = (
            StageReach(PIPELINE, 0, "open", True, 40),
            StageReach(PIPELINE, 1, "lost", True, 30),
            StageReach(PIPELINE, 2, "open", True, 26),
            StageReach(PIPELINE, 1_000_000, "won", True, 4),
        )
    inputs = StatsInputs(
        period=WEEK,
        as_of=AFTER_WEEK,
        period_start_ts=WEEK_START,
        channels=channels,
        managers=managers,
        reach=reach,
        open_deals=(OpenDeals(PIPELINE, 20, deals=20, value=400_000, without_price=2),),
        stage_order={PIPELINE: list(STAGES)},
        plans=(PlanEntry(WEEK, plan),) if plan is not None else (),
        spend=spend,
        history_missing=history_missing,
    )
    return compute_period_figures(
        inputs,
        experimental_channels=set(experimental),
        qualified_norm=norm,
        min_manager_sample=10,
        completeness_fields=(),
        min_quality_sample=min_quality_sample,
    )


def sample_report(
    week: Period, *, account_id: int = 1, names: ReportNames | None = None, **changes: Any
) -> WeeklyReport:
    """The sample week's report for `week` (label 2026-W47), with `changes` (trends, speed, …) put in."""
    report = build_weekly_report(
        week_figures(),
        account_id=account_id,
        week_label="2026-W47",
        rule_version=1,
        stage_names=STAGE_NAMES,
        last_week_tasks=(),
        next_week_due=next_week(week).end,
        names=names or ReportNames(),
    )
    return replace(report, **changes)
