"""The weekly report's content: which figures it flags, what it names as explanations, and the meeting tasks."""

from __future__ import annotations

from typing import Any

import pytest

from sync.reports.model import (
    MEETING_TAG,
    MeetingTask,
    WeeklyReport,
    build_weekly_report,
    funnels_of,
    meeting_tasks_due,
    run_rate_findings,
    weakest_stage,
)
from sync.reports.weeks import last_full_week, next_week, parse_week, week_label, week_of
from sync.stats.metrics import ChannelCounts, ManagerCounts, PlanFigures, StageConversion
from sync.stats.periods import StatsInputError
from tests.unit.reports.sample import STAGE_NAMES, WEEK, WEEK_START, week_figures

ON_PLAN = PlanFigures(leads=100, qualified=40, deals=4, revenue=350_000)


def report_of(**figures: Any) -> WeeklyReport:
    return build_weekly_report(
        week_figures(**figures),
        account_id=1,
        week_label="2026-W47",
        rule_version=3,
        stage_names=STAGE_NAMES,
        last_week_tasks=(),
        next_week_due=next_week(WEEK).end,
    )


class TestWeeks:
    def test_an_iso_week_is_monday_to_sunday(self) -> None:
        """2026-W47 is 16–22 November 2026, and its label reads back the same."""
        week = parse_week("2026-W47")
        assert (week.start.isoformat(), week.end.isoformat()) == ("2026-11-16", "2026-11-22")
        assert week_label(week) == "2026-W47"
        assert parse_week("2026w47") == week

    @pytest.mark.parametrize("text", ["2026-47", "2026-W54", "W47", "", "2026-W0"])
    def test_a_bad_week_is_explained_in_both_languages(self, text: str) -> None:
        """Anything but an ISO week is refused with a ru/en message naming what was typed."""
        with pytest.raises(StatsInputError) as error:
            parse_week(text)
        assert "2026-W47" in error.value.message("en") and "2026-W47" in error.value.message("ru")

    def test_the_meeting_discusses_the_last_full_week(self) -> None:
        """On Monday 23 November the report is about 16–22 November; on Sunday the 22nd, about the week before."""
        assert last_full_week(parse_week("2026-W48").start) == WEEK
        assert last_full_week(WEEK.end) == parse_week("2026-W46")
        assert week_of(WEEK.end) == WEEK


class TestQualifiedPerChannel:
    def test_channels_below_the_norm_are_named_with_a_hypothesis(self) -> None:
        """vk (20 %) and tiktok (20 %) fall below the 40 % norm; yandex (60 %) does not."""
        report = report_of(plan=ON_PLAN)
        flagged = [finding.subject for finding in report.findings if finding.kind == "channel"]
        assert flagged == ["tiktok", "vk"]
        hypotheses = " ".join(text("en") for text in report.hypotheses)
        assert "“vk”" in hypotheses and "“yandex”" not in hypotheses

    def test_experimental_channels_are_judged_together(self) -> None:
        """The experimental channels' combined share is flagged when below the norm."""
        report = report_of(plan=ON_PLAN)
        assert [row.channel for row in report.experimental_channels] == ["tiktok"]
        assert any(finding.kind == "experimental" for finding in report.findings)

    def test_without_a_norm_no_channel_is_flagged(self) -> None:
        """With no norm in the rules there is no verdict, so nothing is called off norm."""
        report = report_of(plan=ON_PLAN, norm=None)
        assert not [f for f in report.findings if f.kind in ("channel", "experimental")]


class TestOffPlan:
    def test_figures_on_plan_are_not_flagged(self) -> None:
        """A week exactly on plan has no run-rate finding."""
        report = report_of(plan=ON_PLAN)
        assert not [f for f in report.findings if f.kind == "run_rate"]

    def test_a_pace_beyond_ten_percent_is_off_plan_either_way(self) -> None:
        """Leads at 71 % of plan are below; revenue at 175 % is above; qualified at 95 % is on plan."""
        figures = week_figures(plan=PlanFigures(leads=140, qualified=42, revenue=200_000))
        off = {rate.metric: direction for rate, direction in run_rate_findings(figures.run_rates)}
        assert off == {"leads": "below", "revenue": "above"}

    def test_fewer_leads_than_planned_suggests_checking_spend(self) -> None:
        """When leads fall short, the hypotheses include comparing spend with the plan."""
        report = report_of(plan=PlanFigures(leads=200))
        texts = [text("en") for text in report.hypotheses]
        assert any("compare spend per channel" in text for text in texts)

    def test_deals_below_plan_are_explained_by_the_weakest_stage(self) -> None:
        """With deals short of plan, the stage losing the largest share of its leads is named."""
        report = report_of(plan=PlanFigures(deals=20))
        stages = [f for f in report.findings if f.kind == "stage"]
        assert len(stages) == 1
        assert "“Счёт выставлен” → “Won”, 13%" in stages[0].text("en")

    def test_the_worst_manager_is_named_against_the_best(self) -> None:
        """A manager converting 0 of 50 is named against the best one's 8 %."""
        report = report_of(plan=ON_PLAN, managers=(ManagerCounts(11, 50, 4), ManagerCounts(12, 50, 0)))
        managers = [f for f in report.findings if f.kind == "manager"]
        assert [f.subject for f in managers] == ["12"]
        assert "0%" in managers[0].text("ru") and "8%" in managers[0].text("ru")

    def test_hypotheses_are_not_repeated(self) -> None:
        """Each hypothesis appears once even when several findings lead to it."""
        report = report_of(plan=PlanFigures(leads=500, qualified=500))
        texts = [text("en") for text in report.hypotheses]
        assert len(texts) == len(set(texts))


class TestFunnel:
    def test_the_funnel_follows_the_stage_order_and_ends_in_won(self) -> None:
        """100 leads entered, 60 reached talks, 30 the invoice, 4 were won."""
        (funnel,) = funnels_of(week_figures().conversions, STAGE_NAMES)
        assert [(step.name, step.reached) for step in funnel.steps] == [
            ("Первичный контакт", 100),
            ("Переговоры", 60),
            ("Счёт выставлен", 30),
            ("", 4),
        ]
        assert funnel.steps[0].conversion_to_next == pytest.approx(0.6)
        assert funnel.steps[-1].conversion_to_next is None

    def test_pipelines_no_lead_entered_are_left_out(self) -> None:
        """Only pipelines with leads this week get a funnel; with none at all, one empty funnel remains."""
        rows = [
            StageConversion(7, 10, None, reached_from=5, reached_to=1, conversion=0.2),
            StageConversion(8, 40, None, reached_from=0, reached_to=0, conversion=None),
        ]
        assert [funnel.pipeline_id for funnel in funnels_of(rows, {})] == [7]
        assert [funnel.pipeline_id for funnel in funnels_of(rows[1:], {})] == [8]

    def test_a_stage_with_too_few_leads_is_not_blamed(self) -> None:
        """A 0 % step with 3 leads entering is ignored in favour of one with enough leads."""
        rows = [
            StageConversion(7, 10, 20, reached_from=3, reached_to=0, conversion=0.0),
            StageConversion(7, 20, None, reached_from=40, reached_to=10, conversion=0.25),
        ]
        stage = weakest_stage(rows)
        assert stage is not None and stage.from_status == 20


class TestMeetingTasks:
    def test_only_tagged_tasks_due_in_the_week_are_listed(self) -> None:
        """Last meeting's tasks are the tagged ones due within the reported week, in due order."""
        day = 86_400
        tasks = [
            MeetingTask(1, f"Check vk targeting {MEETING_TAG}", 5, WEEK_START + 3 * day, True),
            MeetingTask(2, "Call the client", 5, WEEK_START + day, False),
            MeetingTask(3, f"Fix the landing {MEETING_TAG}", 6, WEEK_START + day, False),
            MeetingTask(4, f"Old task {MEETING_TAG}", 6, WEEK_START - day, False),
            MeetingTask(5, f"Next week {MEETING_TAG}", 6, WEEK_START + 7 * day, False),
        ]
        due = meeting_tasks_due(tasks, start=WEEK_START, end=WEEK_START + 7 * day)
        assert [task.task_id for task in due] == [3, 1]


class TestFiguresAreTheStatsFigures:
    def test_the_report_carries_the_figures_unchanged(self) -> None:
        """The report shows the stats engine's own figures for the week, not a recomputation."""
        figures = week_figures(channels=(ChannelCounts("seo", leads=7, classified=5, qualified=5),))
        report = build_weekly_report(
            figures,
            account_id=1,
            week_label="2026-W47",
            rule_version=1,
            stage_names={},
            last_week_tasks=None,
            next_week_due=WEEK.end,
        )
        assert report.figures is figures
        assert report.channels[0].qualified_pct == 1.0
