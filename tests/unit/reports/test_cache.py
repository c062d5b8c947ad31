"""The report page's reuse of a computed week: only while its data is unchanged, and only for a while."""

from __future__ import annotations

from integration.admin.reports import WeeklyReportCache
from sync.reports.model import MEETING_TAG, MeetingTask, WeeklyReport, build_weekly_report, with_meeting_tasks
from sync.reports.weeks import next_week
from tests.unit.reports.sample import STAGE_NAMES, WEEK, week_figures

START, END = WEEK.bounds()


def report() -> WeeklyReport:
    return build_weekly_report(
        week_figures(),
        account_id=1,
        week_label="2026-W47",
        rule_version=3,
        stage_names=STAGE_NAMES,
        last_week_tasks=None,
        next_week_due=next_week(WEEK).end,
        week_bounds=(START, END),
    )


class TestWeeklyReportCache:
    def test_an_unchanged_week_is_reused(self) -> None:
        """Same account, week and data fingerprint: the stored report comes back."""
        cache, computed = WeeklyReportCache(), report()
        cache.store((1, WEEK), ("v1",), computed, now=END + 10)
        assert cache.lookup((1, WEEK), ("v1",), now=END + 20) is computed

    def test_changed_data_or_another_account_is_not_reused(self) -> None:
        """A new fingerprint or another account's key misses."""
        cache = WeeklyReportCache()
        cache.store((1, WEEK), ("v1",), report(), now=END + 10)
        assert cache.lookup((1, WEEK), ("v2",), now=END + 20) is None
        assert cache.lookup((2, WEEK), ("v1",), now=END + 20) is None

    def test_a_running_week_is_recomputed_after_a_minute(self) -> None:
        """While the week runs the run rate moves with time, so a stored report lives one minute."""
        cache = WeeklyReportCache()
        cache.store((1, WEEK), ("v1",), report(), now=START + 3600)
        assert cache.lookup((1, WEEK), ("v1",), now=START + 3600 + 59) is not None
        assert cache.lookup((1, WEEK), ("v1",), now=START + 3600 + 61) is None

    def test_the_cache_stays_bounded(self) -> None:
        """Beyond its size the entry that expires first is dropped."""
        cache = WeeklyReportCache(max_entries=2)
        for account in (1, 2, 3):
            cache.store((account, WEEK), ("v",), report(), now=END + account)
        assert cache.lookup((1, WEEK), ("v",), now=END + 5) is None
        assert cache.lookup((3, WEEK), ("v",), now=END + 5) is not None


class TestTasksOnAReusedReport:
    def test_fresh_tasks_replace_the_old_ones(self) -> None:
        """Tasks are read for every visit and laid onto the reused figures."""
        tasks = [MeetingTask(1, f"Call {MEETING_TAG}", 5, START + 60, False)]
        updated = with_meeting_tasks(report(), tasks)
        assert updated.last_week_tasks == (tasks[0],)
        assert with_meeting_tasks(updated, None).last_week_tasks is None
