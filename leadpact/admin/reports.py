"""`/reports/weekly`: the weekly meeting report for the signed-in admin's account, and creating next week's
meeting tasks in amoCRM from it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import replace
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
from integration.i18n import Language
from integration.storage import accounts as account_store
from integration.storage import hypotheses as hypothesis_store
from integration.storage import users as user_store
from integration.storage.users import AmoUser
from integration.users import refresh_users
from leadpact.admin import texts
from leadpact.admin.report_cache import WeeklyReportCache
from leadpact.admin.web import AdminDep, AdminRoute, FormDep, language, render, services_of, with_lang
from rules.hypotheses import METRICS
from sync.reports.figures import (
    DEFAULT_UNTOUCHED_AFTER_SECONDS,
    data_fingerprint,
    load_weekly_report,
    meeting_task_body,
    try_fetch_meeting_tasks,
)
from sync.reports.hypotheses import owner_name, tracked_hypotheses
from sync.reports.model import ReportNames, TrackedHypothesis, WeeklyReport, with_meeting_tasks
from sync.reports.render import HYPOTHESIS_METRICS, render_html_fragment, render_markdown
from sync.reports.weeks import last_full_week, next_week, parse_week, week_label
from sync.stats.metrics import WonBasis
from sync.stats.periods import Period, StatsInputError, parse_as_of
from sync.stats.service import rules_context

log = logging.getLogger(__name__)

reports_router = APIRouter(prefix="/reports", route_class=AdminRoute, tags=["reports"])


def _week(text: str | None, as_of: int | None = None) -> Period:
    """The week asked for; by default the last full week before `as_of` (now when not given)."""
    if text:
        return parse_week(text)
    moment = datetime.now(UTC) if as_of is None else datetime.fromtimestamp(as_of, UTC)
    return last_full_week(moment.date())


def _as_of(engine: Engine, account_id: int, text: str | None) -> int | None:
    """`?as_of=2026-11-20`: the end of that day in the rules' time zone (None: now)."""
    if not text:
        return None
    with session_scope(engine) as session:
        tz = rules_context(session=session, account_id=account_id).timezone
    return parse_as_of(text, tz)


def _cache(request: Request) -> WeeklyReportCache:
    cache: WeeklyReportCache | None = getattr(request.app.state, "weekly_reports", None)
    if cache is None:
        cache = WeeklyReportCache()
        request.app.state.weekly_reports = cache
    return cache


def _compute(
    engine: Engine,
    account_id: int,
    week: Period,
    as_of: int | None = None,
    won_basis: WonBasis = "close_date",
    untouched_after: int = DEFAULT_UNTOUCHED_AFTER_SECONDS,
) -> tuple[tuple[object, ...], WeeklyReport, float]:
    now = time.time()
    with session_scope(engine) as session:
        fingerprint = data_fingerprint(session=session, account_id=account_id)
        report = load_weekly_report(
            session=session,
            account_id=account_id,
            week=week,
            as_of=int(now) if as_of is None else as_of,
            tasks=None,
            won_basis=won_basis,
            hypotheses=False,
            untouched_after_seconds=untouched_after,
            engine=engine,
        )
    return fingerprint, report, now


def _load(
    engine: Engine,
    cache: WeeklyReportCache,
    account_id: int,
    week: Period,
    as_of: int | None = None,
    won_basis: WonBasis = "close_date",
    untouched_after: int = DEFAULT_UNTOUCHED_AFTER_SECONDS,
) -> WeeklyReport:
    if as_of is not None or won_basis != "close_date":
        # A report as of a chosen moment (or on the cohort basis) is asked for rarely: computed, not cached.
        return _compute(engine, account_id, week, as_of, won_basis, untouched_after)[1]
    key = (account_id, week)
    with session_scope(engine) as session:
        fingerprint = data_fingerprint(session=session, account_id=account_id)
    cached, current = cache.lookup(key, fingerprint, time.time())
    if cached is not None:
        if not current:
            cache.refresh_in_background(
                key, lambda: _compute(engine, account_id, week, untouched_after=untouched_after)
            )
        return cached
    fingerprint, report, now = _compute(engine, account_id, week, untouched_after=untouched_after)
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
    as_of: str | None = None,
    won_basis: Literal["close_date", "cohort"] | None = None,
) -> Response:
    """The report of a week (the last full one by default) with charts, as a page or as Markdown.

    `as_of` (a date) shows the figures as they stood at the end of that day; `won_basis` counts deals by
    close date or by lead cohort (default: the setting)."""
    lang = language(request)
    services = services_of(request)
    basis: WonBasis = won_basis or services.settings.stats_won_basis
    try:
        moment = await anyio.to_thread.run_sync(_as_of, services.engine, admin.account_id, as_of)
        period = _week(week, moment)
    except StatsInputError as error:
        return render(
            request,
            "weekly.html",
            {"error": error.message(lang), "week": week or "", "body": None},
            status_code=422,
            session=admin,
        )
    # Names (re-read at most once per refresh period) and the meeting tasks come from amoCRM side by side.
    _, tasks = await asyncio.gather(
        refresh_users(
            engine=services.engine,
            connector=services.connector,
            account_id=admin.account_id,
            max_age=services.settings.users_refresh_seconds,
        ),
        try_fetch_meeting_tasks(services.connector, admin.account_id),
    )
    # The week's figures and the open hypotheses are independent reads: side by side, each on its own
    # connection, a week's first visit waits for the longer of the two, not their sum.
    computed, tracked = await asyncio.gather(
        anyio.to_thread.run_sync(
            _load,
            services.engine,
            _cache(request),
            admin.account_id,
            period,
            moment,
            basis,
            services.settings.untouched_after_seconds,
        ),
        anyio.to_thread.run_sync(
            _tracked_cached, services.engine, _tracked_cache(request), admin.account_id, moment
        ),
    )
    report = with_meeting_tasks(replace(computed, tracked=tracked), tasks)
    if format == "md":
        return PlainTextResponse(render_markdown(report, lang), media_type="text/markdown; charset=utf-8")
    message = None
    if notice == "task-created":
        message = texts.TASK_CREATED(lang, task=task or 0)
    elif notice == "task-failed":
        message = texts.TASK_FAILED(lang)
    elif notice == "task-empty":
        message = texts.TASK_EMPTY(lang)
    elif notice == "task-unknown-user":
        message = texts.TASK_UNKNOWN_USER(lang)
    elif notice in _HYPOTHESIS_NOTICES:
        message = _HYPOTHESIS_NOTICES[notice](lang)
    hypotheses = await anyio.to_thread.run_sync(_hypothesis_choices, services.engine, admin.account_id, lang)
    return render(
        request,
        "weekly.html",
        {
            "error": None,
            "week": week_label(period),
            "body": render_html_fragment(report, lang),
            "message": message,
            "due": next_week(period).end.isoformat(),
            "as_of": as_of or "",
            "users": await anyio.to_thread.run_sync(_assignees, services.engine, admin.account_id),
            "today": datetime.fromtimestamp(moment or time.time(), UTC).date().isoformat(),
            **hypotheses,
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
    services = services_of(request)
    if responsible is not None:
        known = {
            user.user_id
            for user in await anyio.to_thread.run_sync(_assignees, services.engine, admin.account_id)
        }
        if responsible not in known:
            return RedirectResponse(
                with_lang("/reports/weekly", request, week=back, notice="task-unknown-user"), status_code=303
            )
    due = datetime.combine(next_week(period).end, day_time(18, 0), tzinfo=UTC)
    body = meeting_task_body(text=text, due_ts=int(due.timestamp()), responsible_user_id=responsible)
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


_HYPOTHESIS_NOTICES = {
    "hypothesis-added": texts.HYPOTHESIS_ADDED,
    "hypothesis-invalid": texts.HYPOTHESIS_INVALID,
    "hypothesis-closed": texts.HYPOTHESIS_CLOSED,
}


# Measured hypotheses per (account, day or chosen moment): reused while neither the leads, the spend nor the
# hypotheses changed, so a warmed report page does not pay their pass over the leads on every view.
TrackedCache = dict[tuple[object, ...], tuple[TrackedHypothesis, ...]]
TRACKED_CACHE_SIZE = 64


def _tracked_cache(request: Request) -> TrackedCache:
    cache: TrackedCache | None = getattr(request.app.state, "tracked_hypotheses", None)
    if cache is None:
        cache = {}
        request.app.state.tracked_hypotheses = cache
    return cache


def _tracked_cached(
    engine: Engine, cache: TrackedCache, account_id: int, as_of: int | None
) -> tuple[TrackedHypothesis, ...]:
    with session_scope(engine) as session:
        hypotheses = hypothesis_store.hypotheses_fingerprint(session=session, account_id=account_id)
        fingerprint = data_fingerprint(session=session, account_id=account_id)
    # Windows move by whole days: "now" is keyed by the day (UTC), a chosen moment by itself.
    moment: object = ("day", int(time.time()) // 86400) if as_of is None else as_of
    key = (account_id, moment, tuple(hypotheses), fingerprint)
    found = cache.get(key)
    if found is not None:
        return found
    tracked = _tracked(engine, account_id, as_of)
    if len(cache) >= TRACKED_CACHE_SIZE:
        cache.clear()
    cache[key] = tracked
    return tracked


def _tracked(engine: Engine, account_id: int, as_of: int | None) -> tuple[TrackedHypothesis, ...]:
    """The open hypotheses measured now (one grouped query for all of them), outside the report cache."""
    with session_scope(engine) as session:
        rules = rules_context(session=session, account_id=account_id)
        names = ReportNames(
            people=user_store.user_names(session=session, account_id=account_id),
            channels=rules.channel_titles,
        )
        return tracked_hypotheses(
            session=session,
            account_id=account_id,
            as_of=int(time.time()) if as_of is None else as_of,
            tz=rules.timezone,
            names=names,
        )


def _hypothesis_choices(engine: Engine, account_id: int, lang: Language) -> dict[str, Any]:
    """What the hypothesis forms offer (metrics, channels) and the open and closed hypotheses, by name."""
    with session_scope(engine) as session:
        titles = rules_context(session=session, account_id=account_id).channel_titles
        people = user_store.user_names(session=session, account_id=account_id)
        rows = hypothesis_store.list_hypotheses(session=session, account_id=account_id, include_closed=True)
    return {
        "metrics": [(key, HYPOTHESIS_METRICS[key](lang)) for key in METRICS],
        "channels": sorted((key, title(lang)) for key, title in titles.items()),
        "open_hypotheses": [(row.id, row.text) for row in rows if row.closed_at is None],
        "closed_hypotheses": [
            {
                "text": row.text,
                "owner": owner_name(row.owner_id, ReportNames(people=people))(lang),
                "metric": HYPOTHESIS_METRICS[row.metric](lang),
                "starts_on": row.starts_on.isoformat(),
                "closed_on": datetime.fromtimestamp(row.closed_at or 0, UTC).date().isoformat(),
                "note": row.close_note,
            }
            for row in rows
            if row.closed_at is not None
        ],
    }


def _back(form: Any, request: Request, notice: str) -> Response:
    label = str(form.get("week", ""))
    try:
        back = week_label(_week(label))
    except StatsInputError:
        back = week_label(_week(None))
    return RedirectResponse(with_lang("/reports/weekly", request, week=back, notice=notice), status_code=303)


def _add_hypothesis(engine: Engine, account_id: int, form: Any) -> bool:
    text = str(form.get("text", "")).strip()[:1000]
    owner = str(form.get("owner", "")).strip()
    metric = str(form.get("metric", ""))
    direction = str(form.get("direction", ""))
    channel = str(form.get("channel", "")) or None
    try:
        starts_on = date.fromisoformat(str(form.get("starts_on", "")))
    except ValueError:
        return False
    if not text or not owner.isdigit() or metric not in METRICS or direction not in ("up", "down"):
        return False
    with session_scope(engine) as session:
        if int(owner) not in user_store.user_names(session=session, account_id=account_id):
            return False
        if (
            channel is not None
            and channel not in rules_context(session=session, account_id=account_id).channel_titles
        ):
            return False
        hypothesis_store.add_hypothesis(
            session=session,
            account_id=account_id,
            text=text,
            owner_id=int(owner),
            metric=metric,
            direction=direction,
            channel=channel,
            starts_on=starts_on,
        )
    return True


@reports_router.post("/weekly/hypotheses")
async def create_hypothesis(request: Request, admin: AdminDep, form: FormDep) -> Response:
    """Records a hypothesis of the meeting; the report then measures it before vs after its start."""
    services = services_of(request)
    added = await anyio.to_thread.run_sync(_add_hypothesis, services.engine, admin.account_id, form)
    return _back(form, request, "hypothesis-added" if added else "hypothesis-invalid")


def _close_hypothesis(engine: Engine, account_id: int, form: Any) -> bool:
    text = str(form.get("id", "")).strip()
    if not text.isdigit():
        return False
    with session_scope(engine) as session:
        row = hypothesis_store.close_hypothesis(
            session=session,
            account_id=account_id,
            hypothesis_id=int(text),
            note=str(form.get("note", ""))[:1000],
        )
    return row is not None


@reports_router.post("/weekly/hypotheses/close")
async def close_hypothesis(request: Request, admin: AdminDep, form: FormDep) -> Response:
    """Closes a hypothesis with a note; it stays in the history below the report."""
    services = services_of(request)
    closed = await anyio.to_thread.run_sync(_close_hypothesis, services.engine, admin.account_id, form)
    return _back(form, request, "hypothesis-closed" if closed else "hypothesis-invalid")


def _assignees(engine: Engine, account_id: int) -> list[AmoUser]:
    """The account's active amoCRM users, by name: whom a meeting task can be given to."""
    with session_scope(engine) as session:
        return [
            user for user in user_store.list_users(session=session, account_id=account_id) if user.is_active
        ]


def warm_last_week(
    engine: Engine,
    cache: WeeklyReportCache,
    *,
    today: date,
    untouched_after: int = DEFAULT_UNTOUCHED_AFTER_SECONDS,
) -> int:
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
        fingerprint, report, now = _compute(engine, account_id, week, untouched_after=untouched_after)
        cache.store((account_id, week), fingerprint, report, now)
        computed += 1
    return computed


async def _refresh_names(services: Any) -> None:
    """Each active account's user names, re-read when older than the setting (the report names people)."""
    with session_scope(services.engine) as session:
        account_ids = [a.id for a in account_store.list_active_accounts(session=session)]
    for account_id in account_ids:
        await refresh_users(
            engine=services.engine,
            connector=services.connector,
            account_id=account_id,
            max_age=services.settings.users_refresh_seconds,
        )


async def run_report_warmer(
    services: Any, stop: asyncio.Event, *, cache: WeeklyReportCache, interval_seconds: float = 300.0
) -> None:
    """Background task of the web app: keeps last week's reports computed (see `warm_last_week`)."""
    while not stop.is_set():
        try:
            await _refresh_names(services)
            await anyio.to_thread.run_sync(
                partial(
                    warm_last_week,
                    services.engine,
                    cache,
                    today=datetime.now(UTC).date(),
                    untouched_after=services.settings.untouched_after_seconds,
                )
            )
        except Exception:
            log.exception("weekly reports could not be warmed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_seconds)
