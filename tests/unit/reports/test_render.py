"""The report as people read it: Markdown and HTML with inline SVG charts, in Russian and English, escaped."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from integration.i18n import Language
from sync.promos.disputes import DisputeGroup
from sync.reports.charts import funnel_chart, qualified_chart, run_rate_chart
from sync.reports.model import (
    MEETING_TAG,
    MeetingTask,
    ReportNames,
    WeeklyReport,
    build_weekly_report,
    funnels_of,
)
from sync.reports.render import render_html, render_markdown
from sync.reports.weeks import next_week
from sync.stats.metrics import ChannelCounts, PlanFigures
from tests.unit.reports.sample import STAGE_NAMES, WEEK, WEEK_START, week_figures

EVIL = "<script>alert(1)</script>"


def report(
    *, tasks: tuple[MeetingTask, ...] | None = (), channels: tuple[ChannelCounts, ...] | None = None
) -> WeeklyReport:
    return build_weekly_report(
        week_figures(
            plan=PlanFigures(leads=140, qualified=60, deals=8, revenue=1_000_000), channels=channels
        ),
        account_id=1,
        week_label="2026-W47",
        rule_version=3,
        stage_names=STAGE_NAMES,
        last_week_tasks=tasks,
        next_week_due=next_week(WEEK).end,
        names=ReportNames(people={5: "Анна Смирнова"}),
    )


def parse_svg(text: str) -> ET.Element:
    return ET.fromstring(text)  # noqa: S314 - our own freshly rendered SVG, not outside input


def svgs(html: str) -> list[ET.Element]:
    return [parse_svg(match) for match in re.findall(r"<svg .*?</svg>", html, flags=re.S)]


class TestMarkdown:
    def test_every_agenda_item_is_a_section_in_order(self) -> None:
        """The nine agenda items appear as headings, in the meeting's order, in both languages."""
        for lang, first, last in (
            ("en", "## 1. % qualified", "## 9. Next week"),
            ("ru", "## 1. % целевых", "## 9. Задачи на следующую"),
        ):
            text = render_markdown(report(), lang)  # type: ignore[arg-type]
            headings = [line for line in text.splitlines() if line.startswith("## ")]
            assert len(headings) == 9
            assert headings[0].startswith(first) and headings[-1].startswith(last)

    def test_channel_rows_show_the_stats_figures(self) -> None:
        """vk's row shows 40 leads, 8 qualified, 20 % against a 40 % norm, below the norm."""
        text = render_markdown(report(), "en")
        assert "| vk | 40 | 40 | 8 | 20% | 40% | below norm |" in text
        assert "| Total | 100 | 100 | 40 | 40% | 40% | within norm |" in text

    @pytest.mark.parametrize(
        ("revenue_plan", "lang", "said"),
        [
            (1_000_000, "en", "coverage of the remaining plan: "),
            (300_000, "en", "coverage of the remaining plan: the revenue plan is already met"),
            (300_000, "ru", "покрытие остатка плана: план по выручке уже выполнен"),
            (None, "en", "coverage of the remaining plan: no revenue plan"),
        ],
    )
    def test_coverage_says_why_there_is_no_percentage(
        self, revenue_plan: int | None, lang: Language, said: str
    ) -> None:
        """350 000 won against a 300 000 plan leaves nothing to cover: the report says the plan is met, not "—";
        with no revenue plan it says so; against 1 000 000 the pipeline's weighted share of 650 000 is a %."""
        figures = week_figures(plan=PlanFigures(leads=140, qualified=60, deals=8, revenue=revenue_plan))
        built = build_weekly_report(
            figures,
            account_id=1,
            week_label="2026-W47",
            rule_version=3,
            stage_names=STAGE_NAMES,
            last_week_tasks=(),
            next_week_due=next_week(WEEK).end,
            names=ReportNames(people={}),
        )
        text = " ".join(render_markdown(built, lang).split())
        assert said in text
        if revenue_plan == 1_000_000:
            assert re.search(r"coverage of the remaining plan: \d+%", text)

    def test_run_rate_rows_show_plan_actual_and_pace(self) -> None:
        """Leads: plan 140, 100 actual, 71 % pace."""
        text = render_markdown(report(), "en")
        assert "| Leads | 140 | 140 | 100 | 71% | 100 |" in text

    def test_last_weeks_tasks_show_their_status(self) -> None:
        """Tagged tasks are listed without the tag, with the responsible person's name, done or open."""
        tasks = (MeetingTask(9, f"Fix the vk landing {MEETING_TAG}", 5, WEEK_START + 3600, True),)
        text = render_markdown(report(tasks=tasks), "en")
        assert "| Fix the vk landing | Анна Смирнова | 2026-11-16 | done |" in text

    def test_unreadable_tasks_are_said_to_be_unavailable(self) -> None:
        """When amoCRM could not be read the tasks section says so instead of claiming there were none."""
        assert "Could not read the tasks from amoCRM" in render_markdown(report(tasks=None), "en")

    def test_a_pipe_in_a_channel_name_does_not_break_the_table(self) -> None:
        """A channel named with a '|' stays in its own cell."""
        text = render_markdown(
            report(channels=(ChannelCounts("a|b", leads=3, classified=3, qualified=3),)), "en"
        )
        assert "| a\\|b | 3 |" in text


class TestDisputes:
    def test_disputed_classifications_are_listed_under_quality(self) -> None:
        """Sales' disputes show per channel and level with their most common reasons, HTML escaped."""
        figures = week_figures(plan=PlanFigures(leads=100))
        groups = (DisputeGroup("vk", "hot", 3, ((EVIL, 2), ("no budget", 1))),)
        disputed = build_weekly_report(
            figures,
            account_id=1,
            week_label="2026-W47",
            rule_version=3,
            stage_names=STAGE_NAMES,
            last_week_tasks=(),
            next_week_due=next_week(WEEK).end,
            disputes=groups,
        )
        markdown = render_markdown(disputed, "en")
        section_one = markdown.split("## 2.")[0]
        assert "- vk / hot: 3 leads; reasons: " in section_one and "no budget (1)" in section_one
        html = render_html(disputed, "ru")
        assert "vk / hot: сделок 3" in html
        assert EVIL not in html and "&lt;script&gt;alert(1)&lt;/script&gt; (2)" in html
        assert "disputed" not in render_markdown(report(), "en")


class TestHtml:
    @pytest.mark.parametrize("lang", ["ru", "en"])
    def test_the_page_is_self_contained_with_three_kinds_of_chart(self, lang: Language) -> None:
        """The page has the funnel, run-rate and %-qualified charts inline, and loads nothing from elsewhere."""
        html = render_html(report(), lang)
        kinds = [svg.get("data-chart") for svg in svgs(html)]
        assert "funnel" in kinds and "qualified" in kinds and "run-rate-leads" in kinds
        assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")
        assert "https://" not in html and "<script" not in html and "<link" not in html

    def test_charts_are_not_empty(self) -> None:
        """Every chart draws shapes: bars for the funnel and channels, lines for the run rate."""
        for svg in svgs(render_html(report(), "en")):
            shapes = [el for el in svg.iter() if el.tag.split("}")[-1] in ("rect", "polyline", "line")]
            assert shapes, svg.get("data-chart")

    def test_html_in_names_is_escaped(self) -> None:
        """A channel or task named with a script tag is shown as text in the page and its charts."""
        tasks = (MeetingTask(1, f"{EVIL} {MEETING_TAG}", 5, WEEK_START + 60, False),)
        html = render_html(
            report(tasks=tasks, channels=(ChannelCounts(EVIL, leads=2, classified=2, qualified=1),)), "en"
        )
        assert EVIL not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


class TestCharts:
    def test_funnel_bars_shrink_with_the_leads_reaching_each_stage(self) -> None:
        """Each funnel bar is as wide as its share of the first stage's leads."""
        (funnel,) = funnels_of(week_figures().conversions, STAGE_NAMES)
        svg = parse_svg(funnel_chart(funnel, "en"))
        widths = [float(rect.get("width", "0")) for rect in svg.iter("{http://www.w3.org/2000/svg}rect")]
        assert widths == sorted(widths, reverse=True)
        assert widths[1] / widths[0] == pytest.approx(0.6, abs=0.01)

    def test_run_rate_without_a_plan_draws_no_plan_line(self) -> None:
        """With no plan the chart shows the actual and forecast, and says there is no plan."""
        rate = week_figures().run_rates[0]
        svg = run_rate_chart(rate, "en")
        assert "class='plan'" not in svg and "class='actual'" in svg and "no plan" in svg

    def test_qualified_bars_are_coloured_by_the_norm(self) -> None:
        """Bars at or above the norm are green, below it red, with the norm drawn as a dashed line."""
        svg = parse_svg(qualified_chart(week_figures().quality, "en"))
        fills = [rect.get("fill") for rect in svg.iter("{http://www.w3.org/2000/svg}rect")]
        assert fills == ["#c62828", "#c62828", "#2e7d32"]  # tiktok, vk below; yandex above
        assert any(line.get("class") == "norm" for line in svg.iter("{http://www.w3.org/2000/svg}line"))

    def test_a_week_without_classified_leads_says_so(self) -> None:
        """No classified leads: the %-qualified chart says there is no data instead of drawing empty bars."""
        svg = qualified_chart((), "ru")
        assert "нет данных за неделю" in svg
