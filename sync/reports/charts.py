"""The report's charts as inline SVG, drawn on the server: no script, no CDN, the page works offline.

Each function returns one `<svg>` element as text; every label is escaped here, so a channel or stage name
holding HTML is shown as text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from integration.i18n import Language, Text
from sync.reports.model import METRIC_NAMES, WON_STAGE, Funnel, amount, percent
from sync.stats.metrics import ChannelQuality, RunRate

FUNNEL_TITLE = Text(ru="Воронка недели: конверсия по этапам", en="The week's funnel: conversion per stage")
RUN_RATE_TITLE = Text(ru="{metric}: темп против плана", en="{metric}: run rate against plan")
QUALIFIED_TITLE = Text(ru="% целевых по каналам", en="% qualified per channel")
LEGEND_PLAN = Text(ru="план", en="plan")
LEGEND_ACTUAL = Text(ru="факт", en="actual")
LEGEND_FORECAST = Text(ru="прогноз", en="forecast")
LEGEND_NORM = Text(ru="норма {norm}", en="norm {norm}")
NO_PLAN = Text(ru="плана нет", en="no plan")
NO_DATA = Text(ru="нет данных за неделю", en="no data for the week")
DAY_AXIS = Text(ru="день {day}", en="day {day}")

GOOD = "#2e7d32"
BAD = "#c62828"
NEUTRAL = "#1565c0"
MUTED = "#9e9e9e"
FONT = "font-family='sans-serif' font-size='12'"


def _svg(kind: str, title: str, width: int, height: int, body: str) -> str:
    label = escape(title, quote=True)
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' class='chart' data-chart='{kind}' role='img' "
        f"aria-label='{label}' viewBox='0 0 {width} {height}' width='{width}' height='{height}'>"
        f"<title>{escape(title)}</title>{body}</svg>"
    )


def _text(x: float, y: float, content: str, *, anchor: str = "start", fill: str = "#212121") -> str:
    return (
        f"<text x='{x:.1f}' y='{y:.1f}' text-anchor='{anchor}' fill='{fill}' {FONT}>{escape(content)}</text>"
    )


def funnel_chart(funnel: Funnel, lang: Language) -> str:
    """Bars as wide as the leads reaching each stage, with the share that went on to the next one."""
    width, row_height, label_width = 640, 34, 200
    height = row_height * len(funnel.steps) + 30
    top = max((step.reached for step in funnel.steps), default=0)
    bar_room = width - label_width - 140
    parts = [_text(8, 16, FUNNEL_TITLE(lang))]
    for index, step in enumerate(funnel.steps):
        y = 28 + index * row_height
        name = step.name if step.status_id is not None else WON_STAGE(lang)
        bar = 0.0 if top == 0 else bar_room * step.reached / top
        colour = GOOD if step.status_id is None else NEUTRAL
        parts.append(_text(8, y + 17, name[:32]))
        parts.append(
            f"<rect x='{label_width}' y='{y + 4}' width='{max(bar, 1.0):.1f}' height='{row_height - 10}' "
            f"fill='{colour}' rx='3'><title>{escape(name)}: {step.reached}</title></rect>"
        )
        parts.append(_text(label_width + max(bar, 1.0) + 6, y + 17, str(step.reached)))
        if step.conversion_to_next is not None:
            parts.append(
                _text(width - 8, y + 17, f"→ {percent(step.conversion_to_next)}", anchor="end", fill=MUTED)
            )
    return _svg("funnel", FUNNEL_TITLE(lang), width, height, "".join(parts))


def run_rate_chart(rate: RunRate, lang: Language) -> str:
    """Days of the period across; the plan as a straight line, the actual to date, and the forecast."""
    width, height, left, right, top, bottom = 320, 200, 48, 12, 28, 30
    title = RUN_RATE_TITLE(lang, metric=METRIC_NAMES[rate.metric](lang))
    highest = max(value for value in (rate.plan, rate.forecast, rate.actual, 1.0) if value is not None)
    plot_w, plot_h = width - left - right, height - top - bottom

    def point(day: float, value: float) -> str:
        x = left + plot_w * day / rate.total_days
        y = top + plot_h * (1 - value / highest)
        return f"{x:.1f},{y:.1f}"

    parts = [
        _text(8, 16, title),
        f"<line x1='{left}' y1='{top + plot_h}' x2='{left + plot_w}' y2='{top + plot_h}' stroke='{MUTED}'/>",
        f"<line x1='{left}' y1='{top}' x2='{left}' y2='{top + plot_h}' stroke='{MUTED}'/>",
        _text(left - 4, top + 4, amount(highest), anchor="end", fill=MUTED),
        _text(left - 4, top + plot_h, "0", anchor="end", fill=MUTED),
        _text(left + plot_w, height - 10, DAY_AXIS(lang, day=rate.total_days), anchor="end", fill=MUTED),
    ]
    legend = []
    if rate.plan is not None:
        parts.append(
            f"<polyline class='plan' fill='none' stroke='{MUTED}' stroke-width='2' "
            f"points='{point(0, 0)} {point(rate.total_days, rate.plan)}'/>"
        )
    on_pace = rate.pace is None or rate.pace >= 0.9
    colour = GOOD if on_pace else BAD
    parts.append(
        f"<polyline class='actual' fill='none' stroke='{colour}' stroke-width='3' "
        f"points='{point(0, 0)} {point(rate.elapsed_days, rate.actual)}'/>"
    )
    legend.append((f"{LEGEND_ACTUAL(lang)} {amount(rate.actual)}", colour))
    if rate.forecast is not None and rate.elapsed_days < rate.total_days:
        parts.append(
            f"<polyline class='forecast' fill='none' stroke='{colour}' stroke-width='2' "
            f"stroke-dasharray='5,4' points='{point(rate.elapsed_days, rate.actual)} "
            f"{point(rate.total_days, rate.forecast)}'/>"
        )
        legend.append((f"{LEGEND_FORECAST(lang)} {amount(rate.forecast)}", colour))
    if rate.plan is None:
        legend.append((NO_PLAN(lang), MUTED))
    else:
        legend.append((f"{LEGEND_PLAN(lang)} {amount(rate.plan)}", MUTED))
    for index, (label, fill) in enumerate(legend):
        parts.append(_text(left + 8, top + 14 + index * 14, label, fill=fill))
    return _svg(f"run-rate-{rate.metric}", title, width, height, "".join(parts))


def qualified_chart(
    rows: Sequence[ChannelQuality], lang: Language, titles: Mapping[str, str] | None = None
) -> str:
    """A bar per channel (by its title): % qualified, green at or above the norm, red below, grey when too few
    to judge; the norm as a dashed line."""
    width, height, left, top, bottom = 640, 240, 40, 28, 48
    title = QUALIFIED_TITLE(lang)
    shown = [row for row in rows if row.classified > 0]
    if not shown:
        return _svg("qualified", title, width, 60, _text(8, 16, title) + _text(8, 40, NO_DATA(lang)))
    plot_w, plot_h = width - left - 12, height - top - bottom
    slot = plot_w / len(shown)
    parts = [_text(8, 16, title)]
    for fraction in (0.0, 0.5, 1.0):
        y = top + plot_h * (1 - fraction)
        parts.append(f"<line x1='{left}' y1='{y:.1f}' x2='{left + plot_w}' y2='{y:.1f}' stroke='#eeeeee'/>")
        parts.append(_text(left - 4, y + 4, percent(fraction), anchor="end", fill=MUTED))
    for index, row in enumerate(shown):
        pct = row.qualified_pct or 0.0
        colour = NEUTRAL if row.meets_norm is None else GOOD if row.meets_norm else BAD
        bar_h = plot_h * min(pct, 1.0)
        x = left + index * slot + slot * 0.15
        name = (titles or {}).get(row.channel, row.channel) if row.channel is not None else "—"
        label = name + (" *" if row.experimental else "")
        parts.append(
            f"<rect x='{x:.1f}' y='{top + plot_h - bar_h:.1f}' width='{slot * 0.7:.1f}' "
            f"height='{max(bar_h, 1.0):.1f}' fill='{colour}'>"
            f"<title>{escape(label)}: {percent(row.qualified_pct)}</title></rect>"
        )
        parts.append(
            _text(x + slot * 0.35, top + plot_h - bar_h - 4, percent(row.qualified_pct), anchor="middle")
        )
        parts.append(_text(x + slot * 0.35, top + plot_h + 16, label[:18], anchor="middle"))
    norm = next((row.norm for row in shown if row.norm is not None), None)
    if norm is not None:
        y = top + plot_h * (1 - min(norm, 1.0))
        parts.append(
            f"<line class='norm' x1='{left}' y1='{y:.1f}' x2='{left + plot_w}' y2='{y:.1f}' "
            f"stroke='{BAD}' stroke-dasharray='6,4'/>"
        )
        parts.append(
            _text(left + plot_w, y - 4, LEGEND_NORM(lang, norm=percent(norm)), anchor="end", fill=BAD)
        )
    return _svg("qualified", title, width, height, "".join(parts))


SPARKLINE_TITLE = Text(ru="{metric}: 9 недель", en="{metric}: 9 weeks")
CUMULATIVE_TITLE = Text(ru="{metric}: нарастающим итогом по дням", en="{metric}: cumulative by day")


def sparkline(metric_name: str, values: Sequence[float | None], lang: Language, *, good: bool | None) -> str:
    """A small line of the weeks' values, oldest first; the last point (this week) marked. Unknown weeks
    break the line rather than drop to 0."""
    width, height, pad = 150, 36, 4
    title = SPARKLINE_TITLE(lang, metric=metric_name)
    known = [value for value in values if value is not None]
    if not known:
        return _svg("sparkline", title, width, height, _text(4, 22, "—", fill=MUTED))
    low, high = min(known), max(known)
    span = (high - low) or 1.0
    step = (width - 2 * pad) / max(len(values) - 1, 1)

    def xy(index: int, value: float) -> tuple[float, float]:
        return pad + index * step, pad + (height - 2 * pad) * (1 - (value - low) / span)

    segments: list[list[str]] = [[]]
    for index, value in enumerate(values):
        if value is None:
            segments.append([])
            continue
        x, y = xy(index, value)
        segments[-1].append(f"{x:.1f},{y:.1f}")
    parts = [
        f"<polyline fill='none' stroke='{NEUTRAL}' stroke-width='1.5' points='{' '.join(points)}'/>"
        for points in segments
        if len(points) > 1
    ]
    if values[-1] is not None:
        x, y = xy(len(values) - 1, values[-1])
        colour = MUTED if good is None else GOOD if good else BAD
        parts.append(f"<circle class='current' cx='{x:.1f}' cy='{y:.1f}' r='3' fill='{colour}'/>")
    return _svg("sparkline", title, width, height, "".join(parts))


def cumulative_chart(
    metric: str, actual: Sequence[float], plan: float | None, total_days: int, lang: Language
) -> str:
    """The week day by day: the actual cumulative line (one point per day gone by) against the plan's line
    rising evenly from 0 to the week's plan."""
    width, height, left, right, top, bottom = 320, 200, 48, 12, 28, 30
    title = CUMULATIVE_TITLE(lang, metric=METRIC_NAMES[metric](lang))
    highest = max([*actual, plan or 0.0, 1.0])
    plot_w, plot_h = width - left - right, height - top - bottom

    def point(day: float, value: float) -> str:
        return f"{left + plot_w * day / total_days:.1f},{top + plot_h * (1 - value / highest):.1f}"

    parts = [
        _text(8, 16, title),
        f"<line x1='{left}' y1='{top + plot_h}' x2='{left + plot_w}' y2='{top + plot_h}' stroke='{MUTED}'/>",
        f"<line x1='{left}' y1='{top}' x2='{left}' y2='{top + plot_h}' stroke='{MUTED}'/>",
        _text(left - 4, top + 4, amount(highest), anchor="end", fill=MUTED),
        _text(left - 4, top + plot_h, "0", anchor="end", fill=MUTED),
        _text(left + plot_w, height - 10, DAY_AXIS(lang, day=total_days), anchor="end", fill=MUTED),
    ]
    legend: list[tuple[str, str]] = []
    behind = False
    if plan is not None:
        parts.append(
            f"<polyline class='plan' fill='none' stroke='{MUTED}' stroke-width='2' stroke-dasharray='6,4' "
            f"points='{point(0, 0)} {point(total_days, plan)}'/>"
        )
        legend.append((f"{LEGEND_PLAN(lang)} {amount(plan)}", MUTED))
        if actual:
            behind = actual[-1] < plan * len(actual) / total_days * 0.9
    colour = BAD if behind else GOOD
    points = [point(0, 0), *(point(day, value) for day, value in enumerate(actual, start=1))]
    parts.append(
        f"<polyline class='actual' fill='none' stroke='{colour}' stroke-width='3' points='{' '.join(points)}'/>"
    )
    legend.insert(0, (f"{LEGEND_ACTUAL(lang)} {amount(actual[-1] if actual else 0)}", colour))
    for index, (label, fill) in enumerate(legend):
        parts.append(_text(left + 8, top + 14 + index * 14, label, fill=fill))
    return _svg(f"run-rate-{metric}", title, width, height, "".join(parts))
