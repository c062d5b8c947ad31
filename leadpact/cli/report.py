"""`leadpact report weekly`: the weekly marketing+sales meeting report as Markdown or a self-contained HTML page."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

import typer

from integration.bootstrap import build_services
from integration.db import open_engine, session_scope
from integration.i18n import Language, Text
from integration.settings import Settings
from integration.storage import accounts as account_store
from integration.users import refresh_users
from leadpact.cli.context import cli_settings
from sync.reports.figures import load_weekly_report, try_fetch_meeting_tasks
from sync.reports.model import MeetingTask
from sync.reports.render import render_html, render_markdown
from sync.reports.weeks import last_full_week, parse_week
from sync.stats.metrics import WonBasis
from sync.stats.periods import Period, StatsInputError, parse_as_of
from sync.stats.service import rules_context

app = typer.Typer(help="Отчёты / reports", no_args_is_help=True)


@app.callback()
def report_group() -> None:
    """Отчёты LeadPact / LeadPact reports."""


WHICH_ACCOUNT = Text(
    ru="Укажите аккаунт (--account): подключено несколько — {ids}.",
    en="Name the account (--account): several are connected — {ids}.",
)
NO_ACCOUNT = Text(ru="Нет подключённых аккаунтов.", en="No account is connected.")
UNKNOWN_ACCOUNT = Text(ru="Аккаунт {id} не подключён.", en="Account {id} is not connected.")
WRITTEN = Text(ru="Отчёт записан в {path}", en="Report written to {path}")


class ReportFormat(StrEnum):
    html = "html"
    md = "md"


class WonBasisChoice(StrEnum):
    close_date = "close_date"
    cohort = "cohort"


def _as_of(settings: Settings, account_id: int, text: str | None) -> int | None:
    if text is None:
        return None
    with open_engine(settings.database_url) as engine, session_scope(engine) as session:
        tz = rules_context(session=session, account_id=account_id).timezone
    return parse_as_of(text, tz)


class ReportLanguage(StrEnum):
    ru = "ru"
    en = "en"


def _account(settings: Settings, requested: int | None, lang: Language) -> int:
    with open_engine(settings.database_url) as engine, session_scope(engine) as session:
        ids = [account.id for account in account_store.list_accounts(session=session)]
    if requested is not None:
        if requested not in ids:
            raise typer.BadParameter(UNKNOWN_ACCOUNT(lang, id=requested), param_hint="--account")
        return requested
    if not ids:
        raise typer.BadParameter(NO_ACCOUNT(lang), param_hint="--account")
    if len(ids) > 1:
        raise typer.BadParameter(WHICH_ACCOUNT(lang, ids=", ".join(map(str, ids))), param_hint="--account")
    return ids[0]


async def _tasks(settings: Settings, account_id: int) -> list[MeetingTask] | None:
    """The meeting tasks from amoCRM, after refreshing the account's user names if they are stale."""
    async with build_services(settings, migrate=False) as services:
        await refresh_users(
            engine=services.engine,
            connector=services.connector,
            account_id=account_id,
            max_age=settings.users_refresh_seconds,
        )
        return await try_fetch_meeting_tasks(services.connector, account_id)


def build_report_text(
    settings: Settings,
    *,
    account_id: int,
    week: Period,
    output_format: str,
    lang: Language,
    with_tasks: bool,
    as_of: int | None = None,
    won_basis: WonBasis = "close_date",
) -> str:
    """The report of one account and week, rendered (the same figures as `leadpact stats show`)."""
    tasks = asyncio.run(_tasks(settings, account_id)) if with_tasks else None
    with open_engine(settings.database_url) as engine, session_scope(engine) as session:
        report = load_weekly_report(
            session=session,
            account_id=account_id,
            week=week,
            as_of=int(time.time()) if as_of is None else as_of,
            tasks=tasks,
            won_basis=won_basis,
            untouched_after_seconds=settings.untouched_after_seconds,
        )
    return render_html(report, lang) if output_format == "html" else render_markdown(report, lang)


@app.command("weekly", help="Отчёт к еженедельной встрече / the weekly meeting report")
def weekly_command(
    week: str | None = typer.Option(
        None, help="ISO-неделя, напр. 2026-W47 (по умолчанию — прошлая) / ISO week"
    ),
    output_format: ReportFormat = typer.Option(ReportFormat.md, "--format", help="html | md"),
    account: int | None = typer.Option(None, help="ID аккаунта amoCRM / amoCRM account id"),
    lang: ReportLanguage | None = typer.Option(None, help="ru | en"),
    output: Path | None = typer.Option(None, "--output", "-o", help="Файл / write to this file"),
    tasks: bool = typer.Option(True, help="Читать задачи встречи из amoCRM / read meeting tasks from amoCRM"),
    as_of: str | None = typer.Option(
        None,
        "--as-of",
        help="цифры на конец дня 2026-11-20 (по умолчанию — сейчас) / figures as they stood at the end of that day",
    ),
    won_basis: WonBasisChoice | None = typer.Option(
        None,
        "--won-basis",
        help="close_date | cohort (по умолчанию — настройка STATS_WON_BASIS / default: the STATS_WON_BASIS setting)",
    ),
) -> None:
    settings = cli_settings()
    language: Language = "en" if (lang.value if lang else settings.language) == "en" else "ru"
    account_id = _account(settings, account, language)
    try:
        moment = _as_of(settings, account_id, as_of)
    except StatsInputError as error:
        raise typer.BadParameter(error.message(language), param_hint="--as-of") from None
    try:
        today = (datetime.now(UTC) if moment is None else datetime.fromtimestamp(moment, UTC)).date()
        period = parse_week(week) if week else last_full_week(today)
    except StatsInputError as error:
        raise typer.BadParameter(error.message(language), param_hint="--week") from None
    text = build_report_text(
        settings,
        account_id=account_id,
        week=period,
        output_format=output_format.value,
        lang=language,
        with_tasks=tasks,
        as_of=moment,
        won_basis="cohort" if (won_basis or settings.stats_won_basis) == "cohort" else "close_date",
    )
    if output is None:
        typer.echo(text)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(WRITTEN(language, path=output))
