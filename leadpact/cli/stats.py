"""`leadpact stats …`, `leadpact plan …`, `leadpact spend …` and `leadpact backfill`: funnel statistics.

`app` is mounted as `stats` by the CLI root; `register(root)` adds `plan`, `spend` and `backfill` beside it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import distinct, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from integration.db import open_engine, session_scope
from integration.i18n import Language, Text
from integration.settings import Settings
from integration.storage import stats as storage
from integration.storage import users as user_store
from integration.storage.accounts import list_accounts
from integration.storage.leads import LeadSnapshot
from leadpact.cli.context import cli_settings
from sync.stats.metrics import FieldCompleteness, PeriodFigures, WonBasis, weekly_plan
from sync.stats.periods import Period, StatsInputError, parse_as_of
from sync.stats.plans import PLAN_FIGURES, import_spend, known_channels, parse_spend_csv, set_plan
from sync.stats.queries import load_plans
from sync.stats.report import (
    EMPTY,
    HISTORY_MISSING,
    NOT_MAPPED,
    TOO_FEW,
    UNKNOWN,
    WON_BASIS,
    channel_title,
    figures_as_dict,
    label,
    person_name,
)
from sync.stats.service import StatsOptions, figures_for, rules_context

app = typer.Typer(help="Статистика воронки / funnel statistics.", no_args_is_help=True)
plan_app = typer.Typer(help="Планы по периодам / plans per period.", no_args_is_help=True)
spend_app = typer.Typer(
    help="Расходы на маркетинг по каналам / marketing spend per channel.", no_args_is_help=True
)

NO_ACCOUNT = Text(
    ru="Не понятно, какой аккаунт: укажите --account (подключено: {known}).",
    en="Which account? Pass --account (connected: {known}).",
)
PLAN_SAVED = Text(ru="План на {period} сохранён.", en="Plan for {period} saved.")
SPEND_IMPORTED = Text(ru="Загружено строк расходов: {count}.", en="Spend lines imported: {count}.")
FILE_UNREADABLE = Text(
    ru="Не удалось прочитать файл {path}: {error}", en="Cannot read the file {path}: {error}"
)
FROZEN = Text(
    ru="База бонуса за {period} зафиксирована: {base} целевых лидов (правила v{version}).",
    en="Bonus base for {period} frozen: {base} qualified leads (rules v{version}).",
)
ALREADY_FROZEN = Text(
    ru="База бонуса за {period} уже была зафиксирована {when}: {base} целевых лидов; она не меняется.",
    en="The bonus base for {period} was frozen on {when}: {base} qualified leads; it does not change.",
)
FROZEN_BESIDE = Text(
    ru="Зафиксированная база бонуса ({when}, правила v{version}): {base}; оспоренные лиды: {disputes}.",
    en="Frozen bonus base ({when}, rules v{version}): {base}; disputed leads: {disputes}.",
)
PUSHED = Text(
    ru="Каталог «Воронка LeadPact»: создано {created}, обновлено {updated} элементов; лидов обновлено: {leads}.",
    en="Catalog “LeadPact funnel”: {created} elements created, {updated} updated; leads updated: {leads}.",
)
LEAD_FIELD_MISSING = Text(
    ru="Поле «% целевых в канале» не создано в аккаунте — запустите установку; лиды не обновлялись.",
    en="The “Channel % qualified” field is not provisioned — run the install; leads were not updated.",
)
BACKFILL_DONE = Text(
    ru="Загружено лидов: {leads}, смен статусов: {events}.",
    en="Leads loaded: {leads}, status changes: {events}.",
)
BACKFILL_NO_EVENTS_API = Text(
    ru="Внимание: amoCRM не отдал список событий (GET /api/v4/events ответил 404 или 403 — нет прав или "
    "тариф без событий). История смен этапов не загружена: конверсия по этапам и взвешенная воронка будут "
    "показаны как «неизвестно».",
    en="Warning: amoCRM refused its events list (GET /api/v4/events answered 404 or 403 — no rights, or a "
    "plan without events). Stage history was not loaded: stage conversion and the weighted pipeline will be "
    "shown as unknown.",
)
BACKFILL_RESUMED = Text(
    ru="Продолжаю с места остановки ({when}).",
    en="Resuming where the last run stopped ({when}).",
)
BACKFILL_PROGRESS = Text(ru="Загрузка истории", en="Loading history")
BAD_DATE = Text(ru="Дата «{value}» не в формате 2026-01-31.", en="The date “{value}” is not like 2026-01-31.")
NOT_CONNECTED = Text(
    ru="Аккаунт {account} не подключён к amoCRM: {reason}",
    en="Account {account} is not connected to amoCRM: {reason}",
)

T = TypeVar("T")

AccountOption = Annotated[
    int | None, typer.Option("--account", help="Номер аккаунта amoCRM / amoCRM account id")
]
PeriodOption = Annotated[
    str | None,
    typer.Option(
        "--period",
        help="2026-11 или 2026-11-01..2026-11-07 (по умолчанию — этот месяц) / 2026-11 or 2026-11-01..2026-11-07 (default: this month)",
    ),
]
AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="считать на дату (конец дня в часовом поясе правил) / figures as they stood at the end of "
        "2026-01-31 (or at 2026-01-31T18:00)",
    ),
]
WonBasisOption = Annotated[
    str | None,
    typer.Option(
        "--won-basis",
        help="close_date | cohort: сделки по дате закрытия или по когорте лидов / deals by close date or by "
        "lead cohort (default: the STATS_WON_BASIS setting)",
    ),
]


@contextmanager
def _context() -> Iterator[tuple[Settings, Engine, Console]]:
    settings = cli_settings()
    with open_engine(settings.database_url) as engine:
        yield settings, engine, Console()


def _fail(console: Console, message: str) -> typer.Exit:
    console.print(f"[red]{message}[/red]")
    return typer.Exit(code=2)


def _guarded(console: Console, lang: Language, action: Callable[[], T]) -> T:
    try:
        return action()
    except StatsInputError as error:
        raise _fail(console, error.message(lang)) from None


def _resolve_account(session: Session, given: int | None, lang: Language) -> int:
    if given is not None:
        return given
    accounts = [account.id for account in list_accounts(session=session)]
    if not accounts:
        accounts = [int(a) for a in session.scalars(select(distinct(col(LeadSnapshot.account_id))))]
    if len(accounts) == 1:
        return accounts[0]
    raise StatsInputError(NO_ACCOUNT, known=", ".join(map(str, accounts)) or "—")


def _period(text: str | None, tz: Any, as_of: int | None = None) -> Period:
    """The period asked for; by default the month containing `as_of` (now when not given)."""
    if text:
        return Period.parse(text)
    moment = datetime.now(tz) if as_of is None else datetime.fromtimestamp(as_of, tz)
    return Period.containing(moment)


def won_basis_of(value: str | None, settings: Settings) -> WonBasis:
    chosen = value or settings.stats_won_basis
    if chosen not in ("close_date", "cohort"):
        raise typer.BadParameter("close_date | cohort", param_hint="--won-basis")
    return "cohort" if chosen == "cohort" else "close_date"


async def _refresh_names(settings: Settings, engine: Engine, account_id: int) -> None:
    from integration.bootstrap import build_services
    from integration.users import refresh_users

    async with build_services(settings, engine=engine, migrate=False) as services:
        await refresh_users(
            engine=engine,
            connector=services.connector,
            account_id=account_id,
            max_age=settings.users_refresh_seconds,
        )


def people_names(settings: Settings, engine: Engine, account_id: int) -> dict[int, str]:
    """The account's user names from the cache, re-read from amoCRM first when the cache is older than
    `users_refresh_seconds` (amoCRM unreachable: the cached names, possibly none, are used)."""
    asyncio.run(_refresh_names(settings, engine, account_id))
    with session_scope(engine) as session:
        return user_store.user_names(session=session, account_id=account_id)


# --- formatting ---------------------------------------------------------------------------------------------


def _num(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return EMPTY
    return f"{value:,.{digits}f}".replace(",", " ")


def _pct(value: float | None) -> str:
    return EMPTY if value is None else f"{value * 100:.1f} %"


def _money(value: Any) -> str:
    return EMPTY if value is None else f"{float(value):,.2f}".replace(",", " ")


def render_figures(
    figures: PeriodFigures,
    *,
    lang: Language,
    stage_names: dict[int, str],
    console: Console,
    names: Mapping[int, str] | None = None,
    channel_titles: Mapping[str, Text] | None = None,
) -> None:
    """Prints the figures as rich tables (the same numbers the catalog in amoCRM holds)."""
    people = names or {}
    titles = channel_titles or {}

    def _channel(name: str | None, lang: Language) -> str:
        return channel_title(name, titles, lang)

    as_of = datetime.fromtimestamp(figures.as_of, UTC).strftime("%Y-%m-%d %H:%M UTC")
    console.print(
        f"[bold]{label('period', lang)} {figures.period.label}[/bold] · {label('as_of', lang)} {as_of} · "
        f"{WON_BASIS[figures.won_basis](lang)}"
    )
    if figures.history_missing is not None:
        console.print(f"[yellow]{HISTORY_MISSING[figures.history_missing](lang)}[/yellow]")

    run = Table(title=label("run_rate", lang))
    for key in ("plan", "actual", "planned_to_date", "pace", "forecast", "forecast_vs_plan"):
        run.add_column(label(key, lang), justify="right")
    run.add_column("", justify="left")
    for rate in figures.run_rates:
        run.add_row(
            _num(rate.plan),
            _num(rate.actual),
            _num(rate.planned_to_date, 1),
            _pct(rate.pace),
            _num(rate.forecast, 1),
            _pct(rate.forecast_vs_plan),
            label(rate.metric, lang),
        )
    console.print(run)
    bonus = figures.bonus
    console.print(
        f"{label('bonus', lang)}: [bold]{bonus.base}[/bold] ({label('leads', lang)}: {bonus.arrived}, "
        f"{label('plan', lang)}: {_num(bonus.plan)}, {label('pct_of_plan', lang)}: {_pct(bonus.pct_of_plan)})"
    )

    channels = Table(title=label("channels", lang))
    for key in (
        "channel",
        "leads",
        "qualified",
        "qualified_pct",
        "norm",
        "spend",
        "per_lead",
        "per_qualified",
    ):
        channels.add_column(label(key, lang), justify="left" if key == "channel" else "right")
    channels.add_column(label("customers", lang), justify="right")
    channels.add_column(label("per_customer", lang), justify="right")
    costs = {cost.channel: cost for cost in figures.costs}
    quality = {row.channel: row for row in figures.quality}
    for name in sorted({*costs, *quality}, key=lambda c: (c is None, c or "")):
        row, cost = quality.get(name), costs.get(name)
        verdict = "" if row is None or row.meets_norm is None else (" ✓" if row.meets_norm else " ✗")
        if row is not None and row.too_few:
            verdict = f" ({TOO_FEW(lang, n=row.classified, min=row.min_sample)})"
        mark = " *" if row is not None and row.experimental else ""
        channels.add_row(
            _channel(name, lang) + mark,
            _num(row.leads if row else 0),
            _num(row.qualified if row else 0),
            (_pct(row.qualified_pct) if row else EMPTY) + verdict,
            _pct(row.norm) if row else EMPTY,
            _money(cost.spend) if cost else EMPTY,
            _money(cost.per_lead) if cost else EMPTY,
            _money(cost.per_qualified) if cost else EMPTY,
            _num(cost.customers) if cost else "0",
            _money(cost.per_customer) if cost else EMPTY,
        )
    for title, row in (
        (label("all_channels", lang), figures.quality_total),
        (label("experimental_channels", lang) + " *", figures.quality_experimental),
    ):
        channels.add_row(
            f"[bold]{title}[/bold]",
            _num(row.leads),
            _num(row.qualified),
            _pct(row.qualified_pct)
            + (f" ({TOO_FEW(lang, n=row.classified, min=row.min_sample)})" if row.too_few else ""),
            _pct(row.norm),
            "",
            "",
            "",
            _num(figures.totals.deals) if row.scope == "total" else "",
            "",
        )
    console.print(channels)

    funnel = Table(title=label("funnel", lang))
    for key in ("stage", "next_stage", "reached", "conversion"):
        funnel.add_column(label(key, lang), justify="left" if "stage" in key else "right")
    for step in figures.conversions:
        target = (
            label("won_stage", lang)
            if step.to_status is None
            else stage_names.get(step.to_status, str(step.to_status))
        )
        funnel.add_row(
            stage_names.get(step.from_status, str(step.from_status)),
            target,
            f"{step.reached_from} → {step.reached_to}",
            _pct(step.conversion) if figures.history_missing is None else UNKNOWN(lang),
        )
    console.print(funnel)

    coverage = figures.coverage
    weighted = UNKNOWN(lang) if coverage.weighted_value is None else _num(coverage.weighted_value)
    covered = UNKNOWN(lang) if coverage.weighted_value is None else _pct(coverage.coverage)
    console.print(
        f"{label('coverage', lang)}: [bold]{covered}[/bold] — {label('open_deals', lang)}: "
        f"{coverage.open_deals}, {label('open_value', lang)}: {_num(coverage.open_value)}, "
        f"{label('weighted_value', lang)}: {weighted}, "
        f"{label('unrated_value', lang)}: {_num(coverage.unrated_value)}, "
        f"{label('remaining_plan', lang)}: {_num(coverage.remaining_plan)}"
    )

    managers = Table(
        title=f"{label('managers', lang)} · {label('min_sample', lang)}: {figures.managers.min_sample}"
    )
    for key in ("manager", "leads", "won", "conversion"):
        managers.add_column(label(key, lang), justify="left" if key == "manager" else "right")
    managers.add_column("")
    ranking = figures.managers
    for manager in ranking.managers:
        note = ""
        if ranking.best is not None and manager.manager_id == ranking.best.manager_id:
            note = label("best", lang)
        elif ranking.worst is not None and manager.manager_id == ranking.worst.manager_id:
            note = label("worst", lang)
        elif not manager.ranked and manager.manager_id is not None:
            note = TOO_FEW(lang, n=manager.leads, min=ranking.min_sample)
        managers.add_row(
            person_name(manager.manager_id, people, lang),
            _num(manager.leads),
            _num(manager.won),
            _pct(manager.conversion),
            note,
        )
    console.print(managers)
    total = () if figures.completeness_total is None else (figures.completeness_total,)
    _render_completeness(
        figures.completeness_by_channel,
        total,
        label("channel", lang),
        lambda key: _channel(None if key is None else str(key), lang),
        lang,
        console,
    )
    _render_completeness(
        figures.completeness_by_manager,
        total,
        label("manager", lang),
        lambda key: person_name(key if isinstance(key, int) else None, people, lang),
        lang,
        console,
    )


def _render_completeness(
    rows: tuple[FieldCompleteness, ...],
    total: tuple[FieldCompleteness, ...],
    title: str,
    name_of: Callable[[str | int | None], str],
    lang: Language,
    console: Console,
) -> None:
    if not rows:
        return
    table = Table(title=f"{label('completeness', lang)} · {title}")
    table.add_column(title)
    for code, _ in rows[0].by_field:
        table.add_column(code, justify="right")
    table.add_column(label("overall", lang), justify="right")

    def share_of(row: FieldCompleteness, share: float | None) -> str:
        # With leads to count, an empty share means the account's mapping gives the role no field.
        return NOT_MAPPED(lang) if share is None and row.leads > 0 else _pct(share)

    for row in rows:
        table.add_row(
            name_of(row.key), *(share_of(row, share) for _, share in row.by_field), _pct(row.overall)
        )
    for row in total:
        table.add_row(
            f"[bold]{label('all_channels', lang)}[/bold]",
            *(share_of(row, share) for _, share in row.by_field),
            _pct(row.overall),
        )
    console.print(table)


# --- stats ----------------------------------------------------------------------------------------------------


@app.command("show")
def show(
    period: PeriodOption = None,
    account: AccountOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Вывод для программ (JSON) / machine-readable output")
    ] = False,
    min_sample: Annotated[
        int,
        typer.Option(
            help="Сколько лидов нужно менеджеру, чтобы попасть в рейтинг / leads a manager needs to be ranked"
        ),
    ] = 10,
    as_of: AsOfOption = None,
    won_basis: WonBasisOption = None,
    names_from_amocrm: Annotated[
        bool,
        typer.Option(
            "--names/--no-names",
            help="Обновить имена пользователей из amoCRM, если устарели / refresh user names from amoCRM when stale",
        ),
    ] = True,
) -> None:
    """Показать цифры воронки / print the funnel figures."""
    with _context() as (settings, engine, console):
        lang = settings.language
        basis = won_basis_of(won_basis, settings)
        with session_scope(engine) as session:
            account_id = _guarded(console, lang, lambda: _resolve_account(session, account, lang))
        names = (
            people_names(settings, engine, account_id)
            if names_from_amocrm
            else _cached_names(engine, account_id)
        )
        with session_scope(engine) as session:
            rules = rules_context(session=session, account_id=account_id)
            moment = _guarded(console, lang, lambda: parse_as_of(as_of, rules.timezone))
            chosen = _guarded(console, lang, lambda: _period(period, rules.timezone, moment))
            figures = figures_for(
                session=session,
                account_id=account_id,
                period=chosen,
                as_of=int(time.time()) if moment is None else moment,
                options=StatsOptions(min_manager_sample=min_sample, won_basis=basis),
            )
            frozen = storage.get_bonus_snapshot(
                session=session, account_id=account_id, period_start=chosen.start, period_end=chosen.end
            )
            stage_names = {
                stage.status_id: stage.name or str(stage.status_id)
                for stage in storage.list_pipeline_stages(session=session, account_id=account_id)
            }
        _print_figures(figures, frozen, as_json, lang, stage_names, console, names, rules.channel_titles)


def _cached_names(engine: Engine, account_id: int) -> dict[int, str]:
    with session_scope(engine) as session:
        return user_store.user_names(session=session, account_id=account_id)


def _print_figures(
    figures: PeriodFigures,
    frozen: Any,
    as_json: bool,
    lang: Language,
    stage_names: dict[int, str],
    console: Console,
    names: Mapping[int, str],
    channel_titles: Mapping[str, Text],
) -> None:
    if as_json:
        data = figures_as_dict(figures)
        data["manager_names"] = {str(key): value for key, value in names.items()}
        data["channel_titles"] = {
            key: {"ru": title.ru, "en": title.en} for key, title in channel_titles.items()
        }
        data["frozen_bonus"] = (
            None
            if frozen is None
            else {
                "rule_version": frozen.rule_version,
                "figures": frozen.figures,
                "lead_ids": frozen.lead_ids,
                "open_disputes": frozen.open_disputes,
                "frozen_at": frozen.frozen_at,
            }
        )
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    render_figures(
        figures,
        lang=lang,
        stage_names=stage_names,
        console=console,
        names=names,
        channel_titles=channel_titles,
    )
    if frozen is not None:
        when = datetime.fromtimestamp(frozen.frozen_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
        console.print(
            FROZEN_BESIDE(
                lang,
                when=when,
                base=frozen.figures.get("base"),
                version=frozen.rule_version,
                disputes=", ".join(map(str, frozen.open_disputes)) or EMPTY,
            )
        )


@app.command("freeze")
def freeze(period: PeriodOption = None, account: AccountOption = None) -> None:
    """Зафиксировать базу бонуса закрытого периода / freeze a closed period's bonus base."""
    from sync.stats.bonus import freeze_bonus_base

    with _context() as (settings, engine, console), session_scope(engine) as session:
        lang = settings.language
        account_id = _guarded(console, lang, lambda: _resolve_account(session, account, lang))
        tz = rules_context(session=session, account_id=account_id).timezone
        chosen = _guarded(console, lang, lambda: _period(period, tz))
        snapshot, created = _guarded(
            console,
            lang,
            lambda: freeze_bonus_base(
                session=session, account_id=account_id, period=chosen, now=int(time.time()), tz=tz
            ),
        )
        base = snapshot.figures.get("base")
        if created:
            console.print(FROZEN(lang, period=chosen.label, base=base, version=snapshot.rule_version))
        else:
            when = datetime.fromtimestamp(snapshot.frozen_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
            console.print(ALREADY_FROZEN(lang, period=chosen.label, when=when, base=base))


@app.command("push")
def push(
    period: PeriodOption = None,
    account: AccountOption = None,
    leads: Annotated[
        bool,
        typer.Option(
            "--leads/--no-leads", help="Записать также % целевых в лиды / also write % qualified on leads"
        ),
    ] = True,
) -> None:
    """Записать цифры в amoCRM (каталог «Воронка LeadPact») / write the figures into amoCRM."""
    with _context() as (settings, engine, console):
        lang = settings.language
        with session_scope(engine) as session:
            account_id = _guarded(console, lang, lambda: _resolve_account(session, account, lang))
            tz = rules_context(session=session, account_id=account_id).timezone
        chosen = _guarded(console, lang, lambda: _period(period, tz))
        result = asyncio.run(_push(settings, engine, account_id, chosen, lang, leads, console))
        console.print(
            PUSHED(
                lang,
                created=result.elements_created,
                updated=result.elements_updated,
                leads=result.leads_updated,
            )
        )
        if result.lead_field_missing:
            console.print(f"[yellow]{LEAD_FIELD_MISSING(lang)}[/yellow]")


async def _push(
    settings: Settings,
    engine: Engine,
    account_id: int,
    period: Period,
    lang: Language,
    leads: bool,
    console: Console,
) -> Any:
    from integration.accounts import AccountNotConnected
    from integration.bootstrap import build_services
    from sync.stats_push import push_stats

    async with build_services(settings, engine=engine, migrate=False) as services:
        try:
            api = services.connector.api_for(account_id)
        except AccountNotConnected as error:
            raise _fail(console, NOT_CONNECTED(lang, account=account_id, reason=error.status)) from None
        return await push_stats(
            api=api, engine=engine, account_id=account_id, period=period, lang=lang, push_leads=leads
        )


# --- plans and spend ----------------------------------------------------------------------------------------


@plan_app.command("set")
def plan_set(
    period: Annotated[
        str,
        typer.Option(
            "--period", help="2026-11 или 2026-11-01..2026-11-07 / 2026-11 or 2026-11-01..2026-11-07"
        ),
    ],
    leads: Annotated[int | None, typer.Option(help="План лидов / planned leads")] = None,
    qualified: Annotated[
        int | None, typer.Option(help="План целевых лидов / planned qualified leads")
    ] = None,
    deals: Annotated[int | None, typer.Option(help="План выигранных сделок / planned won deals")] = None,
    revenue: Annotated[int | None, typer.Option(help="План выручки / planned revenue")] = None,
    account: AccountOption = None,
) -> None:
    """Задать план периода / set a period's plan."""
    with _context() as (settings, engine, console), session_scope(engine) as session:
        lang = settings.language
        account_id = _guarded(console, lang, lambda: _resolve_account(session, account, lang))
        chosen = _guarded(console, lang, lambda: Period.parse(period))
        figures = {"leads": leads, "qualified": qualified, "deals": deals, "revenue": revenue}
        _guarded(
            console,
            lang,
            lambda: set_plan(session=session, account_id=account_id, period=chosen, figures=figures),
        )
        console.print(PLAN_SAVED(lang, period=chosen.label))


@plan_app.command("show")
def plan_show(
    account: AccountOption = None,
    period: Annotated[
        str | None,
        typer.Option(
            "--period",
            help="Разбить план этого периода по неделям / also break this period's plan into weeks",
        ),
    ] = None,
) -> None:
    """Показать планы (и разбивку по неделям) / list the plans (and a period's weekly breakdown)."""
    with _context() as (settings, engine, console), session_scope(engine) as session:
        lang = settings.language
        account_id = _guarded(console, lang, lambda: _resolve_account(session, account, lang))
        if period is not None:
            chosen = _guarded(console, lang, lambda: Period.parse(period))
            entries = load_plans(session.connection(), account_id=account_id)
            weeks = Table(title=f"{label('plan', lang)} · {chosen.label} · {label('weeks', lang)}")
            for key in ("period", "leads", "qualified", "deals", "revenue"):
                weeks.add_column(label(key, lang), justify="left" if key == "period" else "right")
            for week, figures in weekly_plan(chosen, entries):
                weeks.add_row(week.label, *(_num(getattr(figures, key), 1) for key in PLAN_FIGURES))
            console.print(weeks)
            return
        table = Table(title=label("plan", lang))
        for key in ("period", "leads", "qualified", "deals", "revenue"):
            table.add_column(label(key, lang), justify="left" if key == "period" else "right")
        for plan in storage.list_plans(session=session, account_id=account_id):
            table.add_row(
                Period(plan.period_start, plan.period_end).label,
                *(_num(getattr(plan, key)) for key in ("leads", "qualified", "deals", "revenue")),
            )
        console.print(table)


@spend_app.command("import")
def spend_import(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV с колонками period, channel, amount / CSV with columns period, channel, amount"
        ),
    ],
    account: AccountOption = None,
) -> None:
    """Загрузить расходы из CSV / import spend from a CSV file."""
    with _context() as (settings, engine, console), session_scope(engine) as session:
        lang = settings.language
        try:
            content = file.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as error:
            raise _fail(console, FILE_UNREADABLE(lang, path=file, error=type(error).__name__)) from None
        account_id = _guarded(console, lang, lambda: _resolve_account(session, account, lang))
        rows = _guarded(console, lang, lambda: parse_spend_csv(content))
        channels = known_channels(session=session, account_id=account_id)
        count = _guarded(
            console,
            lang,
            lambda: import_spend(session=session, account_id=account_id, rows=rows, known_channels=channels),
        )
        console.print(SPEND_IMPORTED(lang, count=count))


@spend_app.command("show")
def spend_show(account: AccountOption = None) -> None:
    """Показать расходы / list the spend."""
    with _context() as (settings, engine, console), session_scope(engine) as session:
        lang = settings.language
        account_id = _guarded(console, lang, lambda: _resolve_account(session, account, lang))
        table = Table(title=label("spend", lang))
        for key in ("period", "channel", "spend"):
            table.add_column(label(key, lang), justify="right" if key == "spend" else "left")
        for row in storage.list_spend(session=session, account_id=account_id):
            table.add_row(Period(row.period_start, row.period_end).label, row.channel, _money(row.amount))
        console.print(table)


# --- backfill -------------------------------------------------------------------------------------------------


def _since(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise StatsInputError(BAD_DATE, value=value) from None
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def backfill(
    since: Annotated[
        str | None,
        typer.Option(
            "--since", help="Загрузить лиды, изменённые с 2026-01-31 / load leads updated since 2026-01-31"
        ),
    ] = None,
    account: AccountOption = None,
    restart: Annotated[
        bool,
        typer.Option(
            "--restart",
            help="Не продолжать с места, где остановился прошлый запуск / ignore where the last run stopped",
        ),
    ] = False,
    as_of: AsOfOption = None,
) -> None:
    """Загрузить историю лидов из amoCRM (продолжает после сбоя) / load lead history (resumable)."""
    with _context() as (settings, engine, console):
        lang = settings.language
        with session_scope(engine) as session:
            account_id = _guarded(console, lang, lambda: _resolve_account(session, account, lang))
            tz = rules_context(session=session, account_id=account_id).timezone
        since_ts = _guarded(console, lang, lambda: _since(since))
        moment = _guarded(console, lang, lambda: parse_as_of(as_of, tz))
        classify_at = None if moment is None else datetime.fromtimestamp(moment, UTC)
        result = asyncio.run(
            _backfill(settings, engine, account_id, since_ts, restart, lang, console, classify_at)
        )
        if result.resumed_from is not None:
            when = datetime.fromtimestamp(result.resumed_from, UTC).strftime("%Y-%m-%d %H:%M UTC")
            console.print(BACKFILL_RESUMED(lang, when=when))
        console.print(BACKFILL_DONE(lang, leads=result.leads_done, events=result.events_done))
        if not result.events_api:
            console.print(f"[yellow]{BACKFILL_NO_EVENTS_API(lang)}[/yellow]")


async def _backfill(
    settings: Settings,
    engine: Engine,
    account_id: int,
    since: int | None,
    restart: bool,
    lang: Language,
    console: Console,
    as_of: datetime | None = None,
) -> Any:
    from integration.accounts import AccountNotConnected
    from integration.bootstrap import build_services
    from sync.stats.backfill import BackfillProgress, backfill_account

    async with build_services(settings, engine=engine, migrate=False) as services:
        try:
            api = services.connector.api_for(account_id)
        except AccountNotConnected as error:
            raise _fail(console, NOT_CONNECTED(lang, account=account_id, reason=error.status)) from None
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TextColumn(
                "{task.completed} leads · {task.fields[events]} status changes · {task.fields[cursor]}"
            ),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            task = progress.add_task(BACKFILL_PROGRESS(lang), total=None, events=0, cursor="")

            def report(step: BackfillProgress) -> None:
                cursor = datetime.fromtimestamp(step.cursor_updated_at, UTC).strftime("%Y-%m-%d %H:%M")
                progress.update(task, completed=step.leads_done, events=step.events_done, cursor=cursor)

            return await backfill_account(
                api=api,
                engine=engine,
                account_id=account_id,
                since=since,
                restart=restart,
                on_progress=report,
                as_of=as_of,
                own_client_id=settings.amocrm_client_id,
            )


def register(root: typer.Typer) -> None:
    """Adds `plan`, `spend` and `backfill` to the top-level CLI (`stats` is mounted by the root itself)."""
    root.add_typer(plan_app, name="plan")
    root.add_typer(spend_app, name="spend")
    root.command("backfill")(backfill)
