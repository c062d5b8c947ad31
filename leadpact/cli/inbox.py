"""`leadpact inbox …`: look at the webhook inbox, its failed and dead-lettered deliveries, and retry them."""

from __future__ import annotations

import time

import typer
from rich.console import Console
from rich.table import Table

from integration.db import open_engine, session_scope
from integration.i18n import Language, Text
from integration.settings import Settings
from integration.storage.inbox import InboxStatus, inbox_stats, problem_items
from webhooks.worker import requeue_with_reparse

app = typer.Typer(help="Очередь вебхуков / webhook inbox", no_args_is_help=True)

NO_PROBLEMS = Text(ru="Нет ошибочных доставок.", en="No failed deliveries.")
FAILED_TITLE = Text(ru="Ошибочные доставки", en="Failed deliveries")
HEADERS = Text(ru="ID|Аккаунт|Статус|Попыток|Получено|Ошибка", en="ID|Account|Status|Attempts|Received|Error")
NOT_FOUND = Text(ru="Доставка {id} не найдена.", en="Delivery {id} not found.")
REQUEUED = Text(ru="Доставка {id} снова в очереди.", en="Delivery {id} is queued again.")
STILL_UNREADABLE = Text(
    ru="Доставка {id} всё ещё не читается: {reason}", en="Delivery {id} still cannot be read: {reason}"
)
STATS = Text(
    ru="В очереди: {pending} (старейшая ждёт {age:.0f} с), обработано: {done}, не прочитано: {failed}, "
    "отложено после ошибок: {dead}",
    en="Pending: {pending} (oldest waiting {age:.0f} s), done: {done}, unreadable: {failed}, "
    "dead-lettered: {dead}",
)


@app.command("failed", help="Показать ошибочные доставки / list failed and dead-lettered deliveries")
def failed_command(
    account: int | None = typer.Option(None, help="Только этот аккаунт / only this account"),
    limit: int = typer.Option(50, help="Сколько показать / how many"),
) -> None:
    settings = Settings()
    lang: Language = settings.language
    with open_engine(settings.database_url) as engine, session_scope(engine) as session:
        items = problem_items(session=session, account_id=account, limit=limit)
    if not items:
        typer.echo(NO_PROBLEMS(lang))
        return
    table = Table(title=FAILED_TITLE(lang))
    for header in HEADERS(lang).split("|"):
        table.add_column(header)
    for item in items:
        received = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(item.received_at))
        table.add_row(
            str(item.id),
            str(item.account_id),
            item.status,
            str(item.attempts),
            received,
            (item.last_error or "")[:120],
        )
    Console().print(table)


@app.command("retry", help="Вернуть доставку в очередь / put a delivery back in the queue")
def retry_command(item_id: int = typer.Argument(..., help="ID доставки / delivery id")) -> None:
    settings = Settings()
    lang: Language = settings.language
    with open_engine(settings.database_url) as engine, session_scope(engine) as session:
        item = requeue_with_reparse(session=session, item_id=item_id)
        if item is None:
            typer.echo(NOT_FOUND(lang, id=item_id), err=True)
            raise typer.Exit(1)
        status, reason = item.status, item.last_error
    if status == InboxStatus.FAILED:
        typer.echo(STILL_UNREADABLE(lang, id=item_id, reason=reason), err=True)
        raise typer.Exit(2)
    typer.echo(REQUEUED(lang, id=item_id))


@app.command("stats", help="Состояние очереди / inbox state")
def stats_command() -> None:
    settings = Settings()
    with open_engine(settings.database_url) as engine, session_scope(engine) as session:
        stats = inbox_stats(session=session)
    typer.echo(
        STATS(
            settings.language,
            pending=stats.pending,
            age=stats.oldest_pending_age_seconds,
            done=stats.done,
            failed=stats.failed,
            dead=stats.dead,
        )
    )
