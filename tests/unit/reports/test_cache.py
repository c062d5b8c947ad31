"""The report page's reuse of a computed week: only while its data is unchanged, and only for a while."""

from __future__ import annotations

import threading
import time

from leadpact.admin.report_cache import WeeklyReportCache
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
    def test_an_unchanged_week_is_reused_as_current(self) -> None:
        """Same account, week and data fingerprint: the stored report comes back as current."""
        cache, computed = WeeklyReportCache(), report()
        cache.store((1, WEEK), ("v1",), computed, now=END + 10)
        assert cache.lookup((1, WEEK), ("v1",), now=END + 20) == (computed, True)

    def test_changed_data_is_served_while_it_is_recomputed(self) -> None:
        """A new fingerprint still shows the stored report, flagged as not current; another account misses."""
        cache, computed = WeeklyReportCache(), report()
        cache.store((1, WEEK), ("v1",), computed, now=END + 10)
        assert cache.lookup((1, WEEK), ("v2",), now=END + 20) == (computed, False)
        assert cache.lookup((2, WEEK), ("v1",), now=END + 20) == (None, False)

    def test_a_running_week_is_current_for_a_minute_and_usable_for_a_while(self) -> None:
        """While the week runs a stored report is current for one minute, then stale until it is too old."""
        cache = WeeklyReportCache()
        cache.store((1, WEEK), ("v1",), report(), now=START + 3600)
        assert cache.lookup((1, WEEK), ("v1",), now=START + 3600 + 59)[1] is True
        assert cache.lookup((1, WEEK), ("v1",), now=START + 3600 + 61)[1] is False
        too_old = START + 3600 + WeeklyReportCache.STALE_SECONDS
        assert cache.lookup((1, WEEK), ("v1",), now=too_old) == (None, False)

    def test_one_background_recomputation_per_week(self) -> None:
        """While a week is being recomputed, a second request does not start another; the result is stored."""
        cache, release, fresh = WeeklyReportCache(), threading.Event(), report()

        def compute() -> tuple[tuple[object, ...], WeeklyReport, float]:
            release.wait(5)
            return ("v2",), fresh, float(END + 30)

        assert cache.refresh_in_background((1, WEEK), compute)
        assert not cache.refresh_in_background((1, WEEK), compute)
        release.set()
        deadline = time.monotonic() + 5
        while cache.lookup((1, WEEK), ("v2",), now=END + 40) != (fresh, True):
            assert time.monotonic() < deadline, "the recomputed report was never stored"
            time.sleep(0.01)

    def test_the_cache_stays_bounded(self) -> None:
        """Beyond its size the report computed longest ago is dropped."""
        cache = WeeklyReportCache(max_entries=2)
        for account in (1, 2, 3):
            cache.store((account, WEEK), ("v",), report(), now=END + account)
        assert cache.lookup((1, WEEK), ("v",), now=END + 5) == (None, False)
        assert cache.lookup((3, WEEK), ("v",), now=END + 5)[0] is not None


class TestTasksOnAReusedReport:
    def test_fresh_tasks_replace_the_old_ones(self) -> None:
        """Tasks are read for every visit and laid onto the reused figures."""
        tasks = [MeetingTask(1, f"Call {MEETING_TAG}", 5, START + 60, False)]
        updated = with_meeting_tasks(report(), tasks)
        assert updated.last_week_tasks == (tasks[0],)
        assert with_meeting_tasks(updated, None).last_week_tasks is None
