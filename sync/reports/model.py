"""The weekly marketing+sales meeting report as plain values, built from the stats figures (no I/O).

The report follows the meeting's agenda: % qualified per channel against the norm, experimental channels, run
rate and pipeline against the plan, what explains a figure that is off plan (with hypotheses to discuss), and
the meeting's own tasks in amoCRM. Every number comes from `sync.stats` (`PeriodFigures`), so the report shows
exactly what `leadpact stats show` shows for the same week.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Literal

from integration.i18n import Text
from rules.hypotheses import Effect
from sync.promos.disputes import DisputeGroup
from sync.stats.metrics import (
    ChannelQuality,
    ManagerConversion,
    PeriodFigures,
    RunRate,
    StageConversion,
)
from sync.stats.periods import Period
from sync.stats.report import channel_title, person_name
from sync.stats.speed import SpeedToLead
from sync.stats.trends import ResultsSinceInstall, Trends

# A run rate within ±10 % of the plan is "on plan": a week is too short for finer verdicts.
RUN_RATE_TOLERANCE = 0.10
# A stage needs this many leads entering it before its conversion is named as an explanation.
MIN_STAGE_SAMPLE = 10
MEETING_TAG = "#LeadPactMeeting"

Direction = Literal["below", "above"]


@dataclass(frozen=True, slots=True)
class FunnelStep:
    """One stage of a pipeline's funnel: leads of the week that reached it, and how many went on."""

    status_id: int | None  # None: won
    name: str
    reached: int
    conversion_to_next: float | None


@dataclass(frozen=True, slots=True)
class Funnel:
    pipeline_id: int | None
    steps: tuple[FunnelStep, ...]


@dataclass(frozen=True, slots=True)
class Finding:
    """A figure off plan or off norm, or something that explains one, in words for the meeting."""

    kind: Literal["run_rate", "coverage", "channel", "experimental", "stage", "manager"]
    subject: str
    text: Text


TaskStatus = Literal["done", "open", "overdue"]


@dataclass(frozen=True, slots=True)
class MeetingTask:
    """A task set at a meeting (an amoCRM task whose text carries the meeting tag)."""

    task_id: int
    text: str
    responsible_user_id: int | None
    complete_till: int | None
    is_completed: bool

    def status(self, as_of: int) -> TaskStatus:
        """done, open (not yet due) or overdue (past its deadline at `as_of` and not done)."""
        if self.is_completed:
            return "done"
        if self.complete_till is not None and self.complete_till < as_of:
            return "overdue"
        return "open"


@dataclass(frozen=True, slots=True)
class ReportNames:
    """How the report names things: people (amoCRM users), channels (the rule file's titles), pipelines."""

    people: Mapping[int, str] = field(default_factory=dict)
    channels: Mapping[str, Text] = field(default_factory=dict)
    pipelines: Mapping[int, str] = field(default_factory=dict)

    def person(self, user_id: int | None) -> Text:
        return Text(ru=person_name(user_id, self.people, "ru"), en=person_name(user_id, self.people, "en"))

    def channel(self, channel: str | None) -> Text:
        return Text(
            ru=channel_title(channel, self.channels, "ru"), en=channel_title(channel, self.channels, "en")
        )


@dataclass(frozen=True, slots=True)
class WeeklyReport:
    account_id: int
    week: Period
    week_label: str
    rule_version: int
    figures: PeriodFigures
    funnels: tuple[Funnel, ...]
    findings: tuple[Finding, ...]
    hypotheses: tuple[Text, ...]
    # None: the tasks could not be read from amoCRM (the rest of the report still stands).
    last_week_tasks: tuple[MeetingTask, ...] | None
    next_week_due: date
    # [start, end) of the week in unix seconds in the account's time zone: which tasks were due in it.
    week_bounds: tuple[int, int] = (0, 0)
    # Classifications sales reps flagged as wrong during the week, by channel and level (largest first).
    disputes: tuple[DisputeGroup, ...] = ()
    names: ReportNames = field(default_factory=ReportNames)
    # Meeting tasks due in the week after the reported one (None: amoCRM could not be read).
    next_week_tasks: tuple[MeetingTask, ...] | None = None
    next_week_bounds: tuple[int, int] = (0, 0)
    # The week next to the eight before it, and day by day (None: not computed).
    trends: Trends | None = None
    # Open hypotheses of the meeting with their effect as of the report (rules.hypotheses).
    tracked: tuple[TrackedHypothesis, ...] = ()
    # Weekly since the account was installed: what the three steps promise (None: not computed).
    results: ResultsSinceInstall | None = None
    # How soon people act on new leads, per manager, and the open leads still waiting (None: not computed).
    speed: SpeedToLead | None = None

    @property
    def channels(self) -> tuple[ChannelQuality, ...]:
        return self.figures.quality

    @property
    def experimental_channels(self) -> tuple[ChannelQuality, ...]:
        return tuple(row for row in self.figures.quality if row.experimental)

    @property
    def run_rates(self) -> tuple[RunRate, ...]:
        return self.figures.run_rates

    @property
    def off_plan(self) -> bool:
        return any(finding.kind in ("run_rate", "coverage") for finding in self.findings)


# --- texts of findings and hypotheses ------------------------------------------------------------------------

METRIC_NAMES: Mapping[str, Text] = {
    "leads": Text(ru="Лиды", en="Leads"),
    "qualified": Text(ru="Целевые лиды", en="Qualified leads"),
    "deals": Text(ru="Сделки", en="Deals"),
    "revenue": Text(ru="Выручка", en="Revenue"),
}
RUN_RATE_OFF = Text(
    ru="{metric}: {actual} при плане на эту дату {planned} ({pace} плана); прогноз {forecast} из {plan}.",
    en="{metric}: {actual} against {planned} planned to date ({pace} of plan); forecast {forecast} of {plan}.",
)
COVERAGE_OFF = Text(
    ru="Воронка покрывает {coverage} оставшегося плана выручки ({weighted} взвешенно из {remaining}).",
    en="The pipeline covers {coverage} of the remaining revenue plan ({weighted} weighted of {remaining}).",
)
CHANNEL_BELOW_NORM = Text(
    ru="Канал «{channel}»: целевых {pct} при норме {norm} ({qualified} из {classified}).",
    en="Channel “{channel}”: {pct} qualified against the norm of {norm} ({qualified} of {classified}).",
)
EXPERIMENTAL_BELOW_NORM = Text(
    ru="Экспериментальные каналы вместе: целевых {pct} при норме {norm} ({qualified} из {classified}).",
    en="Experimental channels together: {pct} qualified against the norm of {norm} ({qualified} of {classified}).",
)
WEAKEST_STAGE = Text(
    ru="Самый большой провал воронки: «{from_stage}» → «{to_stage}», дальше прошли {conversion} ({reached_to} из {reached_from}).",
    en="The funnel's biggest drop: “{from_stage}” → “{to_stage}”, {conversion} went on ({reached_to} of {reached_from}).",
)
WORST_MANAGER = Text(
    ru="Менеджер {manager}: конверсия в продажу {worst} против {best} у лучшего ({won} из {leads}).",
    en="Manager {manager}: lead → won {worst} against {best} for the best ({won} of {leads}).",
)
HYPOTHESIS_CHANNEL = Text(
    ru="Канал «{channel}» приводит нецелевых: проверить таргетинг, креативы и посадочную страницу.",
    en="Channel “{channel}” brings unqualified leads: review its targeting, creatives and landing page.",
)
HYPOTHESIS_EXPERIMENT = Text(
    ru="Эксперименты не дотягивают до нормы: решить, какие продолжать, а какие остановить.",
    en="Experiments fall short of the norm: decide which to continue and which to stop.",
)
HYPOTHESIS_VOLUME = Text(
    ru="Лидов меньше плана: не хватает бюджета или охвата — сверить расходы по каналам с планом.",
    en="Fewer leads than planned: budget or reach falls short — compare spend per channel with the plan.",
)
HYPOTHESIS_STAGE = Text(
    ru="Сделки застревают на этапе «{stage}»: разобрать причины отказов и скорость реакции.",
    en="Deals get stuck at “{stage}”: go through the reasons for losses and the response time.",
)
HYPOTHESIS_MANAGER = Text(
    ru="Менеджер {manager} конвертирует хуже других: разобрать звонки и перераспределить лиды.",
    en="Manager {manager} converts worse than the others: review calls and rebalance leads.",
)
HYPOTHESIS_COVERAGE = Text(
    ru="Воронки не хватит на план выручки: нужны дополнительные сделки или крупнее чек.",
    en="The pipeline will not cover the revenue plan: more deals or larger deals are needed.",
)
WON_STAGE = Text(ru="Успешно реализовано", en="Won")


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def amount(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}".replace(",", "\u202f")


def stage_name(status_id: int | None, names: Mapping[int, str]) -> Text:
    if status_id is None:
        return WON_STAGE
    name = names.get(status_id) or f"#{status_id}"
    return Text(ru=name, en=name)


def _filled(text: Text, **params: object) -> Text:
    """A text with its values put in, per language (names of stages may differ per language)."""

    def value(lang: Literal["ru", "en"], item: object) -> object:
        return item(lang) if isinstance(item, Text) else item

    return Text(
        ru=text("ru", **{key: value("ru", item) for key, item in params.items()}),
        en=text("en", **{key: value("en", item) for key, item in params.items()}),
    )


# --- building ----------------------------------------------------------------------------------------------


def funnels_of(conversions: Sequence[StageConversion], stage_names: Mapping[int, str]) -> tuple[Funnel, ...]:
    """Per pipeline: every stage in order with the week's leads reaching it, then won."""
    by_pipeline: dict[int | None, list[StageConversion]] = {}
    for row in conversions:
        by_pipeline.setdefault(row.pipeline_id, []).append(row)
    funnels = []
    for pipeline_id, rows in by_pipeline.items():
        steps = [
            FunnelStep(
                status_id=row.from_status,
                name=stage_names.get(row.from_status) or f"#{row.from_status}",
                reached=row.reached_from,
                conversion_to_next=row.conversion,
            )
            for row in rows
        ]
        steps.append(
            FunnelStep(status_id=None, name="", reached=rows[-1].reached_to, conversion_to_next=None)
        )
        funnels.append(Funnel(pipeline_id=pipeline_id, steps=tuple(steps)))
    # The pipeline with the most leads first: that is the funnel the meeting talks about. Pipelines no lead
    # of the week entered are left out (one empty funnel stays, so the section still shows the stages).
    ordered = sorted(funnels, key=lambda f: (-f.steps[0].reached, f.pipeline_id or 0))
    used = [funnel for funnel in ordered if funnel.steps[0].reached > 0]
    return tuple(used or ordered[:1])


def run_rate_findings(run_rates: Sequence[RunRate]) -> list[tuple[RunRate, Direction]]:
    """The planned figures whose pace is more than the tolerance away from the plan."""
    off: list[tuple[RunRate, Direction]] = []
    for rate in run_rates:
        if rate.pace is None:
            continue
        if rate.pace < 1 - RUN_RATE_TOLERANCE:
            off.append((rate, "below"))
        elif rate.pace > 1 + RUN_RATE_TOLERANCE:
            off.append((rate, "above"))
    return off


def weakest_stage(conversions: Sequence[StageConversion]) -> StageConversion | None:
    """The stage-to-stage step that loses the largest share of the leads entering it (enough of them)."""
    candidates = [
        row for row in conversions if row.conversion is not None and row.reached_from >= MIN_STAGE_SAMPLE
    ]
    return min(candidates, key=lambda row: (row.conversion or 0.0, -row.reached_from), default=None)


def worst_manager(figures: PeriodFigures) -> tuple[ManagerConversion, ManagerConversion] | None:
    """(worst, best) among ranked managers, when they differ in conversion."""
    ranking = figures.managers
    worst, best = ranking.worst, ranking.best
    if worst is None or best is None or worst.manager_id == best.manager_id:
        return None
    if (worst.conversion or 0.0) >= (best.conversion or 0.0):
        return None
    return worst, best


def explain(
    figures: PeriodFigures, stage_names: Mapping[int, str], names: ReportNames | None = None
) -> tuple[tuple[Finding, ...], tuple[Text, ...]]:
    """What is off plan or norm, what explains it (channels, stages, managers), and hypotheses to discuss."""
    named = names or ReportNames()
    findings: list[Finding] = []
    hypotheses: list[Text] = []
    off_plan = run_rate_findings(figures.run_rates)
    for rate, _direction in off_plan:
        findings.append(
            Finding(
                kind="run_rate",
                subject=rate.metric,
                text=_filled(
                    RUN_RATE_OFF,
                    metric=METRIC_NAMES[rate.metric],
                    actual=amount(rate.actual),
                    planned=amount(rate.planned_to_date),
                    pace=percent(rate.pace),
                    forecast=amount(rate.forecast),
                    plan=amount(rate.plan),
                ),
            )
        )
    below = {rate.metric for rate, direction in off_plan if direction == "below"}
    coverage = figures.coverage
    if (
        coverage.coverage is not None
        and coverage.weighted_value is not None
        and coverage.coverage < 1 - RUN_RATE_TOLERANCE
    ):
        findings.append(
            Finding(
                kind="coverage",
                subject="revenue",
                text=_filled(
                    COVERAGE_OFF,
                    coverage=percent(coverage.coverage),
                    weighted=amount(coverage.weighted_value),
                    remaining=amount(coverage.remaining_plan),
                ),
            )
        )
        hypotheses.append(HYPOTHESIS_COVERAGE)
    for row in figures.quality:
        if row.meets_norm is False and row.channel is not None:
            findings.append(
                Finding(
                    kind="channel",
                    subject=row.channel,
                    text=_filled(
                        CHANNEL_BELOW_NORM,
                        channel=named.channel(row.channel),
                        pct=percent(row.qualified_pct),
                        norm=percent(row.norm),
                        qualified=row.qualified,
                        classified=row.classified,
                    ),
                )
            )
            hypotheses.append(_filled(HYPOTHESIS_CHANNEL, channel=named.channel(row.channel)))
    experimental = figures.quality_experimental
    if experimental.meets_norm is False:
        findings.append(
            Finding(
                kind="experimental",
                subject="experimental",
                text=_filled(
                    EXPERIMENTAL_BELOW_NORM,
                    pct=percent(experimental.qualified_pct),
                    norm=percent(experimental.norm),
                    qualified=experimental.qualified,
                    classified=experimental.classified,
                ),
            )
        )
        hypotheses.append(HYPOTHESIS_EXPERIMENT)
    if "leads" in below or "qualified" in below:
        hypotheses.append(HYPOTHESIS_VOLUME)
    stage = weakest_stage(figures.conversions)
    sales_planned = any(r.plan is not None for r in figures.run_rates if r.metric in ("deals", "revenue"))
    # Without a sales plan there is no verdict to explain, but the biggest drop is still worth a look.
    if stage is not None and (below & {"deals", "revenue"} or not sales_planned):
        from_name = stage_name(stage.from_status, stage_names)
        findings.append(
            Finding(
                kind="stage",
                subject=str(stage.from_status),
                text=_filled(
                    WEAKEST_STAGE,
                    from_stage=from_name,
                    to_stage=stage_name(stage.to_status, stage_names),
                    conversion=percent(stage.conversion),
                    reached_to=stage.reached_to,
                    reached_from=stage.reached_from,
                ),
            )
        )
        hypotheses.append(_filled(HYPOTHESIS_STAGE, stage=from_name))
    managers = worst_manager(figures)
    if managers is not None:
        worst, best = managers
        findings.append(
            Finding(
                kind="manager",
                subject=str(worst.manager_id),
                text=_filled(
                    WORST_MANAGER,
                    manager=named.person(worst.manager_id),
                    worst=percent(worst.conversion),
                    best=percent(best.conversion),
                    won=worst.won,
                    leads=worst.leads,
                ),
            )
        )
        hypotheses.append(_filled(HYPOTHESIS_MANAGER, manager=named.person(worst.manager_id)))
    return tuple(findings), tuple(hypotheses)


def meeting_tasks_due(tasks: Sequence[MeetingTask], *, start: int, end: int) -> tuple[MeetingTask, ...]:
    """Meeting tasks due within [start, end): what last week's meeting set for the week reported on."""
    return tuple(
        sorted(
            (
                task
                for task in tasks
                if MEETING_TAG in task.text
                and task.complete_till is not None
                and start <= task.complete_till < end
            ),
            key=lambda task: (task.complete_till or 0, task.task_id),
        )
    )


def build_weekly_report(
    figures: PeriodFigures,
    *,
    account_id: int,
    week_label: str,
    rule_version: int,
    stage_names: Mapping[int, str],
    last_week_tasks: tuple[MeetingTask, ...] | None,
    next_week_due: date,
    week_bounds: tuple[int, int] | None = None,
    disputes: Sequence[DisputeGroup] = (),
    names: ReportNames | None = None,
) -> WeeklyReport:
    """The report of one week from that week's figures (as `leadpact stats show` computes them)."""
    named = names or ReportNames()
    findings, hypotheses = explain(figures, stage_names, named)
    bounds = week_bounds or figures.period.bounds()
    return WeeklyReport(
        account_id=account_id,
        week=figures.period,
        week_label=week_label,
        rule_version=rule_version,
        figures=figures,
        funnels=funnels_of(figures.conversions, stage_names),
        findings=findings,
        hypotheses=tuple(dict.fromkeys(hypotheses)),
        last_week_tasks=last_week_tasks,
        next_week_due=next_week_due,
        week_bounds=bounds,
        disputes=tuple(disputes),
        names=named,
        next_week_bounds=(bounds[1], bounds[1] + (bounds[1] - bounds[0])),
    )


def with_meeting_tasks(report: WeeklyReport, tasks: Sequence[MeetingTask] | None) -> WeeklyReport:
    """The same report with the meeting tasks due in its week (None: amoCRM could not be read)."""
    start, end = report.week_bounds
    next_start, next_end = report.next_week_bounds
    if tasks is None:
        return replace(report, last_week_tasks=None, next_week_tasks=None)
    return replace(
        report,
        last_week_tasks=meeting_tasks_due(tasks, start=start, end=end),
        next_week_tasks=meeting_tasks_due(tasks, start=next_start, end=next_end),
    )


# --- hypotheses recorded at the meeting, with their measured effect (rules.hypotheses) -------------------------


@dataclass(frozen=True, slots=True)
class TrackedHypothesis:
    """An open hypothesis as the report shows it: who owns it, what it should move, and what moved."""

    id: int
    text: str
    owner: Text
    metric: str
    direction: str
    segment: Text
    starts_on: date
    effect: Effect
