"""Assembling a week's report from storage: the stats figures (the very functions behind `leadpact stats
show`), the stage names, and the meeting tasks read from amoCRM."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from sqlmodel import Session

from integration.accounts import AccountNotConnected
from integration.amocrm import AccountApi, AmoError
from integration.storage import stats as stats_store
from sync.reports.model import MEETING_TAG, MeetingTask, WeeklyReport, build_weekly_report, meeting_tasks_due
from sync.reports.weeks import next_week, week_label
from sync.stats.periods import Period
from sync.stats.service import figures_for, rules_context

log = logging.getLogger(__name__)

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


def load_weekly_report(
    *,
    session: Session,
    account_id: int,
    week: Period,
    as_of: int,
    tasks: Sequence[MeetingTask] | None,
) -> WeeklyReport:
    """The report of `week` as of `as_of`; `tasks` are the account's meeting tasks (None: not readable)."""
    figures = figures_for(session=session, account_id=account_id, period=week, as_of=as_of)
    rules = rules_context(session=session, account_id=account_id)
    start, end = week.bounds(rules.timezone)
    return build_weekly_report(
        figures,
        account_id=account_id,
        week_label=week_label(week),
        rule_version=rules.version,
        stage_names=stage_names(session=session, account_id=account_id),
        last_week_tasks=None if tasks is None else meeting_tasks_due(tasks, start=start, end=end),
        next_week_due=next_week(week).end,
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
