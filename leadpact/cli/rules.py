"""`leadpact rules …`: check a rule file, propose it, sign it off, activate it, read history, backtest it.

`leadpact rules apply` (re-classifying stored leads through the write-back path) belongs to the worker's CLI.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, NoReturn
from urllib.parse import urlsplit

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from integration.amocrm import AccountApi
from integration.db import open_engine, session_scope
from integration.i18n import Language, Text
from integration.settings import Settings
from integration.storage import accounts as account_store
from integration.storage import rulesets
from integration.storage.accounts import Account
from integration.storage.leads import LeadSnapshot
from integration.storage.rulesets import RulesetError
from leadpact.cli.context import cli_settings
from rules import FieldCatalog, RuleFileError, RuleIssue, check_ruleset, default_rules_text, load_ruleset
from rules.backtest import LOST_STATUS, WON_STATUS, BacktestLead, backtest
from rules.source import MAX_RULE_FILE_BYTES, TOO_LARGE, TOO_LARGE_HINT, with_params
from rules.usage import unmapped_message, unmapped_roles

app = typer.Typer(help="Правила классификации / classification rules", no_args_is_help=True)

MISSING_FILE = Text(ru="укажите файл правил или --account", en="give a rule file or --account")
FILE_OK = Text(ru="{file}: ошибок нет", en="{file}: no issues")
ISSUES_FOUND = Text(ru="найдено проблем: {count}", en="issues found: {count}")
CANNOT_READ = Text(ru="не удалось прочитать {file}: {error}", en="cannot read {file}: {error}")
PROPOSED = Text(
    ru="предложена версия {version}; нужны согласования маркетинга и продаж: leadpact rules approve {version} …",
    en="proposed version {version}; it needs marketing and sales sign-off: leadpact rules approve {version} …",
)
APPROVED = Text(
    ru="версия {version} согласована ({role}: {approver})",
    en="version {version} approved ({role}: {approver})",
)
ACTIVATED = Text(ru="версия {version} активна: {reason}", en="version {version} is active: {reason}")
REJECTED = Text(ru="версия {version} отклонена", en="version {version} rejected")
NO_HISTORY = Text(
    ru="своих версий нет — работает стандартный набор (версия 0)",
    en="no versions yet — the default pack (version 0) is running",
)
HISTORY_LINE = Text(
    ru="v{version} [{status}] предложил {author} {when}: {comment}",
    en="v{version} [{status}] proposed by {author} {when}: {comment}",
)
HISTORY_APPROVAL = Text(
    ru="    согласовал {approver} ({role}) {when}", en="    approved by {approver} ({role}) {when}"
)
HISTORY_ACTIVATION = Text(ru="    активировал {by} {when}", en="    activated by {by} {when}")
EMERGENCY = Text(ru=" — ЭКСТРЕННО, одно согласование", en=" — EMERGENCY, single approval")
NO_CHANGES = Text(ru="различий нет", en="no differences")
BAD_DATE = Text(
    ru="не понимаю дату «{value}», нужен формат 2026-01-31", en="cannot read date '{value}', use 2026-01-31"
)
READING = Text(ru="Проверка сделок", en="Checking leads")
PULLING = Text(ru="Загрузка сделок из amoCRM", en="Pulling leads from amoCRM")

AccountOption = Annotated[
    int, typer.Option("--account", "-a", help="Номер аккаунта amoCRM / amoCRM account id")
]
LangOption = Annotated[
    str | None,
    typer.Option(
        "--lang",
        help="ru | en (по умолчанию — настройка LEADPACT_LANGUAGE) / ru | en (default: LEADPACT_LANGUAGE setting)",
    ),
]


def _language(lang: str | None, settings: Settings | None = None) -> Language:
    if lang in ("ru", "en"):
        return "ru" if lang == "ru" else "en"
    return (settings or Settings()).language


def _fail(message: str) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(code=1)


def _read_rules_file(path: Path, lang: Language) -> str:
    """The file's text, refusing to read more than the size cap (a 10 MB file is an issue, not a hang)."""
    try:
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            raw = handle.read(MAX_RULE_FILE_BYTES + 1)
    except OSError as error:
        _fail(CANNOT_READ(lang, file=str(path), error=error.strerror or type(error).__name__))
    if max(size, len(raw)) > MAX_RULE_FILE_BYTES:
        issue = RuleIssue(
            str(path),
            1,
            1,
            with_params(TOO_LARGE, size=max(size, len(raw)), limit=MAX_RULE_FILE_BYTES),
            TOO_LARGE_HINT,
        )
        _print_issues([issue], lang)
        raise typer.Exit(code=1)
    return raw.decode("utf-8", errors="replace")


def _print_issues(issues: tuple[RuleIssue, ...] | list[RuleIssue], lang: Language) -> None:
    for issue in issues:
        typer.echo(issue.format(lang), err=True)
    typer.echo(ISSUES_FOUND(lang, count=len(issues)), err=True)


def _when(seconds: int | None) -> str:
    if seconds is None:
        return "—"
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _catalog(path: Path | None, language: Language) -> FieldCatalog | None:
    """The account's lead fields from a saved `GET /api/v4/leads/custom_fields` answer (or its item list)."""
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        _fail(CANNOT_READ(language, file=str(path), error=type(error).__name__))
    if isinstance(data, dict):
        data = data.get("_embedded", {}).get("custom_fields", [])
    if not isinstance(data, list):
        _fail(CANNOT_READ(language, file=str(path), error="not a custom field list"))
    return FieldCatalog.from_amocrm([item for item in data if isinstance(item, dict)])


NO_SUCH_ACCOUNT = Text(ru="аккаунт {account} не установлен", en="account {account} is not installed")
ACCOUNT_RULES = Text(ru="действующие правила аккаунта {account}", en="the running rules of account {account}")


def _find_account(session: Session, wanted: str) -> Account | None:
    """An installed account by id, subdomain or host (acme, acme.amocrm.ru, https://acme.amocrm.ru)."""
    host = urlsplit(wanted if "//" in wanted else f"//{wanted}").hostname or wanted
    for account in account_store.list_accounts(session=session):
        account_host = urlsplit(account.base_url).hostname or ""
        if wanted == str(account.id) or host in (account.subdomain, account_host):
            return account
    return None


def _check_on_account(file: Path | None, wanted: str, language: Language) -> None:
    """The file (or the running rules) compiled with the account's field mapping; exit 1 naming each role
    the rules read that has no field mapped."""
    settings = Settings()
    with open_engine(settings.database_url) as engine, session_scope(engine) as session:
        account = _find_account(session, wanted)
        if account is None:
            _fail(NO_SUCH_ACCOUNT(language, account=wanted))
        mapping = rulesets.account_mapping(session=session, account_id=account.id)
        if file is None:
            version = rulesets.active_version(session=session, account_id=account.id)
            text = rulesets.text_of(session=session, account_id=account.id, version=version)
            source = ACCOUNT_RULES(language, account=account.subdomain)
        else:
            text, source = _read_rules_file(file, language), str(file)
    issues = check_ruleset(text, source=source, mapping=mapping)
    if issues:
        _print_issues(issues, language)
        raise typer.Exit(code=1)
    missing = unmapped_roles(load_ruleset(text, source=source, mapping=mapping))
    if missing:
        for use in missing:
            typer.echo(f"{source}: {unmapped_message(use)(language)}", err=True)
        typer.echo(ISSUES_FOUND(language, count=len(missing)), err=True)
        raise typer.Exit(code=1)
    typer.echo(FILE_OK(language, file=source))


@app.command("check")
def check(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="Файл правил (с --account по умолчанию — действующие правила аккаунта) / rule file (default with --account: its running rules)"
        ),
    ] = None,
    fields: Annotated[
        Path | None,
        typer.Option(
            help="JSON ответа GET /api/v4/leads/custom_fields аккаунта — проверить коды и названия полей / JSON of the account's GET /api/v4/leads/custom_fields, to check field codes/names"
        ),
    ] = None,
    account: Annotated[
        str | None,
        typer.Option(
            "--account",
            "-a",
            help="Установленный аккаунт (хост, поддомен или номер): проверить его сопоставление полей / installed account (host, subdomain or id): check its field mapping",
        ),
    ] = None,
    lang: LangOption = None,
) -> None:
    """Проверить файл правил / check a rule file: every issue as file:line:col: message (hint)."""
    language = _language(lang)
    if account is not None:
        _check_on_account(file, account, language)
        return
    if file is None:
        _fail(MISSING_FILE(language))
    catalog = _catalog(fields, language)
    issues = check_ruleset(_read_rules_file(file, language), source=str(file), fields=catalog)
    if issues:
        _print_issues(issues, language)
        raise typer.Exit(code=1)
    typer.echo(FILE_OK(language, file=str(file)))


@app.command("show-default")
def show_default() -> None:
    """Показать стандартный набор правил / print the default rule pack (a starting point for your own)."""
    typer.echo(default_rules_text(), nl=False)


@app.command("propose")
def propose(
    file: Path,
    account: AccountOption,
    author: Annotated[str, typer.Option(help="Кто предлагает / who proposes")],
    comment: Annotated[str, typer.Option(help="Зачем / why")] = "",
    lang: LangOption = None,
) -> None:
    """Предложить черновик / propose a rule file as a draft (it runs only after both sign-offs)."""
    settings = cli_settings()
    language = _language(lang, settings)
    text = _read_rules_file(file, language)
    try:
        with open_engine(settings.database_url) as engine, session_scope(engine) as session:
            version = rulesets.propose(
                session=session, account_id=account, text=text, author=author, comment=comment
            )
    except RuleFileError as error:
        _print_issues([_relabel(issue, str(file)) for issue in error.issues], language)
        raise typer.Exit(code=1) from None
    typer.echo(PROPOSED(language, version=version))


def _relabel(issue: RuleIssue, source: str) -> RuleIssue:
    return RuleIssue(source, issue.line, issue.column, issue.message, issue.hint)


def cli_actor() -> str:
    """Who runs this command: the operating-system user, whatever `--approver` name they sign under."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (
        KeyError,
        OSError,
    ):  # no user name in this environment: the process's uid still tells people apart
        import os

        return f"cli:uid-{os.getuid()}"


@app.command("approve")
def approve(
    version: int,
    account: AccountOption,
    approver: Annotated[str, typer.Option(help="Кто согласует / who signs off")],
    role: Annotated[str, typer.Option(help="marketing | sales")],
    lang: LangOption = None,
) -> None:
    """Согласовать версию / sign a draft off for marketing or sales."""
    settings = cli_settings()
    language = _language(lang, settings)
    try:
        with open_engine(settings.database_url) as engine, session_scope(engine) as session:
            rulesets.approve(
                session=session,
                account_id=account,
                version=version,
                approver=approver,
                role=role,
                actor=cli_actor(),
            )
    except RulesetError as error:
        _fail(error.text(language))
    typer.echo(APPROVED(language, version=version, role=role, approver=approver))


@app.command("activate")
def activate(
    version: int,
    account: AccountOption,
    by: Annotated[str, typer.Option(help="Кто включает / who activates")],
    emergency: Annotated[
        bool, typer.Option(help="Одна подпись; отмечается в истории / single approver; marked in history")
    ] = False,
    lang: LangOption = None,
) -> None:
    """Активировать версию / make a signed-off draft the running rules and queue open leads to re-classify."""
    from leadpact.admin.service import queue_reclassification, unmapped_running_version

    settings = cli_settings()
    language = _language(lang, settings)
    try:
        with open_engine(settings.database_url) as engine, session_scope(engine) as session:
            # As on /admin: closed leads judged by rules that read an unmapped field get their first real verdict.
            replaced = unmapped_running_version(session=session, account_id=account)
            verdict = rulesets.activate(
                session=session, account_id=account, version=version, by=by, emergency=emergency
            )
            queued = queue_reclassification(session=session, account_id=account, unmapped_version=replaced)
    except RulesetError as error:
        _fail(error.text(language))
    except RuleFileError as error:
        _print_issues(error.issues, language)
        raise typer.Exit(code=1) from None
    typer.echo(ACTIVATED(language, version=version, reason=verdict.reason(language)))
    typer.echo(APPLIED(language, count=queued))


@app.command("reject")
def reject(version: int, account: AccountOption, lang: LangOption = None) -> None:
    """Отклонить черновик / withdraw a draft."""
    settings = cli_settings()
    language = _language(lang, settings)
    try:
        with open_engine(settings.database_url) as engine, session_scope(engine) as session:
            rulesets.reject(session=session, account_id=account, version=version)
    except RulesetError as error:
        _fail(error.text(language))
    typer.echo(REJECTED(language, version=version))


APPLIED = Text(
    ru="В очередь на переоценку по действующим правилам поставлено сделок: {count} (открытые и закрытые, которые "
    "оценивались без сопоставленного поля). Их пересчитает воркер (`leadpact serve` или `leadpact worker`) и "
    "запишет в amoCRM только изменившиеся значения.",
    en="Queued {count} leads for re-classification under the active rules (open ones, and closed ones judged while "
    "a field was unmapped). The worker (`leadpact serve` or `leadpact worker`) re-evaluates them and writes only "
    "changed values back to amoCRM.",
)


@app.command("apply")
def apply(account: AccountOption, lang: LangOption = None) -> None:
    """Переоценить открытые сделки по действующим правилам / re-classify open leads under the active rules."""
    from leadpact.admin.service import queue_reclassification

    settings = cli_settings()
    language = _language(lang, settings)
    with open_engine(settings.database_url, migrate=True) as engine, session_scope(engine) as session:
        count = queue_reclassification(session=session, account_id=account)
    typer.echo(APPLIED(language, count=count))


@app.command("history")
def history(
    account: AccountOption,
    show_diff: Annotated[
        bool, typer.Option("--diff", help="Показать разницу каждой версии / print each version's diff")
    ] = False,
    lang: LangOption = None,
) -> None:
    """История версий / every version with who proposed, approved and activated it."""
    settings = cli_settings()
    language = _language(lang, settings)
    with open_engine(settings.database_url) as engine, session_scope(engine) as session:
        entries = rulesets.history(session=session, account_id=account)
    if not entries:
        typer.echo(NO_HISTORY(language))
        return
    for entry in entries:
        typer.echo(
            HISTORY_LINE(
                language,
                version=entry.version,
                status=entry.status,
                author=entry.proposed_by,
                when=_when(entry.proposed_at),
                comment=entry.comment or "—",
            )
        )
        for approval in entry.approvals:
            typer.echo(
                HISTORY_APPROVAL(
                    language, approver=approval.approver, role=approval.role, when=_when(approval.at)
                )
            )
        if entry.activated_at is not None:
            line = HISTORY_ACTIVATION(language, by=entry.activated_by or "—", when=_when(entry.activated_at))
            typer.echo(line + (EMERGENCY(language) if entry.emergency else ""))
        if show_diff and entry.diff:
            typer.echo(entry.diff)


@app.command("diff")
def diff(old: int, new: int, account: AccountOption, lang: LangOption = None) -> None:
    """Разница между версиями / unified diff between two versions (0 is the default pack)."""
    settings = cli_settings()
    language = _language(lang, settings)
    try:
        with open_engine(settings.database_url) as engine, session_scope(engine) as session:
            text = rulesets.diff(session=session, account_id=account, old=old, new=new)
    except RulesetError as error:
        _fail(error.text(language))
    typer.echo(text or NO_CHANGES(language), nl=not text)


def _since_seconds(since: str | None, language: Language) -> int | None:
    if since is None:
        return None
    try:
        day = datetime.fromisoformat(since.strip())
    except ValueError:
        _fail(BAD_DATE(language, value=since))
    moment = day if day.tzinfo is not None else day.replace(tzinfo=UTC)
    return int(moment.timestamp())


def stored_backtest_leads(
    engine: Engine, account: int, since: int | None
) -> tuple[int, Iterator[BacktestLead]]:
    """How many snapshots match, and a stream of them read in chunks (millions fit in memory)."""
    conditions = [LeadSnapshot.account_id == account, LeadSnapshot.is_deleted == False]  # noqa: E712
    if since is not None:
        conditions.append(LeadSnapshot.created_at >= since)
    with session_scope(engine) as session:
        total = int(session.exec(select(func.count()).select_from(LeadSnapshot).where(*conditions)).one())

    def stream() -> Iterator[BacktestLead]:
        with session_scope(engine) as session:
            query = (
                select(LeadSnapshot.data, LeadSnapshot.status_id)
                .where(*conditions)
                .execution_options(yield_per=2000)
            )
            for data, status_id in session.exec(query):
                won = True if status_id == WON_STATUS else False if status_id == LOST_STATUS else None
                yield BacktestLead(lead=data, won=won)

    return total, stream()


async def pull_backtest_leads(
    api: AccountApi, *, since: int | None = None, progress: Callable[[int], None] | None = None
) -> list[BacktestLead]:
    """The account's leads straight from amoCRM (paged, through the client's rate limiter).

    Contacts are not fetched, so rules on `has_phone`/`has_email` see them as absent in this mode.
    """
    params = [("filter[created_at][from]", since)] if since is not None else None
    leads: list[BacktestLead] = []
    async for lead in api.iter_leads(params=params):
        leads.append(BacktestLead.from_lead(lead.model_dump(mode="json", by_alias=True)))
        if progress is not None:
            progress(1)
    return leads


def _pulled_leads(
    settings: Settings, account: int, since: int | None, language: Language
) -> list[BacktestLead]:
    from integration.bootstrap import build_services

    async def run() -> list[BacktestLead]:
        async with build_services(settings, migrate=False) as services:
            api = services.connector.api_for(account)
            columns = (TextColumn("{task.description}"), MofNCompleteColumn())
            with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
                task = progress.add_task(PULLING(language), total=None)
                return await pull_backtest_leads(
                    api, since=since, progress=lambda done: progress.advance(task, done)
                )

    return asyncio.run(run())


@app.command("backtest")
def backtest_command(
    file: Path,
    account: AccountOption,
    since: Annotated[
        str | None,
        typer.Option(
            help="Только лиды, созданные с этой даты (2026-01-31) / only leads created from this date (2026-01-31)"
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Вывод для программ (JSON) / machine-readable output")
    ] = False,
    sample: Annotated[
        int, typer.Option(help="Сколько изменившихся лидов показать / how many changed leads to show")
    ] = 10,
    from_amocrm: Annotated[
        bool,
        typer.Option(
            "--from-amocrm",
            help="Взять лиды из amoCRM (с учётом лимитов), а не из базы / pull the leads from amoCRM (rate-limited) instead of storage",
        ),
    ] = False,
    lang: LangOption = None,
) -> None:
    """Бэктест / how a candidate rule file would reclassify the stored leads, compared to the active rules."""
    settings = cli_settings()
    language = _language(lang, settings)
    text = _read_rules_file(file, language)
    with open_engine(settings.database_url) as engine:
        with session_scope(engine) as session:
            _, active = rulesets.active_ruleset(session=session, account_id=account)
        try:
            # The candidate reads the account's fields through the same mapping as the running rules.
            candidate = load_ruleset(text, source=str(file), mapping=active.mapping)
        except RuleFileError as error:
            _print_issues(error.issues, language)
            raise typer.Exit(code=1) from None
        since_seconds = _since_seconds(since, language)
        if from_amocrm:
            pulled = _pulled_leads(settings, account, since_seconds, language)
            total, leads = len(pulled), iter(pulled)
        else:
            total, leads = stored_backtest_leads(engine, account, since_seconds)
        now = datetime.now(UTC)
        if as_json:
            report = backtest(candidate, active, leads, now, sample_size=sample)
        else:
            columns = (
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
            )
            with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
                task = progress.add_task(READING(language), total=total)
                report = backtest(
                    candidate,
                    active,
                    leads,
                    now,
                    sample_size=sample,
                    progress=lambda done: progress.advance(task, done),
                )
    if as_json:
        typer.echo(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    else:
        typer.echo(report.summary(language))
