"""Assembling a week's report from storage: the stats figures (the very functions behind `leadpact stats
show`), the stage names, and the meeting tasks read from amoCRM."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date, datetime, tzinfo
from typing import Any

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from integration.accounts import AccountNotConnected
from integration.amocrm import AccountApi, AmoError
from integration.db import session_scope
from integration.storage import promos as promo_store
from integration.storage import stats as stats_store
from integration.storage import users as user_store
from integration.storage.accounts import get_account
from integration.storage.leads import LeadSnapshot, LeadStatusEvent
from integration.storage.rulesets import active_version
from integration.storage.touches import LeadFirstTouch
from sync.promos.disputes import summarise_disputes
from sync.reports.hypotheses import tracked_hypotheses
from sync.reports.model import (
    MEETING_TAG,
    MeetingTask,
    ReportNames,
    WeeklyReport,
    build_weekly_report,
    with_meeting_tasks,
)
from sync.reports.weeks import next_week, week_label
from sync.stats.metrics import WonBasis
from sync.stats.periods import Period
from sync.stats.queries import bucket_counts, deal_cycle_histograms, load_plans, load_spend
from sync.stats.service import StatsOptions, figures_for, rules_context
from sync.stats.speed import SpeedToLead, speed_to_lead
from sync.stats.touches import delay_histograms, waiting_lead_timings
from sync.stats.trends import (
    PREVIOUS_WEEKS,
    ResultsSinceInstall,
    Trends,
    build_results,
    build_trends,
    summed_counts,
    trend_bounds,
    trend_periods,
    weeks_since,
)

log = logging.getLogger(__name__)

# The `untouched_after_hours` setting's default, for callers without settings (tests, benchmarks).
DEFAULT_UNTOUCHED_AFTER_SECONDS = 4 * 3600
# Tasks are read newest first; the meeting's own tasks are recent, so older pages are not worth the budget.
MAX_TASKS_SCANNED = 2_000
# The page must not hang on amoCRM: without the tasks the rest of the report still stands.
TASKS_TIMEOUT_SECONDS = 5.0


def stage_names(*, session: Session, account_id: int) -> dict[int, str]:
    return {
        stage.status_id: stage.name
        for stage in stats_store.list_pipeline_stages(session=session, account_id=account_id)
        if stage.name
    }


def pipeline_names(*, session: Session, account_id: int) -> dict[int, str]:
    return {
        stage.pipeline_id: stage.pipeline_name
        for stage in stats_store.list_pipeline_stages(session=session, account_id=account_id)
        if stage.pipeline_name
    }


# The report does not show field completeness, so it does not ask the stats engine for it (the slowest part).
REPORT_OPTIONS = StatsOptions(completeness_fields=())


def report_options(won_basis: WonBasis = "close_date") -> StatsOptions:
    return replace(REPORT_OPTIONS, won_basis=won_basis)


def load_weekly_report(
    *,
    session: Session,
    account_id: int,
    week: Period,
    as_of: int,
    tasks: Sequence[MeetingTask] | None,
    won_basis: WonBasis = "close_date",
    hypotheses: bool = True,
    untouched_after_seconds: int = DEFAULT_UNTOUCHED_AFTER_SECONDS,
    engine: Engine | None = None,
) -> WeeklyReport:
    """The report of `week` as of `as_of`; `tasks` are the account's meeting tasks (None: not readable).

    `hypotheses=False` leaves the open hypotheses out (the page measures them per view: they are cheap and
    change at the meeting itself, while the rest of the report is cached). With `engine`, the trends, results
    and speed to lead are read on a second connection while this one computes the week's figures.

    People are named from the account's cached amoCRM users (see `integration.users.refresh_users`)."""
    rules = rules_context(session=session, account_id=account_id)
    start, end = week.bounds(rules.timezone)
    account = get_account(session=session, account_id=account_id)
    installed_on = None if account is None else account.created_at.astimezone(rules.timezone).date()

    def over_time(over: Session) -> tuple[Trends, ResultsSinceInstall | None, SpeedToLead]:
        trends, results = week_trends(
            session=over,
            account_id=account_id,
            week=week,
            as_of=as_of,
            tz=rules.timezone,
            won_basis=won_basis,
            installed_on=installed_on,
        )
        speed = speed_to_lead(
            delay_histograms(over, account_id=account_id, created_from=start, created_until=end, as_of=as_of),
            waiting_lead_timings(
                over, account_id=account_id, as_of=as_of, threshold_seconds=untouched_after_seconds
            ),
            as_of=as_of,
            threshold_seconds=untouched_after_seconds,
        )
        return trends, results, speed

    def on_own_connection(own_engine: Engine) -> tuple[Trends, ResultsSinceInstall | None, SpeedToLead]:
        with session_scope(own_engine) as own:
            return over_time(own)

    with ThreadPoolExecutor(max_workers=1) as side:
        later = side.submit(on_own_connection, engine) if engine is not None else None
        figures = figures_for(
            session=session,
            account_id=account_id,
            period=week,
            as_of=as_of,
            options=report_options(won_basis),
        )
        names = ReportNames(
            people=user_store.user_names(session=session, account_id=account_id),
            channels=rules.channel_titles,
            pipelines=pipeline_names(session=session, account_id=account_id),
        )
        disputes = promo_store.list_disputes(session=session, account_id=account_id, since=start, until=end)
        report = build_weekly_report(
            figures,
            account_id=account_id,
            week_label=week_label(week),
            rule_version=rules.version,
            stage_names=stage_names(session=session, account_id=account_id),
            last_week_tasks=None,
            next_week_due=next_week(week).end,
            week_bounds=(start, end),
            disputes=summarise_disputes(disputes),
            names=names,
        )
        trends, results, speed = later.result() if later is not None else over_time(session)
    report = replace(report, trends=trends, results=results, speed=speed)
    if not hypotheses:
        return with_meeting_tasks(report, tasks)
    tracked = tracked_hypotheses(
        session=session, account_id=account_id, as_of=as_of, tz=rules.timezone, names=names
    )
    return with_meeting_tasks(replace(report, tracked=tracked), tasks)


def week_trends(
    *,
    session: Session,
    account_id: int,
    week: Period,
    as_of: int,
    tz: tzinfo,
    won_basis: WonBasis,
    installed_on: date | None = None,
) -> tuple[Trends, ResultsSinceInstall | None]:
    """`week` next to the eight weeks before it, and day by day up to `as_of`; and, with `installed_on`, the
    weeks since install (results). One pass over the leads for both, one more over the won ones for the cycle."""
    since_install, truncated = ([], False) if installed_on is None else weeks_since(installed_on, week)
    earlier = max(PREVIOUS_WEEKS, len(since_install) - 1)
    weeks, days = trend_periods(week, previous=earlier)
    connection = session.connection()
    counts = bucket_counts(connection, account_id=account_id, bounds=trend_bounds(weeks, days, tz))
    spend = load_spend(connection, account_id=account_id)
    trends = build_trends(
        week,
        weeks[-PREVIOUS_WEEKS:],
        days,
        counts[len(weeks) - PREVIOUS_WEEKS :],
        as_of_day=datetime.fromtimestamp(as_of, tz).date(),
        won_basis=won_basis,
        spend=spend,
        plans=load_plans(connection, account_id=account_id),
    )
    if installed_on is None or not since_install:
        return trends, None
    shown = len(since_install) - 1
    week_counts = [*counts[len(weeks) - shown : len(weeks)], summed_counts(counts[len(weeks) :])]
    bounds = [period.bounds(tz)[0] for period in since_install] + [week.bounds(tz)[1]]
    cycles = deal_cycle_histograms(connection, account_id=account_id, bounds=bounds)
    results = build_results(
        installed_on,
        since_install,
        week_counts,
        cycles,
        won_basis=won_basis,
        spend=spend,
        truncated=truncated,
    )
    return trends, results


def data_fingerprint(*, session: Session, account_id: int) -> tuple[object, ...]:
    """Changes when what the report is computed from changes: leads stored or updated, status moves, the
    running rules, plans, spend and the stage order. Only indexed aggregates, so it costs milliseconds where
    the figures cost seconds. A re-classification that changes nothing in amoCRM keeps `updated_at`, which
    is why reused reports also expire (see `WeeklyReportCache`)."""
    leads = session.exec(
        select(func.count(), func.max(col(LeadSnapshot.updated_at))).where(
            col(LeadSnapshot.account_id) == account_id
        )
    ).one()
    moves = session.exec(
        select(func.max(col(LeadStatusEvent.occurred_at))).where(
            col(LeadStatusEvent.account_id) == account_id
        )
    ).one()
    plans = session.exec(
        select(func.count(), func.max(col(stats_store.StatsPlan.updated_at))).where(
            col(stats_store.StatsPlan.account_id) == account_id
        )
    ).one()
    spend = session.exec(
        select(func.count(), func.max(col(stats_store.StatsSpend.updated_at))).where(
            col(stats_store.StatsSpend.account_id) == account_id
        )
    ).one()
    stages = session.exec(
        select(func.count()).where(col(stats_store.StatsPipelineStage.account_id) == account_id)
    ).one()
    touches = session.exec(
        select(
            func.count(), func.sum(col(LeadFirstTouch.touched_at)), func.max(col(LeadFirstTouch.touched_at))
        ).where(col(LeadFirstTouch.account_id) == account_id)
    ).one()
    return (
        tuple(leads),
        moves,
        tuple(plans),
        tuple(spend),
        stages,
        # A first action seen on a lead changes speed to lead (an earlier one replaces a later one in place).
        tuple(touches),
        active_version(session=session, account_id=account_id),
        # Renamed people: the names the report shows change with the cached user list.
        user_store.refreshed_at(session=session, account_id=account_id),
    )


async def fetch_meeting_tasks(api: AccountApi) -> list[MeetingTask]:
    """The account's tasks that carry the meeting tag (raises `AmoError` when amoCRM cannot be read)."""
    found: list[MeetingTask] = []
    scanned = 0
    async for task in api.iter_tasks(params={"order[created_at]": "desc"}):
        scanned += 1
        if task.text and MEETING_TAG in task.text:
            found.append(
                MeetingTask(
                    task_id=task.id,
                    text=task.text,
                    responsible_user_id=task.responsible_user_id,
                    complete_till=task.complete_till,
                    is_completed=bool(task.is_completed),
                )
            )
        if scanned >= MAX_TASKS_SCANNED:
            break
    return found


async def try_fetch_meeting_tasks(
    connector: Any, account_id: int, *, wait_seconds: float = TASKS_TIMEOUT_SECONDS
) -> list[MeetingTask] | None:
    """Meeting tasks, or None when the account cannot be reached in time — the report then says so."""
    try:
        api: AccountApi = connector.api_for(account_id)
        async with asyncio.timeout(wait_seconds):
            return await fetch_meeting_tasks(api)
    except (AmoError, AccountNotConnected, TimeoutError) as error:
        log.warning("meeting tasks of account %s unavailable: %s", account_id, type(error).__name__)
        return None


def meeting_task_body(*, text: str, due_ts: int, responsible_user_id: int | None) -> dict[str, object]:
    """The amoCRM task a meeting sets for next week: tagged so next week's report finds it."""
    body: dict[str, object] = {
        "text": f"{text.strip()} {MEETING_TAG}",
        "complete_till": due_ts,
        "task_type_id": 1,
    }
    if responsible_user_id is not None:
        body["responsible_user_id"] = responsible_user_id
    return body
