"""`leadpact hypotheses add|list|close`: the weekly meeting's hypotheses and their measured effect.

The owner is an amoCRM user, given by name (case-insensitive, from the cached users) or id, and always shown
by name. The segment is a channel of the running rule file, or all leads when none is given.
"""

from __future__ import annotations

import time
from datetime import date
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from integration.db import open_engine, session_scope
from integration.i18n import Language, Text
from integration.storage import hypotheses as store
from integration.storage import users as user_store
from leadpact.cli.context import cli_settings
from leadpact.cli.promos import AccountOption, resolve_account
from rules.hypotheses import METRICS
from sync.reports.hypotheses import ALL_CHANNELS, owner_name, tracked_hypotheses
from sync.reports.model import ReportNames
from sync.reports.render import HYPOTHESIS_METRICS, tracked_rows
from sync.stats.service import rules_context

app = typer.Typer(
    help="Гипотезы встречи и их измеренный эффект / meeting hypotheses and their measured effect",
    no_args_is_help=True,
)

UNKNOWN_OWNER = Text(
    ru="Пользователь «{owner}» не найден среди пользователей amoCRM ({known}).",
    en="No amoCRM user '{owner}' ({known}).",
)
AMBIGUOUS_OWNER = Text(
    ru="Имени «{owner}» соответствуют несколько пользователей: {names}. Укажите id.",
    en="Several users match '{owner}': {names}. Give the id.",
)
UNKNOWN_CHANNEL = Text(
    ru="Канала «{channel}» нет в правилах (есть: {known}).",
    en="No channel '{channel}' in the rules ({known}).",
)
BAD_METRIC = Text(ru="Метрика: одна из {known}.", en="Metric: one of {known}.")
BAD_DIRECTION = Text(ru="Направление: up или down.", en="Direction: up or down.")
BAD_DATE = Text(ru="Дата старта в формате ГГГГ-ММ-ДД.", en="Start date as YYYY-MM-DD.")
ADDED = Text(ru="Гипотеза {id} записана, владелец — {owner}.", en="Hypothesis {id} recorded, owner {owner}.")
CLOSED = Text(ru="Гипотеза {id} закрыта.", en="Hypothesis {id} closed.")
NOT_OPEN = Text(ru="Открытой гипотезы {id} нет.", en="There is no open hypothesis {id}.")
NONE_OPEN = Text(ru="Открытых гипотез нет.", en="No open hypotheses.")
OPEN_TITLE = Text(ru="Открытые гипотезы", en="Open hypotheses")
CLOSED_TITLE = Text(ru="Закрытые гипотезы", en="Closed hypotheses")
HEADERS = Text(
    ru="ID|Гипотеза|Владелец|Метрика|Сегмент|Старт|До|После|Изменение (95% ДИ)|Вывод",
    en="ID|Hypothesis|Owner|Metric|Segment|Since|Before|After|Change (95% CI)|Verdict",
)
CLOSED_HEADERS = Text(
    ru="ID|Гипотеза|Владелец|Метрика|Сегмент|Старт|Закрыта|Заметка",
    en="ID|Hypothesis|Owner|Metric|Segment|Since|Closed|Note",
)


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code=1)


def resolve_owner(names: dict[int, str], owner: str, lang: Language) -> int:
    """An amoCRM user id from a name (case-insensitive, whole or unique part) or an id."""
    if owner.strip().isdigit() and int(owner) in names:
        return int(owner)
    wanted = owner.strip().casefold()
    exact = [user_id for user_id, name in names.items() if name.casefold() == wanted]
    found = exact or [user_id for user_id, name in names.items() if wanted in name.casefold()]
    if len(found) == 1:
        return found[0]
    if found:
        raise _fail(AMBIGUOUS_OWNER(lang, owner=owner, names=", ".join(sorted(names[i] for i in found))))
    raise _fail(UNKNOWN_OWNER(lang, owner=owner, known=", ".join(sorted(names.values())) or "—"))


@app.command("add", help="Записать гипотезу / record a hypothesis")
def add_command(
    text: Annotated[str, typer.Argument(help="Текст гипотезы / what is tried and why")],
    owner: Annotated[
        str, typer.Option("--owner", help="Имя или id пользователя amoCRM / amoCRM user name or id")
    ],
    metric: Annotated[str, typer.Option("--metric", help="qualified_pct | conversion | cpl | cpql")],
    direction: Annotated[str, typer.Option("--direction", help="up | down")] = "up",
    channel: Annotated[
        str | None, typer.Option("--channel", help="Канал правил; без него — все / rule channel")
    ] = None,
    start: Annotated[str | None, typer.Option("--start", help="YYYY-MM-DD (сегодня / today)")] = None,
    account: AccountOption = None,
) -> None:
    settings = cli_settings()
    lang = settings.language
    if metric not in METRICS:
        raise _fail(BAD_METRIC(lang, known=", ".join(METRICS)))
    if direction not in ("up", "down"):
        raise _fail(BAD_DIRECTION(lang))
    try:
        starts_on = date.fromisoformat(start) if start else date.today()
    except ValueError:
        raise _fail(BAD_DATE(lang)) from None
    with open_engine(settings.database_url, migrate=True) as engine, session_scope(engine) as session:
        account_id = resolve_account(session, account, lang)
        names = user_store.user_names(session=session, account_id=account_id)
        owner_id = resolve_owner(names, owner, lang)
        if channel is not None:
            known = rules_context(session=session, account_id=account_id).channel_titles
            if channel not in known:
                raise _fail(UNKNOWN_CHANNEL(lang, channel=channel, known=", ".join(sorted(known)) or "—"))
        row = store.add_hypothesis(
            session=session,
            account_id=account_id,
            text=text,
            owner_id=owner_id,
            metric=metric,
            direction=direction,
            channel=channel,
            starts_on=starts_on,
        )
        hypothesis_id = row.id
    typer.echo(ADDED(lang, id=hypothesis_id, owner=names[owner_id]))


@app.command(
    "list", help="Открытые гипотезы с эффектом (--all: и закрытые) / open hypotheses with their effect"
)
def list_command(
    include_closed: Annotated[bool, typer.Option("--all", help="И закрытые / closed ones too")] = False,
    account: AccountOption = None,
) -> None:
    settings = cli_settings()
    lang = settings.language
    console = Console(width=None)
    with open_engine(settings.database_url, migrate=True) as engine, session_scope(engine) as session:
        account_id = resolve_account(session, account, lang)
        rules = rules_context(session=session, account_id=account_id)
        names = ReportNames(
            people=user_store.user_names(session=session, account_id=account_id),
            channels=rules.channel_titles,
        )
        tracked = tracked_hypotheses(
            session=session, account_id=account_id, as_of=int(time.time()), tz=rules.timezone, names=names
        )
        closed = [
            row
            for row in store.list_hypotheses(session=session, account_id=account_id, include_closed=True)
            if row.closed_at is not None
        ]
    if not tracked:
        typer.echo(NONE_OPEN(lang))
    else:
        table = Table(title=OPEN_TITLE(lang))
        for header in HEADERS(lang).split("|"):
            table.add_column(header)
        rows = tracked_rows(tracked, lang)
        for item, row in zip(tracked, rows, strict=True):
            table.add_row(
                str(item.id),
                row["text"],
                row["owner"],
                row["metric"],
                row["segment"],
                row["since"],
                row["before"],
                row["after"],
                row["change"],
                row["verdict"],
            )
        console.print(table)
    if include_closed and closed:
        table = Table(title=CLOSED_TITLE(lang))
        for header in CLOSED_HEADERS(lang).split("|"):
            table.add_column(header)
        for old in closed:
            table.add_row(
                str(old.id),
                old.text,
                owner_name(old.owner_id, names)(lang),
                HYPOTHESIS_METRICS[old.metric](lang),
                names.channel(old.channel)(lang) if old.channel else ALL_CHANNELS(lang),
                old.starts_on.isoformat(),
                time.strftime("%Y-%m-%d", time.gmtime(old.closed_at or 0)),
                old.close_note,
            )
        console.print(table)


@app.command("close", help="Закрыть гипотезу с заметкой / close a hypothesis with a note")
def close_command(
    hypothesis_id: Annotated[int, typer.Argument(help="ID")],
    note: Annotated[str, typer.Option("--note", help="Итог / what was concluded")] = "",
    account: AccountOption = None,
) -> None:
    settings = cli_settings()
    lang = settings.language
    with open_engine(settings.database_url, migrate=True) as engine, session_scope(engine) as session:
        account_id = resolve_account(session, account, lang)
        row = store.close_hypothesis(
            session=session, account_id=account_id, hypothesis_id=hypothesis_id, note=note
        )
    if row is None:
        raise _fail(NOT_OPEN(lang, id=hypothesis_id))
    typer.echo(CLOSED(lang, id=hypothesis_id))
