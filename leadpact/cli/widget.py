"""`leadpact widget …` commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from integration.i18n import Text
from integration.settings import Settings
from leadpact.widget.build import DEFAULT_OUTPUT, WidgetBuildError, build_widget

app = typer.Typer(help="Виджет amoCRM / the amoCRM widget", no_args_is_help=True)

BUILT = Text(
    ru="Архив виджета готов: {path} — загрузите его в настройках интеграции amoCRM.",
    en="Widget archive ready: {path} — upload it in the amoCRM integration settings.",
)
REFUSED = Text(ru="Виджет не собран:", en="Widget not built:")


@app.command("build")
def build(
    out: Annotated[Path, typer.Option("--out", help="zip to write / куда записать архив")] = DEFAULT_OUTPUT,
) -> None:
    """Собрать zip виджета для загрузки в amoCRM / build the widget zip to upload to amoCRM."""
    lang = Settings().language
    try:
        path = build_widget(out)
    except WidgetBuildError as error:
        typer.echo(REFUSED(lang), err=True)
        for problem in error.problems:
            typer.echo(f"  - {problem}", err=True)
        raise typer.Exit(code=1) from None
    typer.echo(BUILT(lang, path=path))
