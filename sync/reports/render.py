"""The weekly report as Markdown (CLI, amoCRM note) and as HTML with inline SVG charts (page, CLI)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from integration.i18n import Language, Text
from rules.hypotheses import MAX_WINDOW_DAYS, MIN_SAMPLE, PROPORTIONS, Side
from sync.reports import texts as t
from sync.reports.charts import cumulative_chart, funnel_chart, qualified_chart, run_rate_chart, sparkline
from sync.reports.model import (
    MEETING_TAG,
    METRIC_NAMES,
    WON_STAGE,
    MeetingTask,
    ReportNames,
    TrackedHypothesis,
    WeeklyReport,
    amount,
    percent,
)
from sync.stats.metrics import ChannelQuality
from sync.stats.report import HISTORY_MISSING, WON_BASIS
from sync.stats.trends import Delta

TEMPLATES = Path(__file__).parent / "templates"


def _verdict(row: ChannelQuality, lang: Language) -> str:
    if row.too_few:
        return t.TOO_FEW_VERDICT(lang, n=row.classified)
    if row.meets_norm is None:
        return t.NO_NORM(lang)
    return t.IN_NORM(lang) if row.meets_norm else t.BELOW_NORM(lang)


def _channel_name(row: ChannelQuality, names: ReportNames, lang: Language) -> str:
    if row.scope == "total":
        return t.TOTAL(lang)
    if row.scope == "experimental":
        return t.EXPERIMENTAL_TOGETHER(lang)
    name = names.channel(row.channel)(lang) if row.channel is not None else t.NO_CHANNEL(lang)
    return name + (" *" if row.experimental else "")


def _money(value: Decimal | None, lang: Language) -> str:
    return t.UNKNOWN(lang) if value is None else amount(float(value))


def _quality_row(row: ChannelQuality, names: ReportNames, lang: Language) -> dict[str, Any]:
    return {
        "name": _channel_name(row, names, lang),
        "leads": row.leads,
        "classified": row.classified,
        "qualified": row.qualified,
        "pct": percent(row.qualified_pct),
        "norm": percent(row.norm),
        "verdict": _verdict(row, lang),
        "ok": row.meets_norm,
    }


def duration(seconds: float, lang: Language) -> str:
    """A wait as people say it: minutes under an hour, hours and minutes under a day, then days and hours."""
    minutes = int(seconds // 60)
    if minutes < 60:
        return t.MINUTES(lang, n=minutes)
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return t.HOURS(lang, h=hours, m=minutes) if minutes else t.WHOLE_HOURS(lang, h=hours)
    days, hours = divmod(hours, 24)
    return t.DAYS(lang, d=days, h=hours) if hours else t.WHOLE_DAYS(lang, d=days)


def _speed_rows(report: WeeklyReport, lang: Language) -> list[dict[str, Any]]:
    if report.speed is None:
        return []
    return [
        {
            "name": report.names.person(manager.user_id)(lang),
            "median": t.NO_TOUCH_YET(lang)
            if manager.median_seconds is None
            else duration(manager.median_seconds, lang),
            "touched": t.TOUCHED_OF(lang, touched=manager.touched, leads=manager.leads),
        }
        for manager in report.speed.managers
    ]


def _waiting(report: WeeklyReport, lang: Language) -> dict[str, Any]:
    speed = report.speed
    if speed is None:
        return {"title": "", "rows": [], "more": ""}
    threshold = duration(speed.threshold_seconds, lang)
    title = (
        t.WAITING(lang, threshold=threshold, total=speed.waiting_total)
        if speed.waiting_total
        else t.WAITING_NONE(lang, threshold=threshold)
    )
    rows = [
        {
            "lead": f"#{lead.lead_id} {lead.name}".strip(),
            "manager": report.names.person(lead.responsible_user_id)(lang),
            "waiting": duration(lead.waiting_seconds, lang),
        }
        for lead in speed.waiting
    ]
    more = speed.waiting_total - len(rows)
    return {"title": title, "rows": rows, "more": t.WAITING_MORE(lang, more=more) if more > 0 else ""}


def _manager_rows(report: WeeklyReport, lang: Language) -> list[dict[str, Any]]:
    ranking = report.figures.managers
    rows = []
    for manager in ranking.managers:
        if manager.manager_id is None:
            continue
        if ranking.best is not None and manager.manager_id == ranking.best.manager_id:
            note, ok = t.BEST(lang), True
        elif ranking.worst is not None and manager.manager_id == ranking.worst.manager_id:
            note, ok = t.WORST(lang), False
        elif not manager.ranked:
            note, ok = t.TOO_FEW_VERDICT(lang, n=manager.leads), None
        else:
            note, ok = "", None
        rows.append(
            {
                "name": report.names.person(manager.manager_id)(lang),
                "leads": manager.leads,
                "won": manager.won,
                "conversion": percent(manager.conversion),
                "note": note,
                "ok": ok,
            }
        )
    # Best first, worst last, the others by conversion: the meeting reads the extremes.
    order = {t.BEST(lang): 0, t.WORST(lang): 2}
    return sorted(
        rows, key=lambda row: (order.get(row["note"], 1), -float(row["won"]) / max(row["leads"], 1))
    )


def _cost_rows(report: WeeklyReport, lang: Language) -> list[dict[str, Any]]:
    return [
        {
            "name": report.names.channel(cost.channel)(lang) if cost.channel else t.NO_CHANNEL(lang),
            "spend": _money(cost.spend, lang),
            "leads": cost.leads,
            "per_lead": _money(cost.per_lead, lang),
            "qualified": cost.qualified,
            "per_qualified": _money(cost.per_qualified, lang),
            "customers": cost.customers,
            "per_customer": _money(cost.per_customer, lang),
        }
        for cost in report.figures.costs
    ]


def _task_rows(
    tasks: tuple[MeetingTask, ...] | None, report: WeeklyReport, lang: Language
) -> list[dict[str, Any]] | None:
    if tasks is None:
        return None
    return [
        {
            "id": task.task_id,
            "text": task.text.replace(MEETING_TAG, "").strip(),
            "responsible": report.names.person(task.responsible_user_id)(lang)
            if task.responsible_user_id
            else "—",
            "due": _when(task.complete_till),
            "status": _task_status(task, report.figures.as_of, lang),
            "state": task.status(report.figures.as_of),
        }
        for task in tasks
    ]


def _when(moment: int | None) -> str:
    if moment is None:
        return "—"
    return datetime.fromtimestamp(moment, tz=UTC).strftime("%Y-%m-%d")


def _task_status(task: MeetingTask, as_of: int, lang: Language) -> str:
    return {"done": t.DONE, "open": t.OPEN, "overdue": t.OVERDUE}[task.status(as_of)](lang)


ARROWS = {"up": "▲", "down": "▼", "flat": "="}


def _trend_value(metric: str, value: float | None, lang: Language) -> str:
    if value is None:
        return t.UNKNOWN(lang) if metric == "per_customer" else "—"
    if metric in ("qualified_pct", "conversion"):
        return percent(value)
    return amount(value)


def _change(delta: Delta, lang: Language) -> str:
    if delta.direction is None or delta.change is None:
        return "—"
    if delta.direction == "flat":
        return ARROWS["flat"]
    if delta.metric in ("qualified_pct", "conversion"):
        size = f"{abs(delta.change) * 100:.0f} pp" if lang == "en" else f"{abs(delta.change) * 100:.0f} п.п."
    else:
        size = amount(abs(delta.change))
    sign = "+" if delta.change > 0 else "−"
    return f"{ARROWS[delta.direction]} {sign}{size}"


def _trend_rows(report: WeeklyReport, lang: Language) -> list[dict[str, Any]]:
    trends = report.trends
    if trends is None:
        return []
    rows = []
    for delta in trends.deltas:
        values = [week.value(delta.metric) for week in trends.weeks]
        name = t.TREND_NAMES[delta.metric](lang)
        rows.append(
            {
                "name": name,
                "history": " · ".join(_trend_value(delta.metric, value, lang) for value in values[:-1]),
                "last": _trend_value(delta.metric, delta.previous, lang),
                "this": _trend_value(delta.metric, delta.current, lang),
                "change": _change(delta, lang),
                "good": delta.good,
                "sparkline": Markup(sparkline(name, values, lang, good=delta.good)),  # noqa: S704
            }
        )
    return rows


def _results_value(metric: str, value: float | None, lang: Language) -> str:
    if metric == "median_cycle_days":
        return "—" if value is None else f"{value:.1f}".rstrip("0").rstrip(".")
    return _trend_value(metric, value, lang)


def _results_rows(report: WeeklyReport, lang: Language) -> list[dict[str, Any]]:
    results = report.results
    if results is None or not results.weeks:
        return []
    rows = []
    for metric, name_text in t.RESULTS_NAMES.items():
        values: list[float | None] = []
        for week in results.weeks:
            figure = getattr(week, metric)
            values.append(None if figure is None else float(figure))
        name = name_text(lang)
        rows.append(
            {
                "name": name,
                "history": " · ".join(_results_value(metric, value, lang) for value in values),
                "first": _results_value(metric, values[0], lang),
                "this": _results_value(metric, values[-1], lang),
                "sparkline": Markup(sparkline(name, values, lang, good=None)),  # noqa: S704
            }
        )
    return rows


def _results_note(report: WeeklyReport, lang: Language) -> str:
    results = report.results
    if results is None:
        return ""
    return t.RESULTS_SINCE(
        lang,
        installed=results.installed_on.isoformat(),
        weeks=len(results.weeks),
        truncated=t.RESULTS_TRUNCATED(lang) if results.truncated else "",
    )


def _cumulative_charts(report: WeeklyReport, lang: Language) -> list[Markup]:
    trends = report.trends
    if trends is None:
        return []
    charts = []
    for metric in ("leads", "qualified", "revenue"):
        actual = [float(getattr(day, metric)) for day in trends.days]
        plan = getattr(trends.plan, metric)
        chart = cumulative_chart(metric, actual, plan, report.week.days, lang)
        charts.append(Markup(chart))  # noqa: S704 - escaped inside charts.py
    return charts


HYPOTHESIS_METRICS = {
    "qualified_pct": t.METRIC_QUALIFIED,
    "conversion": t.METRIC_CONVERSION,
    "cpl": t.METRIC_CPL,
    "cpql": t.METRIC_CPQL,
}
HYPOTHESIS_VERDICTS = {"confirmed": t.CONFIRMED, "refuted": t.REFUTED, "too_early": t.TOO_EARLY}


def _side(side: Side, interval: tuple[float, float] | None, proportion: bool, lang: Language) -> str:
    if not proportion:
        if not side.spend or not side.units:
            return f"{t.NO_DATA(lang)} (n={side.units})"
        return f"{amount(side.spend / side.units)} (n={side.units})"
    if not side.units:
        return f"{t.NO_DATA(lang)} (n=0)"
    shown = f"{percent(side.successes / side.units)} ({side.successes}/{side.units}"
    if interval is not None:
        shown += f"; {percent(interval[0])}–{percent(interval[1])}"
    return shown + ")"


def _signed(value: float, proportion: bool) -> str:
    return f"{value * 100:+.1f} pp" if proportion else f"{value * 100:+.0f}%"


def tracked_rows(tracked: Sequence[TrackedHypothesis], lang: Language) -> list[dict[str, Any]]:
    """The open hypotheses as the report and `leadpact hypotheses list` show them."""
    rows = []
    for item in tracked:
        effect = item.effect
        proportion = effect.metric in PROPORTIONS
        change = "—"
        if effect.change is not None and effect.interval is not None:
            low, high = effect.interval
            change = f"{_signed(effect.change, proportion)} [{_signed(low, proportion)}; {_signed(high, proportion)}]"
        direction = t.GOES_UP if item.direction == "up" else t.GOES_DOWN
        rows.append(
            {
                "text": item.text,
                "owner": item.owner(lang),
                "metric": f"{HYPOTHESIS_METRICS[item.metric](lang)}, {direction(lang)}",
                "segment": item.segment(lang),
                "since": f"{item.starts_on.isoformat()} (N={effect.days})",
                "before": _side(effect.before, effect.before_interval, proportion, lang),
                "after": _side(effect.after, effect.after_interval, proportion, lang),
                "change": change,
                "verdict": HYPOTHESIS_VERDICTS[effect.verdict](lang),
                "verdict_key": effect.verdict,
            }
        )
    return rows


def context(report: WeeklyReport, lang: Language) -> dict[str, Any]:
    """Everything a template needs, already in the reader's language."""
    figures = report.figures
    coverage = figures.coverage
    names = report.names
    history_known = figures.history_missing is None
    basis = WON_BASIS[figures.won_basis](lang)
    weighted = t.UNKNOWN(lang) if coverage.weighted_value is None else amount(coverage.weighted_value)
    covered = (
        t.NO_REVENUE_PLAN(lang)
        if coverage.remaining_plan is None
        else t.PLAN_ALREADY_MET(lang)
        if coverage.remaining_plan == 0
        else t.UNKNOWN(lang)
        if coverage.weighted_value is None
        else percent(coverage.coverage)
    )
    return {
        "lang": lang,
        "report": report,
        "title": t.TITLE(lang, week=report.week_label),
        "subtitle": t.SUBTITLE(
            lang,
            start=report.week.start,
            end=report.week.end,
            version=report.rule_version,
            as_of=datetime.fromtimestamp(figures.as_of, tz=UTC).strftime("%Y-%m-%d %H:%M"),
        ),
        "history_warning": None
        if history_known or figures.history_missing is None
        else HISTORY_MISSING[figures.history_missing](lang),
        "channel_rows": [
            _quality_row(row, names, lang)
            for row in (*figures.quality, figures.quality_total, figures.quality_experimental)
        ],
        "experimental_rows": [
            _quality_row(row, names, lang)
            for row in (
                (*report.experimental_channels, figures.quality_experimental)
                if report.experimental_channels
                else ()
            )
        ],
        "run_rate_rows": [
            {
                "metric": METRIC_NAMES[rate.metric](lang),
                "plan": amount(rate.plan),
                "planned": amount(rate.planned_to_date),
                "actual": amount(rate.actual),
                "pace": percent(rate.pace),
                "forecast": amount(rate.forecast),
                "ok": None if rate.pace is None else rate.pace >= 0.9,
            }
            for rate in figures.run_rates
        ],
        "pipeline": t.PIPELINE(
            lang,
            deals=coverage.open_deals,
            value=amount(coverage.open_value),
            weighted=weighted,
            coverage=covered,
        ),
        "funnels": [
            {
                "title": t.FUNNEL_PIPELINE(
                    lang,
                    pipeline=names.pipelines.get(funnel.pipeline_id) or funnel.pipeline_id
                    if funnel.pipeline_id
                    else "—",
                ),
                "steps": [
                    {
                        "name": step.name if step.status_id is not None else WON_STAGE(lang),
                        "reached": step.reached,
                        "conversion": percent(step.conversion_to_next)
                        if history_known or step.status_id is None
                        else t.UNKNOWN(lang),
                    }
                    for step in funnel.steps
                ],
                "chart": Markup(funnel_chart(funnel, lang)),  # noqa: S704 - escaped inside charts.py
            }
            for funnel in report.funnels
        ],
        "run_rate_charts": _cumulative_charts(report, lang)
        or [
            Markup(run_rate_chart(rate, lang))  # noqa: S704 - escaped inside charts.py
            for rate in figures.run_rates
            if rate.metric in ("leads", "qualified", "revenue")
        ],
        "trend_rows": _trend_rows(report, lang),
        "results_rows": _results_rows(report, lang),
        "results_note": _results_note(report, lang),
        "qualified_chart": Markup(  # noqa: S704 - escaped inside charts.py
            qualified_chart(
                figures.quality,
                lang,
                {row.channel: names.channel(row.channel)(lang) for row in figures.quality if row.channel},
            )
        ),
        "disputes": [
            t.DISPUTE_LINE(
                lang,
                channel=group.channel or t.NO_CHANNEL(lang),
                level=group.level or "—",
                leads=group.leads,
                reasons="; ".join(f"{reason} ({count})" for reason, count in group.top_reasons) or "—",
            )
            for group in report.disputes
        ],
        "findings": [finding.text(lang) for finding in report.findings],
        "hypotheses": [hypothesis(lang) for hypothesis in report.hypotheses],
        "tracked_rows": tracked_rows(report.tracked, lang),
        "verdict_rule": t.VERDICT_RULE(lang, days=MAX_WINDOW_DAYS, min=MIN_SAMPLE),
        "manager_rows": _manager_rows(report, lang),
        "manager_note": t.MIN_SAMPLE_NOTE(
            lang, min=figures.managers.min_sample, basis=t.MANAGER_CONVERSION_BASIS(lang)
        ),
        "speed_rows": _speed_rows(report, lang),
        "speed_note": t.SPEED_NOTE(lang)
        if history_known
        else f"{t.SPEED_NOTE(lang)} {t.SPEED_NO_EVENTS(lang)}",
        "waiting": _waiting(report, lang),
        "cost_rows": _cost_rows(report, lang),
        "any_spend": any(cost.spend is not None for cost in figures.costs),
        "basis_note": t.BASIS_NOTE(lang, basis=basis),
        "tasks": _task_rows(report.last_week_tasks, report, lang),
        "next_tasks": _task_rows(report.next_week_tasks, report, lang),
        "next_tasks_hint": t.NEXT_TASKS_HINT(lang, due=report.next_week_due, tag=MEETING_TAG),
        "t": {name: value(lang) for name, value in vars(t).items() if isinstance(value, Text)},
    }


def environment() -> Environment:
    """A Jinja environment over the report's templates, escaping everything by default."""
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html_fragment(report: WeeklyReport, lang: Language) -> Markup:
    """The report's sections as HTML to embed in a page (charts inline, all text escaped)."""
    html = environment().get_template("weekly_body.html").render(context(report, lang))
    return Markup(html)  # noqa: S704 - rendered with autoescape


def render_html(report: WeeklyReport, lang: Language) -> str:
    """A complete, self-contained HTML document (no external CSS, scripts or fonts)."""
    return (
        environment()
        .get_template("weekly_page.html")
        .render(
            body=render_html_fragment(report, lang), lang=lang, title=t.TITLE(lang, week=report.week_label)
        )
    )


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return lines


_TRACKED_HEADER = (
    "HYPOTHESIS",
    "OWNER",
    "METRIC",
    "SEGMENT",
    "SINCE",
    "BEFORE",
    "AFTER",
    "CHANGE",
    "VERDICT",
)


def _speed_markdown(data: dict[str, Any], words: dict[str, str]) -> list[str]:
    if not data["speed_rows"] and not data["waiting"]["title"]:
        return []
    lines = ["", f"### {words['SPEED']}", ""]
    if data["speed_rows"]:
        lines += _table(
            [words["MANAGER"], words["SPEED_MEDIAN"], words["SPEED_TOUCHED"]],
            [[row["name"], row["median"], row["touched"]] for row in data["speed_rows"]],
        )
        lines.append("")
    lines += [f"_{data['speed_note']}_", "", data["waiting"]["title"]]
    if data["waiting"]["rows"]:
        lines.append("")
        lines += _table(
            [words["LEAD_COLUMN"], words["MANAGER"], words["WAITING_FOR"]],
            [[row["lead"], row["manager"], row["waiting"]] for row in data["waiting"]["rows"]],
        )
    if data["waiting"]["more"]:
        lines += ["", data["waiting"]["more"]]
    return lines


def render_markdown(report: WeeklyReport, lang: Language) -> str:
    """The report as Markdown: the same sections and figures as the page, tables instead of charts."""
    data = context(report, lang)
    words = data["t"]
    lines = [f"# {data['title']}", "", data["subtitle"], ""]
    if data["history_warning"]:
        lines += [f"> ⚠ {data['history_warning']}", ""]
    lines += [f"## {words['S1']}", ""]
    quality_header = [
        words["CHANNEL"],
        words["LEADS"],
        words["CLASSIFIED"],
        words["QUALIFIED"],
        words["QUALIFIED_PCT"],
        words["NORM"],
        words["VERDICT"],
    ]

    def quality_rows(rows: list[dict[str, Any]]) -> list[list[Any]]:
        keys = ("name", "leads", "classified", "qualified", "pct", "norm", "verdict")
        return [[row[key] for key in keys] for row in rows]

    lines += _table(quality_header, quality_rows(data["channel_rows"]))
    lines += ["", f"_{words['EXPERIMENTAL_MARK']}_", ""]
    if data["disputes"]:
        lines += [words["DISPUTES"], ""] + [f"- {line}" for line in data["disputes"]] + [""]
    lines += [f"## {words['S2']}", ""]
    if data["experimental_rows"]:
        lines += _table(quality_header, quality_rows(data["experimental_rows"]))
    else:
        lines.append(words["NO_EXPERIMENTS"])
    lines += ["", f"## {words['S3']}", ""]
    lines += _table(
        [
            words["METRIC"],
            words["PLAN"],
            words["PLANNED_TO_DATE"],
            words["ACTUAL"],
            words["PACE"],
            words["FORECAST"],
        ],
        [
            [row["metric"], row["plan"], row["planned"], row["actual"], row["pace"], row["forecast"]]
            for row in data["run_rate_rows"]
        ],
    )
    lines += ["", f"_{data['basis_note']}_", "", data["pipeline"]]
    if data["trend_rows"]:
        lines += ["", f"### {words['TRENDS']}", ""]
        lines += _table(
            [
                words["TREND_METRIC"],
                words["TREND_WEEKS"],
                words["LAST_WEEK"],
                words["THIS_WEEK"],
                words["CHANGE"],
            ],
            [
                [row["name"], row["history"], row["last"], row["this"], row["change"]]
                for row in data["trend_rows"]
            ],
        )
    if data["results_rows"]:
        lines += ["", f"### {words['RESULTS']}", "", data["results_note"], ""]
        lines += _table(
            [words["TREND_METRIC"], words["RESULTS_FIRST"], words["THIS_WEEK"], words["RESULTS"]],
            [[row["name"], row["first"], row["this"], row["history"]] for row in data["results_rows"]],
        )
    for funnel in data["funnels"]:
        lines += ["", f"**{funnel['title']}**", ""]
        lines += _table(
            [words["STAGE"], words["REACHED"], words["CONVERSION"]],
            [[step["name"], step["reached"], step["conversion"]] for step in funnel["steps"]],
        )
    lines += ["", f"## {words['S4']}", ""]
    if data["manager_rows"]:
        lines += _table(
            [
                words["MANAGER"],
                words["LEADS"],
                words["WON"],
                words["MANAGER_CONVERSION"],
                words["MANAGER_NOTE"],
            ],
            [
                [row["name"], row["leads"], row["won"], row["conversion"], row["note"]]
                for row in data["manager_rows"]
            ],
        )
    else:
        lines.append(words["NO_MANAGERS"])
    lines += ["", f"_{data['manager_note']}_"]
    lines += _speed_markdown(data, words)
    lines += ["", f"## {words['S5']}", ""]
    if not data["any_spend"]:
        lines.append(words["NO_SPEND"])
    lines += _table(
        [
            words["CHANNEL"],
            words["SPEND"],
            words["LEADS"],
            words["PER_LEAD"],
            words["QUALIFIED"],
            words["PER_QUALIFIED"],
            words["CUSTOMERS"],
            words["PER_CUSTOMER"],
        ],
        [
            [
                row["name"],
                row["spend"],
                row["leads"],
                row["per_lead"],
                row["qualified"],
                row["per_qualified"],
                row["customers"],
                row["per_customer"],
            ]
            for row in data["cost_rows"]
        ],
    )
    lines += ["", f"_{data['basis_note']}_", "", f"## {words['S6']}", ""]
    if data["findings"]:
        lines += [f"- {finding}" for finding in data["findings"]]
    else:
        lines.append(words["ALL_ON_PLAN"])
    lines += ["", f"## {words['S7']}", ""]
    if data["hypotheses"]:
        lines += [f"{index}. {text}" for index, text in enumerate(data["hypotheses"], start=1)]
    else:
        lines.append(words["NO_HYPOTHESES"])
    lines += ["", f"### {words['TRACKED']}", ""]
    if data["tracked_rows"]:
        keys = ["text", "owner", "metric", "segment", "since", "before", "after", "change", "verdict"]
        lines += _table(
            [words[key] for key in _TRACKED_HEADER],
            [[row[key] for key in keys] for row in data["tracked_rows"]],
        )
        lines += ["", f"_{data['verdict_rule']}_"]
    else:
        lines.append(words["NO_TRACKED"])
    task_header = [words["TASK"], words["RESPONSIBLE"], words["DUE"], words["STATUS"]]
    lines += ["", f"## {words['S8']}", ""]
    if data["tasks"] is None:
        lines.append(words["TASKS_UNAVAILABLE"])
    elif not data["tasks"]:
        lines.append(words["NO_TASKS"])
    else:
        lines += _table(
            task_header,
            [[row["text"], row["responsible"], row["due"], row["status"]] for row in data["tasks"]],
        )
    lines += ["", f"## {words['S9']}", ""]
    if data["next_tasks"] is None:
        lines.append(words["TASKS_UNAVAILABLE"])
    elif not data["next_tasks"]:
        lines.append(words["NO_NEXT_TASKS"])
    else:
        lines += _table(
            task_header,
            [[row["text"], row["responsible"], row["due"], row["status"]] for row in data["next_tasks"]],
        )
    lines += ["", data["next_tasks_hint"], ""]
    return "\n".join(lines)
