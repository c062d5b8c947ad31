"""`leadpact accounts …`: installed amoCRM accounts (never prints a secret)."""

from __future__ import annotations

import asyncio
import os

import typer
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table
from sqlmodel import Session

from integration.db import open_engine, session_scope
from integration.i18n import Text
from integration.install_status import InstallReport, install_report
from integration.settings import Settings
from integration.storage import accounts as store
from integration.storage import install_health as health_store
from integration.storage.accounts import Account

app = typer.Typer(help="Аккаунты amoCRM / amoCRM accounts", no_args_is_help=True)

NO_ACCOUNTS = Text(ru="Аккаунтов нет.", en="No accounts.")
REMOVED = Text(ru="Аккаунт {id} отключён, токены удалены.", en="Account {id} removed, tokens deleted.")
NOT_FOUND = Text(ru="Аккаунт {id} не найден.", en="Account {id} not found.")
CONNECTED = Text(
    ru="Аккаунт {subdomain} (#{id}) подключён по долгосрочному токену.",
    en="Account {subdomain} (#{id}) connected with a long-lived token.",
)
PROVISIONING_FAILED = Text(
    ru="Токен сохранён, но настроить аккаунт пока не удалось; `leadpact worker` повторит попытку. Причина: "
    "`leadpact accounts status {host}`.",
    en="The token is stored but the account could not be set up yet; `leadpact worker` tries again. Why: "
    "`leadpact accounts status {host}`.",
)
NO_TOKEN = Text(
    ru="Передайте токен через переменную окружения AMOCRM_LONG_LIVED_TOKEN.",
    en="Pass the token in the AMOCRM_LONG_LIVED_TOKEN environment variable.",
)
HEADERS = {
    "ru": ("ID", "Поддомен", "API", "Статус", "Причина", "Доступ", "Поля", "Вебхук", "Поля правил", "Ошибка"),
    "en": (
        "ID",
        "Subdomain",
        "API",
        "Status",
        "Reason",
        "Credential",
        "Fields",
        "Webhook",
        "Rule fields",
        "Error",
    ),
}
STATUS_TITLE = Text(ru="Аккаунт {subdomain} (#{id}): {status}", en="Account {subdomain} (#{id}): {status}")
STATUS_HEADERS = {"ru": ("Что", "Состояние", "Когда проверено"), "en": ("Part", "State", "Last checked")}
NO_ERROR = Text(ru="Ошибок установки нет.", en="No install error.")


@app.command("list", help="Список аккаунтов без секретов / list accounts without secrets")
def list_command(
    all_: bool = typer.Option(False, "--all", help="include removed / вместе с отключёнными"),
) -> None:
    settings = Settings()
    with open_engine(settings.database_url, migrate=True) as engine, session_scope(engine) as session:
        accounts = store.list_accounts(session=session, include_removed=all_)
        reports = _reports(settings, accounts, session)
    if not accounts:
        typer.echo(NO_ACCOUNTS(settings.language))
        return
    table = Table(*HEADERS[settings.language])
    for account, report in zip(accounts, reports, strict=True):
        table.add_row(
            str(account.id),
            account.subdomain,
            account.base_url,
            account.status,
            account.status_reason or "",
            account.credential_kind,
            report.line("fields").text,
            report.line("webhook").text,
            report.line("rules").text,
            report.last_error or "",
        )
    Console(width=max(Console().width, 200)).print(table)


@app.command("status", help="Состояние установки аккаунта / install health of one account")
def status_command(
    host: str = typer.Argument(..., help="acme.amocrm.ru, acme or the account id / адрес, поддомен или id"),
) -> None:
    settings = Settings()
    lang = settings.language
    with open_engine(settings.database_url, migrate=True) as engine, session_scope(engine) as session:
        account = _find_account(session, host)
        if account is None:
            typer.echo(NOT_FOUND(lang, id=host), err=True)
            raise typer.Exit(1)
        (report,) = _reports(settings, [account], session)
        title = STATUS_TITLE(lang, subdomain=account.subdomain, id=account.id, status=account.status)
    table = Table(*STATUS_HEADERS[lang], title=title)
    for line in report.lines:
        table.add_row(line.label, line.text, line.checked)
    console = Console(width=max(Console().width, 160))
    console.print(table)
    console.print(report.last_error or NO_ERROR(lang), markup=False)


def _reports(settings: Settings, accounts: list[Account], session: Session) -> list[InstallReport]:
    rows = health_store.list_health(session=session, account_ids=[a.id for a in accounts])
    return [
        install_report(
            account,
            rows.get(account.id),
            lang=settings.language,
            polling_interval_seconds=settings.polling_interval_seconds,
        )
        for account in accounts
    ]


def _bare_host(value: str) -> str:
    return value.strip().lower().removeprefix("https://").removeprefix("http://").strip("/")


def _find_account(session: Session, host: str) -> Account | None:
    """By id, subdomain or host: 12345, acme, acme.amocrm.ru, https://acme.kommo.com."""
    wanted = _bare_host(host)
    for account in store.list_accounts(session=session, include_removed=True):
        subdomain = account.subdomain.lower()
        # With AMOCRM_BASE_URL set (a proxy, the sandbox) the API base names no account: match the subdomain.
        names = {str(account.id), subdomain, _bare_host(account.base_url)}
        if wanted in names or (wanted.split(".", 1)[0] == subdomain and "." in wanted):
            return account
    return None


@app.command(
    "remove", help="Отключить аккаунт: отписать вебхук, удалить токены / unsubscribe and forget tokens"
)
def remove_command(account_id: int) -> None:
    from integration.bootstrap import build_services
    from integration.install import remove_account

    settings = Settings()

    async def run() -> bool:
        async with build_services(settings) as services:
            return await remove_account(services, account_id=account_id)

    if asyncio.run(run()):
        typer.echo(REMOVED(settings.language, id=account_id))
    else:
        typer.echo(NOT_FOUND(settings.language, id=account_id), err=True)
        raise typer.Exit(1)


@app.command("connect-token", help="Подключить по долгосрочному токену / connect with a long-lived token")
def connect_token_command(
    host: str = typer.Argument(..., help="account host, e.g. acme.amocrm.ru / адрес аккаунта"),
) -> None:
    from integration.amocrm import AmoError
    from integration.bootstrap import build_services
    from integration.install import install_with_long_lived_token
    from leadpact.scheduler import PROVISIONING_STEPS

    settings = Settings()
    raw = os.environ.get("AMOCRM_LONG_LIVED_TOKEN") or (
        settings.amocrm_long_lived_token.get_secret_value() if settings.amocrm_long_lived_token else ""
    )
    if not raw:
        typer.echo(NO_TOKEN(settings.language), err=True)
        raise typer.Exit(2)

    async def run() -> tuple[int, str]:
        async with build_services(settings) as services:
            installed = await install_with_long_lived_token(
                services, host=host, token=SecretStr(raw), steps=PROVISIONING_STEPS
            )
            return installed.account_id, installed.subdomain

    try:
        account_id, subdomain = asyncio.run(run())
    except AmoError:
        # The account and its token are stored; the worker's provisioning job tries again with backoff.
        typer.echo(PROVISIONING_FAILED(settings.language, host=host), err=True)
        raise typer.Exit(1) from None
    typer.echo(CONNECTED(settings.language, id=account_id, subdomain=subdomain))
