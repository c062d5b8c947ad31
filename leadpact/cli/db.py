"""`leadpact db …` commands."""

from __future__ import annotations

import typer

from integration.db import open_engine
from integration.i18n import Text
from integration.settings import Settings

app = typer.Typer(help="База данных / database", no_args_is_help=True)

UPGRADED = Text(ru="Схема базы данных обновлена: {url}", en="Database schema is up to date: {url}")


@app.command("upgrade", help="Применить миграции / apply migrations")
def upgrade_command() -> None:
    settings = Settings()
    with open_engine(settings.database_url, migrate=True) as engine:
        url = engine.url.render_as_string(hide_password=True)
    typer.echo(UPGRADED(settings.language, url=url))
