"""`leadpact promos …` (import, list) and `leadpact events import` — register `events_app` as `events`."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from sqlmodel import Session

from integration.db import open_engine, session_scope
from integration.i18n import Language, Text
from integration.storage import accounts as account_store
from integration.storage import promos as promo_store
from leadpact.cli.context import cli_settings
from sync.promos.event_import import EventImportReport, import_event_attendees
from sync.promos.events import read_attendee_csv
from sync.promos.importing import parse_promo_file
from sync.promos.service import import_promos
from sync.promos.tabular import TableError

app = typer.Typer(help="Акции и купоны / promos and coupons", no_args_is_help=True)
events_app = typer.Typer(help="Списки участников мероприятий / event attendee lists", no_args_is_help=True)

AccountOption = Annotated[
    int | None,
    typer.Option(
        "--account",
        help="Номер аккаунта amoCRM (можно не указывать, если он один) / amoCRM account id (optional with one account)",
    ),
]

NO_ACCOUNT = Text(
    ru="Укажите аккаунт: --account ID (подключено аккаунтов: {count}).",
    en="Choose the account: --account ID ({count} connected).",
)
UNKNOWN_ACCOUNT = Text(ru="Аккаунт {id} не подключён.", en="Account {id} is not connected.")
FILE_MISSING = Text(ru="Файл {path} не найден.", en="File {path} not found.")
NOTHING_IMPORTED = Text(
    ru="Ничего не импортировано — исправьте ошибки ({count}):", en="Nothing imported — fix these ({count}):"
)
IMPORTED = Text(
    ru="Импортировано акций: {promos}, новых купонов: {coupons}.",
    en="Imported promos: {promos}, new coupons: {coupons}.",
)
NO_PROMOS = Text(ru="Акций нет.", en="No promos.")
PROMO_HEADERS = {
    "ru": ("Ключ", "Название", "Промокод", "Купоны (своб./всего)", "С", "По", "Условие"),
    "en": ("Key", "Name", "Code", "Coupons (free/total)", "From", "Until", "Condition"),
}
EVENTS_READ = Text(
    ru="Прочитано участников: {count} (кодировка {encoding}, разделитель «{delimiter}»).",
    en="Attendees read: {count} (encoding {encoding}, separator “{delimiter}”).",
)
EVENTS_DONE = Text(
    ru="Сопоставлено: {matched}, неоднозначно: {ambiguous}, не найдено: {unmatched}. "
    "Отмечено сделок: {leads}, заметок: {notes}.",
    en="Matched: {matched}, ambiguous: {ambiguous}, unmatched: {unmatched}. Leads tagged: {leads}, notes: {notes}.",
)
UNMATCHED_WRITTEN = Text(ru="Несопоставленные строки: {path}", en="Unmatched rows: {path}")
STAGES = {
    "contacts": Text(ru="Контакты amoCRM", en="amoCRM contacts"),
    "matching": Text(ru="Сопоставление", en="Matching"),
    "tags": Text(ru="Теги сделок", en="Lead tags"),
    "notes": Text(ru="Заметки", en="Notes"),
}


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code=1)


def resolve_account(session: Session, account_id: int | None, lang: Language) -> int:
    """The account to act on: the one given, or the only one connected."""
    accounts = account_store.list_accounts(session=session)
    if account_id is None:
        if len(accounts) != 1:
            raise _fail(NO_ACCOUNT(lang, count=len(accounts)))
        return accounts[0].id
    if all(account.id != account_id for account in accounts):
        raise _fail(UNKNOWN_ACCOUNT(lang, id=account_id))
    return account_id


@app.command(
    "import", help="Импорт акций из CSV/YAML (всё или ничего) / import promos from CSV/YAML (all or nothing)"
)
def import_command(file: Path, account: AccountOption = None) -> None:
    settings = cli_settings()
    lang = settings.language
    if not file.is_file():
        raise _fail(FILE_MISSING(lang, path=file))
    promo_file = parse_promo_file(file.read_bytes(), filename=file.name)
    with open_engine(settings.database_url, migrate=True) as engine, session_scope(engine) as session:
        account_id = resolve_account(session, account, lang)
        outcome = import_promos(
            session=session, account_id=account_id, promo_file=promo_file, now=int(time.time())
        )
    if not outcome.ok:
        typer.echo(NOTHING_IMPORTED(lang, count=len(outcome.errors)), err=True)
        for error in outcome.errors:
            typer.echo(f"  - {error.render(lang)}", err=True)
        raise typer.Exit(code=1)
    typer.echo(IMPORTED(lang, promos=outcome.promos_saved, coupons=outcome.coupons_added))


@app.command("list", help="Список акций с остатком купонов / promos with their coupon pools")
def list_command(account: AccountOption = None) -> None:
    settings = cli_settings()
    lang = settings.language
    with open_engine(settings.database_url, migrate=True) as engine, session_scope(engine) as session:
        account_id = resolve_account(session, account, lang)
        promos = promo_store.list_promos(session=session, account_id=account_id)
        pools = promo_store.pool_stats(session=session, account_id=account_id)
    if not promos:
        typer.echo(NO_PROMOS(lang))
        return
    table = Table(*PROMO_HEADERS[lang])
    for promo in promos:
        pool = pools.get(promo.id or 0)
        table.add_row(
            promo.key,
            promo.name,
            promo.shared_code or "",
            f"{pool.free}/{pool.total}" if pool else "",
            promo.starts_on.isoformat() if promo.starts_on else "",
            promo.ends_on.isoformat() if promo.ends_on else "",
            promo.condition,
        )
    Console().print(table)


SYNCED = Text(
    ru="Каталог «Акции LeadPact»: получено {pulled}, создано {new}, обновлено {updated}, в архив {archived}, "
    "новых купонов {coupons}.",
    en="Catalog “LeadPact promos”: pulled {pulled}, created {new}, updated {updated}, archived {archived}, "
    "new coupons {coupons}.",
)
SKIPPED_ELEMENTS = Text(ru="Пропущены элементы с ошибками:", en="Elements skipped because of errors:")
CONVERSION_HEADERS = {
    "ru": ("Канал", "Выдано купонов", "Использовано", "Выиграно", "Использовано и выиграно"),
    "en": ("Channel", "Coupons issued", "Used", "Won", "Used and won"),
}
NO_COUPONS = Text(ru="Купоны ещё не выдавались.", en="No coupons issued yet.")


@app.command("sync", help="Синхронизировать с каталогом amoCRM / two-way sync with the amoCRM catalog")
def sync_command(account: AccountOption = None) -> None:
    from integration.bootstrap import build_services
    from sync.promos.catalog import CatalogSyncReport, sync_promo_catalog

    settings = cli_settings()
    lang = settings.language

    async def run() -> CatalogSyncReport:
        async with build_services(settings) as services:
            with session_scope(services.engine) as session:
                account_id = resolve_account(session, account, lang)
            return await sync_promo_catalog(
                services.connector.api_for(account_id),
                engine=services.engine,
                account_id=account_id,
                lang=lang,
                now=int(time.time()),
            )

    report = asyncio.run(run())
    typer.echo(
        SYNCED(
            lang,
            pulled=report.pulled,
            new=report.pushed_new,
            updated=report.pushed_updates,
            archived=report.archived,
            coupons=report.coupons_added,
        )
    )
    if report.errors:
        typer.echo(SKIPPED_ELEMENTS(lang), err=True)
        for line in report.render_errors(lang):
            typer.echo(f"  - {line}", err=True)


@app.command("coupons", help="Конверсия купонов в выигрыш по каналам / coupon → won conversion per channel")
def coupons_command(account: AccountOption = None) -> None:
    settings = cli_settings()
    lang = settings.language
    with open_engine(settings.database_url, migrate=True) as engine, session_scope(engine) as session:
        account_id = resolve_account(session, account, lang)
        rows = promo_store.coupon_conversion_by_channel(session=session, account_id=account_id)
    if not rows:
        typer.echo(NO_COUPONS(lang))
        return
    table = Table(*CONVERSION_HEADERS[lang])
    for row in rows:
        table.add_row(row.channel or "—", str(row.issued), str(row.used), str(row.won), str(row.used_and_won))
    Console().print(table)


@events_app.command("import", help="Импорт участников мероприятия из CSV / import event attendees from CSV")
def events_import_command(
    file: Path,
    account: AccountOption = None,
    unmatched: Annotated[
        Path | None,
        typer.Option(
            "--unmatched",
            help="CSV несопоставленных строк (по умолчанию FILE.unmatched.csv) / CSV of unmatched rows (default: FILE.unmatched.csv)",
        ),
    ] = None,
    region: Annotated[str, typer.Option(help="default phone region / регион телефонов")] = "RU",
) -> None:
    from integration.bootstrap import build_services

    settings = cli_settings()
    lang = settings.language
    if not file.is_file():
        raise _fail(FILE_MISSING(lang, path=file))
    try:
        attendees = read_attendee_csv(file.read_bytes(), region=region)
    except TableError as error:
        raise _fail(error.message(lang)) from None
    typer.echo(
        EVENTS_READ(
            lang, count=len(attendees.attendees), encoding=attendees.encoding, delimiter=attendees.delimiter
        )
    )
    unmatched_path = unmatched or file.with_suffix(".unmatched.csv")

    async def run() -> EventImportReport:
        async with build_services(settings) as services:
            with session_scope(services.engine) as session:
                account_id = resolve_account(session, account, lang)
            with Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), transient=False
            ) as bar:
                tasks = {stage: bar.add_task(text(lang), total=None) for stage, text in STAGES.items()}

                def progress(stage: str, done: int, total: int | None) -> None:
                    bar.update(tasks[stage], completed=done, total=total)

                return await import_event_attendees(
                    api=services.connector.api_for(account_id),
                    engine=services.engine,
                    account_id=account_id,
                    attendee_file=attendees,
                    now=int(datetime.now(UTC).timestamp()),
                    lang=lang,
                    region=region,
                    progress=progress,
                )

    report = asyncio.run(run())
    typer.echo(
        EVENTS_DONE(
            lang,
            matched=report.matched,
            ambiguous=report.ambiguous,
            unmatched=report.unmatched,
            leads=report.leads_tagged,
            notes=report.notes_added,
        )
    )
    if report.ambiguous or report.unmatched:
        unmatched_path.write_text(report.unmatched_csv, encoding="utf-8")
        typer.echo(UNMATCHED_WRITTEN(lang, path=unmatched_path))
