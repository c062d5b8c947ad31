"""`leadpact accounts …`: installed amoCRM accounts (never prints a secret)."""

from __future__ import annotations

import asyncio
import os

import typer
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

from integration.db import open_engine, session_scope
from integration.i18n import Text
from integration.settings import Settings
from integration.storage import accounts as store

app = typer.Typer(help="Аккаунты amoCRM / amoCRM accounts", no_args_is_help=True)

NO_ACCOUNTS = Text(ru="Аккаунтов нет.", en="No accounts.")
REMOVED = Text(ru="Аккаунт {id} отключён, токены удалены.", en="Account {id} removed, tokens deleted.")
NOT_FOUND = Text(ru="Аккаунт {id} не найден.", en="Account {id} not found.")
CONNECTED = Text(
    ru="Аккаунт {subdomain} (#{id}) подключён по долгосрочному токену.",
    en="Account {subdomain} (#{id}) connected with a long-lived token.",
)
NO_TOKEN = Text(
    ru="Передайте токен через переменную окружения AMOCRM_LONG_LIVED_TOKEN.",
    en="Pass the token in the AMOCRM_LONG_LIVED_TOKEN environment variable.",
)
HEADERS = {
    "ru": ("ID", "Поддомен", "API", "Статус", "Причина", "Доступ"),
    "en": ("ID", "Subdomain", "API", "Status", "Reason", "Credential"),
}


@app.command("list", help="Список аккаунтов без секретов / list accounts without secrets")
def list_command(
    all_: bool = typer.Option(False, "--all", help="include removed / вместе с отключёнными"),
) -> None:
    settings = Settings()
    with open_engine(settings.database_url, migrate=True) as engine, session_scope(engine) as session:
        accounts = store.list_accounts(session=session, include_removed=all_)
    if not accounts:
        typer.echo(NO_ACCOUNTS(settings.language))
        return
    table = Table(*HEADERS[settings.language])
    for account in accounts:
        table.add_row(
            str(account.id),
            account.subdomain,
            account.base_url,
            account.status,
            account.status_reason or "",
            account.credential_kind,
        )
    Console().print(table)


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
    from integration.bootstrap import build_services
    from integration.install import install_with_long_lived_token

    settings = Settings()
    raw = os.environ.get("AMOCRM_LONG_LIVED_TOKEN") or (
        settings.amocrm_long_lived_token.get_secret_value() if settings.amocrm_long_lived_token else ""
    )
    if not raw:
        typer.echo(NO_TOKEN(settings.language), err=True)
        raise typer.Exit(2)

    async def run() -> tuple[int, str]:
        async with build_services(settings) as services:
            installed = await install_with_long_lived_token(services, host=host, token=SecretStr(raw))
            return installed.account_id, installed.subdomain

    account_id, subdomain = asyncio.run(run())
    typer.echo(CONNECTED(settings.language, id=account_id, subdomain=subdomain))
