"""The weekly report covers the meeting's whole agenda — nine sections in order, in Russian and English, as
Markdown (the amoCRM note) and HTML — naming people and channels, and never passing "unknown" off as a figure."""

from __future__ import annotations

import html as html_module
import re
from decimal import Decimal

import pytest

from integration.i18n import Language, Text
from sync.reports.model import MEETING_TAG, MeetingTask, ReportNames, build_weekly_report, with_meeting_tasks
from sync.reports.render import render_html_fragment, render_markdown
from sync.reports.weeks import next_week
from sync.stats.metrics import ChannelCounts, ManagerCounts, PlanFigures, SpendEntry
from tests.unit.reports.sample import AFTER_WEEK, STAGE_NAMES, WEEK, WEEK_START, week_figures

DAY = 86_400
NAMES = ReportNames(
    people={501: "Анна Смирнова", 502: "Иван Петров", 503: "Мария Козлова"},
    channels={
        "yandex": Text(ru="Яндекс Директ", en="Yandex Direct"),
        "vk": Text(ru="ВКонтакте", en="VK"),
        "tiktok": Text(ru="ТикТок", en="TikTok"),
    },
    pipelines={7: "Продажи"},
)
MANAGERS = (
    ManagerCounts(501, leads=20, won=6),  # 30 %: best
    ManagerCounts(502, leads=25, won=2),  # 8 %: worst
    ManagerCounts(503, leads=4, won=4),  # 100 % but only 4 leads: not ranked
)
SPEND = (
    SpendEntry(WEEK, "yandex", Decimal("30000")),  # 50 leads, 30 qualified, 3 customers
    SpendEntry(WEEK, "vk", Decimal("10000")),  # 40 leads, 8 qualified, 1 customer
)
# Last week's meeting set three tasks due in the reported week, and one due in the week after it.
TASKS = (
    MeetingTask(1, f"Fix the vk landing {MEETING_TAG}", 501, WEEK_START + 1 * DAY, True),
    MeetingTask(2, f"Call back the lost deals {MEETING_TAG}", 502, WEEK_START + 2 * DAY, False),
    MeetingTask(3, f"Brief the TikTok agency {MEETING_TAG}", 503, AFTER_WEEK + 3600, False),
    MeetingTask(4, f"Review the scripts {MEETING_TAG}", 501, WEEK_START + 9 * DAY, False),
)
SECTIONS_MD = {
    "en": (
        "1. % qualified",
        "2. Quality of experimental",
        "3. Run rate and pipeline",
        "4. Manager conversion",
        "5. Cost per lead",
        "6. What is off plan",
        "7. Hypotheses",
        "8. Last week's tasks",
        "9. Next week's tasks",
    ),
    "ru": (
        "1. % целевых",
        "2. Качество экспериментальных",
        "3. Темп и воронка",
        "4. Конверсия менеджеров",
        "5. Цена лида",
        "6. Что отклоняется",
        "7. Гипотезы",
        "8. Задачи прошлой недели",
        "9. Задачи на следующую неделю",
    ),
}
SECTION_IDS = (
    "qualified",
    "experimental",
    "run-rate",
    "managers",
    "costs",
    "off-plan",
    "hypotheses",
    "last-week-tasks",
    "next-week-tasks",
)


def full_report(**figures: object):  # type: ignore[no-untyped-def]
    """2026-W47 with managers, spend and meeting tasks, as the report page builds it."""
    built = build_weekly_report(
        week_figures(
            plan=PlanFigures(leads=140, qualified=60, deals=8, revenue=1_000_000),
            managers=MANAGERS,
            spend=SPEND,
            **figures,  # type: ignore[arg-type]
        ),
        account_id=1,
        week_label="2026-W47",
        rule_version=3,
        stage_names=STAGE_NAMES,
        last_week_tasks=None,
        next_week_due=next_week(WEEK).end,
        names=NAMES,
    )
    return with_meeting_tasks(built, TASKS)


def section(markdown: str, number: int) -> str:
    """The Markdown text of agenda section `number` (up to the next section)."""
    parts = re.split(r"^## ", markdown, flags=re.M)
    return next(part for part in parts if part.startswith(f"{number}. "))


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_the_nine_agenda_sections_in_order_in_markdown_and_html(lang: Language) -> None:
    """Markdown (the amoCRM note) and the page both carry all nine agenda sections, in the agenda's order."""
    report = full_report()
    markdown = render_markdown(report, lang)
    headings = [line[3:] for line in markdown.splitlines() if line.startswith("## ")]
    assert len(headings) == 9
    for heading, expected in zip(headings, SECTIONS_MD[lang], strict=True):
        assert heading.startswith(expected)
    html = str(render_html_fragment(report, lang))
    positions = [html.index(f'<section id="{name}">') for name in SECTION_IDS]
    assert positions == sorted(positions)
    for expected in SECTIONS_MD[lang]:
        assert expected in html_module.unescape(html)


@pytest.mark.parametrize(
    ("lang", "best", "worst", "few", "minimum"),
    [
        ("en", "best", "worst", "too few to judge (n=4)", "at least 10 leads"),
        ("ru", "лучший", "худший", "мало данных для вывода (n=4)", "не менее чем 10 лидами"),
    ],
)
def test_managers_are_named_best_and_worst_with_their_sample(
    lang: Language, best: str, worst: str, few: str, minimum: str
) -> None:
    """Best (6 of 20 = 30 %) and worst (2 of 25 = 8 %) by name; 4 leads at 100 % is too few to be ranked."""
    text = section(render_markdown(full_report(), lang), 4)
    assert f"| Анна Смирнова | 20 | 6 | 30% | {best} |" in text
    assert f"| Иван Петров | 25 | 2 | 8% | {worst} |" in text
    assert f"| Мария Козлова | 4 | 4 | 100% | {few} |" in text
    assert minimum in text
    assert "501" not in text and "502" not in text


def test_costs_per_channel_are_computed_by_hand() -> None:
    """Yandex: 30 000 spent on 50 leads, 30 qualified, 3 customers = 600, 1 000, 10 000; VK: 10 000 on 40 / 8 / 1;
    TikTok spent nothing loaded, so its costs are unknown, not 0."""
    text = section(render_markdown(full_report(), "en"), 5)
    assert "| Yandex Direct | 30\u202f000 | 50 | 600 | 30 | 1\u202f000 | 3 | 10\u202f000 |" in text
    assert "| VK | 10\u202f000 | 40 | 250 | 8 | 1\u202f250 | 1 | 10\u202f000 |" in text
    assert "| TikTok | unknown | 10 | unknown | 2 | unknown | 0 | unknown |" in text
    assert "deals by close date" in text
    assert "deals by close date" in section(
        render_markdown(full_report(), "en"), 3
    )  # run rate and trends too


@pytest.mark.parametrize(
    ("lang", "done", "open_", "overdue"),
    [("en", "done", "open", "overdue"), ("ru", "выполнена", "не выполнена", "просрочена")],
)
def test_tasks_read_back_as_done_open_or_overdue(lang: Language, done: str, open_: str, overdue: str) -> None:
    """As of the Monday after the week: a completed task is done, one past its deadline is overdue, one due
    later that day is open; the task due next week is listed under next week's tasks, all by person."""
    markdown = render_markdown(full_report(), lang)
    last = section(markdown, 8)
    assert f"| Fix the vk landing | Анна Смирнова | 2026-11-17 | {done} |" in last
    assert f"| Call back the lost deals | Иван Петров | 2026-11-18 | {overdue} |" in last
    assert "Brief the TikTok agency" not in last  # due after the week
    following = section(markdown, 9)
    assert f"| Brief the TikTok agency | Мария Козлова | 2026-11-23 | {open_} |" in following
    assert "Review the scripts" in following
    html = str(render_html_fragment(full_report(), lang))
    assert f'<td class="bad">{overdue}</td>' in html


def test_a_channel_below_the_minimum_sample_is_not_judged() -> None:
    """One lead of one classified, 0 qualified, is "too few to judge (n=1)" — not red, not "below norm"."""
    channels = (
        ChannelCounts("yandex", leads=50, classified=50, qualified=30),
        ChannelCounts("vk", leads=1, classified=1, qualified=0),
    )
    report = full_report(channels=channels, min_quality_sample=10)
    markdown = render_markdown(report, "en")
    assert "| VK | 1 | 1 | 0 | 0% | 40% | too few to judge (n=1) |" in section(markdown, 1)
    assert "VK" not in section(markdown, 6)  # no finding drawn from one lead
    html = str(render_html_fragment(report, "ru"))
    assert '<td class="muted">мало данных для вывода (n=1)</td>' in html
    assert '<td class="bad">мало данных' not in html


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_without_status_history_stage_figures_are_unknown_and_a_warning_says_why(lang: Language) -> None:
    """No events API on backfill: the report warns at the top, and the weighted pipeline and the stage
    conversions read "unknown" instead of 0 or a made-up share."""
    report = full_report(history_missing="no_events_api")
    markdown = render_markdown(report, lang)
    unknown = {"ru": "неизвестно", "en": "unknown"}[lang]
    warning = {"ru": "список событий", "en": "events list"}[lang]
    assert warning in markdown.split("## 1.")[0]
    pipeline_line = next(line for line in section(markdown, 3).splitlines() if "400" in line)
    assert unknown in pipeline_line
    weighted = {
        "ru": "взвешенно по вероятности этапа: неизвестно",
        "en": "weighted by stage win rate: unknown",
    }
    assert weighted[lang] in markdown
    assert report.figures.coverage.weighted_value is None
    assert all(step.conversion is None for step in report.figures.conversions)
    html = str(render_html_fragment(report, lang))
    assert 'id="history-warning"' in html


def test_channels_and_pipelines_are_named_by_their_titles() -> None:
    """Channel keys and pipeline ids give way to the rule file's titles and amoCRM's pipeline names."""
    report = full_report()
    markdown = render_markdown(report, "ru")
    assert "| ВКонтакте | 40 |" in section(markdown, 1)
    assert "Воронка Продажи" in section(markdown, 3)
    assert "| vk |" not in markdown and "Воронка 7" not in markdown
    chart = re.search(
        r"<svg [^>]*data-chart='qualified'.*?</svg>", str(render_html_fragment(report, "ru")), re.S
    )
    assert chart is not None and ">ВКонтакте<" in chart.group(0) and ">vk<" not in chart.group(0)


@pytest.mark.parametrize(
    ("lang", "heading", "leads_row", "cost_row"),
    [
        ("en", "### This week against the previous 8 weeks", "| Leads | ", "| Cost per customer | "),
        ("ru", "### Неделя против 8 предыдущих", "| Лиды | ", "| Цена клиента | "),
    ],
)
def test_trends_show_eight_weeks_and_the_change_with_its_direction(
    lang: Language, heading: str, leads_row: str, cost_row: str
) -> None:
    """Section 3 lists each statistic over the 8 weeks before, last week, this week and the change: leads
    20 → 16 "▼ −4" (red), cost per customer 3 000 → 4 000 "▲ +1 000" (red: costs rising is bad news); the page
    draws a sparkline per statistic and the cumulative daily run-rate line."""
    from dataclasses import replace

    from tests.unit.stats.test_trends import trends

    report = replace(full_report(), trends=trends())
    markdown = section(render_markdown(report, lang), 3)
    assert heading in markdown
    table = markdown.split(heading)[1].splitlines()
    leads = next(line for line in table if line.startswith(leads_row))
    assert leads.endswith("| 20 | 16 | ▼ −4 |")
    cost = next(line for line in table if line.startswith(cost_row))
    assert cost.endswith("| 3\u202f000 | 4\u202f000 | ▲ +1\u202f000 |")
    html = str(render_html_fragment(report, lang))
    assert html.count("data-chart='sparkline'") == 6
    assert '<td class="bad">▲ +1\u202f000</td>' in html
    assert "data-chart='run-rate-leads'" in html and "class='plan'" in html
