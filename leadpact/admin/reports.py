"""`/reports/weekly`: the weekly meeting report for the signed-in admin's account, and creating next week's
meeting tasks in amoCRM from it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, date, datetime
from datetime import time as day_time
from functools import partial
from typing import Any, Literal

import anyio
from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse, RedirectResponse
from sqlalchemy.engine import Engine

from integration.accounts import AccountNotConnected
from integration.amocrm import AmoError
from integration.db import session_scope
from integration.storage import accounts as account_store
from leadpact.admin import texts
from leadpact.admin.report_cache import WeeklyReportCache
from leadpact.admin.web import AdminDep, AdminRoute, FormDep, language, render, services_of, with_lang
from sync.reports.figures import (
    data_fingerprint,
    load_weekly_report,
    meeting_task_body,
    try_fetch_meeting_tasks,
)
from sync.reports.model import WeeklyReport, with_meeting_tasks
from sync.reports.render import render_html_fragment, render_markdown
from sync.reports.weeks import last_full_week, next_week, parse_week, week_label
from sync.stats.periods import Period, StatsInputError

log = logging.getLogger(__name__)

reports_router = APIRouter(prefix="/reports", route_class=AdminRoute, tags=["reports"])


def _week(text: str | None) -> Period:
    if text:
        return parse_week(text)
    return last_full_week(datetime.now(UTC).date())


def _cache(request: Request) -> WeeklyReportCache:
    cache: WeeklyReportCache | None = getattr(request.app.state, "weekly_reports", None)
    if cache is None:
        cache = WeeklyReportCache()
        request.app.state.weekly_reports = cache
    return cache


def _compute(engine: Engine, account_id: int, week: Period) -> tuple[tuple[object, ...], WeeklyReport, float]:
    now = time.time()
    with session_scope(engine) as session:
        fingerprint = data_fingerprint(session=session, account_id=account_id)
        report = load_weekly_report(
            session=session, account_id=account_id, week=week, as_of=int(now), tasks=None
        )
    return fingerprint, report, now


def _load(engine: Engine, cache: WeeklyReportCache, account_id: int, week: Period) -> WeeklyReport:
    key = (account_id, week)
    with session_scope(engine) as session:
        fingerprint = data_fingerprint(session=session, account_id=account_id)
    cached, current = cache.lookup(key, fingerprint, time.time())
    if cached is not None:
        if not current:
            cache.refresh_in_background(key, lambda: _compute(engine, account_id, week))
        return cached
    fingerprint, report, now = _compute(engine, account_id, week)
    cache.store(key, fingerprint, report, now)
    return report


@reports_router.get("/weekly")
async def weekly_report(
    request: Request,
    admin: AdminDep,
    week: str | None = None,
    format: Literal["html", "md"] = "html",
    notice: str | None = None,
    task: int | None = None,
) -> Response:
    """The report of a week (the last full one by default) with charts, as a page or as Markdown."""
    lang = language(request)
    services = services_of(request)
    try:
        period = _week(week)
    except StatsInputError as error:
        return render(
            request,
            "weekly.html",
            {"error": error.message(lang), "week": week or "", "body": None},
            status_code=422,
            session=admin,
        )
    tasks = await try_fetch_meeting_tasks(services.connector, admin.account_id)
    computed = await anyio.to_thread.run_sync(
        _load, services.engine, _cache(request), admin.account_id, period
    )
    report = with_meeting_tasks(computed, tasks)
    if format == "md":
        return PlainTextResponse(render_markdown(report, lang), media_type="text/markdown; charset=utf-8")
    message = None
    if notice == "task-created":
        message = texts.TASK_CREATED(lang, task=task or 0)
    elif notice == "task-failed":
        message = texts.TASK_FAILED(lang)
    elif notice == "task-empty":
        message = texts.TASK_EMPTY(lang)
    return render(
        request,
        "weekly.html",
        {
            "error": None,
            "week": week_label(period),
            "body": render_html_fragment(report, lang),
            "message": message,
            "due": next_week(period).end.isoformat(),
        },
        session=admin,
    )


@reports_router.post("/weekly/tasks")
async def create_meeting_task(request: Request, admin: AdminDep, form: FormDep) -> Response:
    """Creates a task for next week in amoCRM, tagged so next week's report lists it under last week's tasks."""
    label = str(form.get("week", ""))
    try:
        period = _week(label)
    except StatsInputError:
        period = _week(None)
    back = week_label(period)
    text = str(form.get("text", "")).strip()[:1000]
    if not text:
        return RedirectResponse(
            with_lang("/reports/weekly", request, week=back, notice="task-empty"), status_code=303
        )
    responsible_text = str(form.get("responsible", "")).strip()
    responsible = int(responsible_text) if responsible_text.isdigit() else None
    due = datetime.combine(next_week(period).end, day_time(18, 0), tzinfo=UTC)
    body = meeting_task_body(text=text, due_ts=int(due.timestamp()), responsible_user_id=responsible)
    services = services_of(request)
    try:
        api = services.connector.api_for(admin.account_id)
        created = await api.create_tasks([body])
    except (AmoError, AccountNotConnected):
        return RedirectResponse(
            with_lang("/reports/weekly", request, week=back, notice="task-failed"), status_code=303
        )
    return RedirectResponse(
        with_lang("/reports/weekly", request, week=back, notice="task-created", task=created[0]),
        status_code=303,
    )


def warm_last_week(engine: Engine, cache: WeeklyReportCache, *, today: date) -> int:
    """Compute (into `cache`) last full week's report of every active account whose cached one is not current.

    The meeting's report is then served from memory on the first visit too, instead of making that visitor wait
    for a pass over the whole status history. Returns how many reports were computed.
    """
    week = last_full_week(today)
    with session_scope(engine) as session:
        account_ids = [a.id for a in account_store.list_active_accounts(session=session)]
    computed = 0
    for account_id in account_ids:
        with session_scope(engine) as session:
            fingerprint = data_fingerprint(session=session, account_id=account_id)
        cached, current = cache.lookup((account_id, week), fingerprint, time.time())
        if cached is not None and current:
            continue
        fingerprint, report, now = _compute(engine, account_id, week)
        cache.store((account_id, week), fingerprint, report, now)
        computed += 1
    return computed


async def run_report_warmer(
    services: Any, stop: asyncio.Event, *, cache: WeeklyReportCache, interval_seconds: float = 300.0
) -> None:
    """Background task of the web app: keeps last week's reports computed (see `warm_last_week`)."""
    while not stop.is_set():
        try:
            await anyio.to_thread.run_sync(
                partial(warm_last_week, services.engine, cache, today=datetime.now(UTC).date())
            )
        except Exception:
            log.exception("weekly reports could not be warmed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_seconds)
