"""The `/admin` pages: sign-in through amoCRM, overview, rule editor and sign-off, promos, plans and spend,
the webhook inbox. Routes are thin: read the form, call the area's own functions, render a template."""

from __future__ import annotations

import time
from functools import partial
from typing import Any

import anyio
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from integration.accounts import AccountNotConnected
from integration.amocrm import AmoError
from integration.db import session_scope
from integration.i18n import Language
from integration.install_status import install_report
from integration.storage import accounts as account_store
from integration.storage import inbox as inbox_store
from integration.storage import install_health as health_store
from integration.storage import promos as promo_store
from integration.storage import rulesets as ruleset_store
from integration.storage import stats as stats_store
from integration.users import refresh_users
from leadpact.admin import texts
from leadpact.admin.service import (
    backtest_preview,
    inbox_health,
    lead_names,
    queue_reclassification,
    unmapped_running_version,
)
from leadpact.admin.session import (
    SESSION_COOKIE,
    SESSION_SECONDS,
    encode_session,
    new_session,
)
from leadpact.admin.sign_in import signed_in_admin
from leadpact.admin.web import (
    AccountAdminDep,
    AdminDenied,
    AdminDep,
    AdminRoute,
    FormDep,
    admin_key,
    language,
    local_path,
    render,
    services_of,
    with_lang,
)
from rules import RuleFileError, check_ruleset, load_ruleset
from sync.promos.importing import parse_promo_file
from sync.promos.service import import_promos
from sync.stats import plans as stats_plans
from sync.stats.periods import Period, StatsInputError
from webhooks.worker import requeue_with_reparse

router = APIRouter(prefix="/admin", route_class=AdminRoute, tags=["admin"])

ROLES = ("marketing", "sales")


def _approver(user_id: int) -> str:
    return f"amo-user-{user_id}"


# --- sign-in -------------------------------------------------------------------------------------------------


@router.get("/login")
def login(request: Request, token: str = "", ticket: str = "", next: str = "/admin") -> Response:
    """Signs an amoCRM account admin or a named head in with a one-time link from the widget (`ticket`) or
    amoCRM's own widget token; each works once. Anyone else gets 401/403."""
    services = services_of(request)
    settings = services.settings
    now = int(time.time())
    account_id, user_id, is_admin = signed_in_admin(services, token=token, ticket=ticket, now=now)
    admin = new_session(account_id=account_id, user_id=user_id, now=now, is_admin=is_admin)
    # Pages name people from the cached user list: read it now if it is stale (at most once per period).
    anyio.from_thread.run(
        partial(
            refresh_users,
            engine=services.engine,
            connector=services.connector,
            account_id=account_id,
            max_age=settings.users_refresh_seconds,
        )
    )
    response = RedirectResponse(with_lang(local_path(next, "/admin"), request), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        encode_session(admin, admin_key(request)),
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/logout")
def logout(request: Request, form: FormDep) -> Response:
    response = RedirectResponse(with_lang("/admin", request), status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# --- overview ------------------------------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
def overview(request: Request, admin: AdminDep) -> Response:
    """The account's connection, running rules and inbox health at a glance."""
    services = services_of(request)
    with session_scope(services.engine) as session:
        account = account_store.get_account(session=session, account_id=admin.account_id)
        health = inbox_health(session=session, account_id=admin.account_id)
        version = ruleset_store.active_version(session=session, account_id=admin.account_id)
        status = account.status if account is not None else account_store.AccountStatus.REMOVED
        missing = ruleset_store.missing_roles(session=session, account_id=admin.account_id)
        install = (
            install_report(
                account,
                health_store.get_health(session=session, account_id=admin.account_id),
                lang=language(request),
                polling_interval_seconds=services.settings.polling_interval_seconds,
            )
            if account is not None
            else None
        )
    lang = language(request)
    unmapped = (
        texts.UNMAPPED_WARNING(lang, roles=", ".join(use.label(lang) for use in missing)) if missing else None
    )
    return render(
        request,
        "overview.html",
        {
            "status": status,
            "health": health,
            "version": version,
            "lag": f"{health.lag_seconds:.0f}",
            "unmapped": unmapped,
            "install": install,
        },
        session=admin,
    )


# --- rules ---------------------------------------------------------------------------------------------------


def _form_text(form: Any) -> str:
    # Browsers send a textarea's line breaks as CRLF; stored rule files use LF so diffs show real changes.
    return str(form.get("text", "")).replace("\r\n", "\n")


def _base_version(form: Any) -> int:
    """The version whose text the editor started from (only shown back, so junk simply reads as 0)."""
    value = str(form.get("base", "0")).strip()
    return int(value) if value.isdigit() else 0


def _issues(text: str, lang: Language, account_id: int) -> list[dict[str, Any]]:
    return [
        {
            "line": issue.line,
            "column": issue.column,
            "where": texts.ISSUE_AT(lang, line=issue.line, column=issue.column),
            "message": issue.message(lang),
            "hint": issue.hint(lang),
        }
        for issue in check_ruleset(text, source=f"account {account_id} draft")
    ]


def _numbered(text: str, issues: list[dict[str, Any]]) -> list[dict[str, Any]]:
    bad = {issue["line"] for issue in issues}
    return [
        {"number": number, "text": line, "bad": number in bad}
        for number, line in enumerate(text.splitlines(), start=1)
    ]


def _drafts(session: Any, account_id: int) -> list[ruleset_store.VersionInfo]:
    return [
        info
        for info in ruleset_store.history(session=session, account_id=account_id)
        if info.status == ruleset_store.RuleStatus.DRAFT
    ]


@router.get("/rules", response_class=HTMLResponse)
def rules_editor(
    request: Request, admin: AdminDep, version: int | None = None, criterion: str | None = None
) -> Response:
    """The rule file to edit: the running one, or a given version's text; `criterion` (from a dispute answered
    "the rule needs a change") opens the draft at that criterion's section."""
    services = services_of(request)
    with session_scope(services.engine) as session:
        active = ruleset_store.active_version(session=session, account_id=admin.account_id)
        base = active if version is None else version
        try:
            text = ruleset_store.text_of(session=session, account_id=admin.account_id, version=base)
        except ruleset_store.RulesetError:
            raise AdminDenied(404, texts.NOT_FOUND, texts.NOT_FOUND) from None
        drafts = _drafts(session, admin.account_id)
    focus = _criterion_line(text, criterion)
    return render(
        request,
        "rules.html",
        {
            "text": text,
            "base": base,
            "active": active,
            "drafts": drafts,
            "checked": False,
            "criterion": criterion if focus else None,
            "criterion_line": focus,
        },
        session=admin,
    )


# Where each disputable criterion is defined in a rule file.
CRITERION_SECTIONS = {"channel": "channels:", "level": "levels:", "qualified": "qualified:"}


def _criterion_line(text: str, criterion: str | None) -> int | None:
    """The line (1-based) of the section that defines `criterion`, or None."""
    section = CRITERION_SECTIONS.get(criterion or "")
    if section is None:
        return None
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith(section):
            return number
    return None


@router.post("/rules/check", response_class=HTMLResponse)
def rules_check(request: Request, admin: AdminDep, form: FormDep) -> Response:
    """Validation with line/column, and when valid a backtest preview against the running rules."""
    return _checked_view(request, admin, _form_text(form), _base_version(form))


def _checked_view(
    request: Request,
    admin: Any,
    text: str,
    base: int,
    *,
    form_diff: str | None = None,
    mapping: Any = None,
    mapping_error: str | None = None,
) -> Response:
    """The checked file with its preview; `mapping` (role → field) replaces the running one in the preview
    and goes with the proposal."""
    lang = language(request)
    issues = _issues(text, lang, admin.account_id)
    services = services_of(request)
    preview = plain = None
    samples: list[dict[str, Any]] = []
    with session_scope(services.engine) as session:
        active = ruleset_store.active_version(session=session, account_id=admin.account_id)
        if not issues:
            running_mapping = ruleset_store.account_mapping(session=session, account_id=admin.account_id)
            candidate = load_ruleset(
                text, source="candidate", mapping=mapping if mapping is not None else running_mapping
            )
            report = backtest_preview(session=session, account_id=admin.account_id, candidate=candidate)
            preview = report.summary(lang)
            shown = [*report.became_examples, *report.stopped_examples, *(s.lead_id for s in report.samples)]
            names = lead_names(
                session=session,
                account_id=admin.account_id,
                lead_ids=[int(lead_id) for lead_id in shown if isinstance(lead_id, int)],
            )
            plain = report.plain(lang, names)
            samples = [
                {
                    "id": sample.lead_id,
                    "name": names.get(sample.lead_id, ""),
                    "before": sample.before,
                    "after": sample.after,
                    "reason": sample.reason_after.get(lang, ""),
                }
                for sample in report.samples
            ]
        drafts = _drafts(session, admin.account_id)
    return render(
        request,
        "rules.html",
        {
            "text": text,
            "base": base,
            "active": active,
            "drafts": drafts,
            "checked": True,
            "issues": issues,
            "lines": _numbered(text, issues),
            "preview": preview,
            "plain": plain,
            "samples": samples,
            "form_diff": form_diff,
            "mapping_error": mapping_error,
            "chosen_roles": {role: field.id for role, field in mapping.items()}
            if mapping is not None
            else None,
        },
        status_code=422 if issues or mapping_error else 200,
        session=admin,
    )


def _proposed_mapping(session: Any, account_id: int, form: Any, lang: Language) -> Any:
    """The mapping the form editor chose, carried by the preview's propose form (None: keep the running one)."""
    from leadpact.admin.mapping import chosen_fields, mapping_of_choice

    if form.get("roles_sent") is None:
        return None
    mapping = mapping_of_choice(session, account_id, chosen_fields(form), lang)
    # A field deleted in amoCRM since the preview: propose the text alone rather than a broken mapping.
    return None if isinstance(mapping, str) else mapping


@router.post("/rules/propose", response_class=HTMLResponse)
async def rules_propose(request: Request, admin: AdminDep, form: FormDep) -> Response:
    """Stores a valid file as a draft for sign-off; a file with errors is shown again and never stored."""
    lang = language(request)
    text = _form_text(form)
    services = services_of(request)
    try:
        with session_scope(services.engine) as session:
            mapping = _proposed_mapping(session, admin.account_id, form, lang)
            version = ruleset_store.propose(
                session=session,
                account_id=admin.account_id,
                text=text,
                author=_approver(admin.user_id),
                comment=str(form.get("comment", ""))[:500],
                mapping=mapping,
            )
    except RuleFileError:
        issues = _issues(text, lang, admin.account_id)
        with session_scope(services.engine) as session:
            active = ruleset_store.active_version(session=session, account_id=admin.account_id)
            drafts = _drafts(session, admin.account_id)
        return render(
            request,
            "rules.html",
            {
                "text": text,
                "base": _base_version(form),
                "active": active,
                "drafts": drafts,
                "checked": True,
                "issues": issues,
                "lines": _numbered(text, issues),
                "preview": None,
            },
            status_code=422,
            session=admin,
        )
    notice = await _notify_signers(request, admin.account_id, version)
    return RedirectResponse(
        with_lang(f"/admin/rules/versions/{version}", request, notice=notice), status_code=303
    )


async def _notify_signers(request: Request, account_id: int, version: int) -> str | None:
    """A task in amoCRM for each person who signs for a department, linking to the version's diff page."""
    from leadpact.admin.signoff import signoff_tasks

    services = services_of(request)
    with session_scope(services.engine) as session:
        chosen = ruleset_store.signers(session=session, account_id=account_id)
    tasks = signoff_tasks(
        chosen,
        version=version,
        public_url=services.settings.public_url,
        now=int(time.time()),
        lang=services.settings.language,
    )
    if not tasks:
        return None
    try:
        await services.connector.api_for(account_id).create_tasks(tasks)
    except (AmoError, AccountNotConnected):
        return "heads-not-notified"
    return "heads-notified"


def _version_info(session: Any, account_id: int, version: int) -> ruleset_store.VersionInfo:
    for info in ruleset_store.history(session=session, account_id=account_id):
        if info.version == version:
            return info
    raise AdminDenied(404, texts.NOT_FOUND, texts.NOT_FOUND)


@router.get("/rules/versions/{version}", response_class=HTMLResponse)
def rules_version(
    request: Request,
    admin: AdminDep,
    version: int,
    notice: str | None = None,
    queued: int | None = None,
) -> Response:
    """One version: its text, diff against the version it was based on, sign-offs and activation."""
    services = services_of(request)
    lang = language(request)
    with session_scope(services.engine) as session:
        info = _version_info(session, admin.account_id, version)
        text = ruleset_store.text_of(session=session, account_id=admin.account_id, version=version)
    message = None
    if notice == "activated":
        message = texts.ACTIVATED(lang, version=version, queued=queued or 0)
    elif notice == "approved":
        message = texts.APPROVED(lang)
    elif notice == "heads-notified":
        with session_scope(services.engine) as session:
            chosen = ruleset_store.signers(session=session, account_id=admin.account_id)
        names = ", ".join(sorted({name for people in chosen.values() for name in people.values()}))
        message = texts.HEADS_NOTIFIED(lang, names=names)
    elif notice == "heads-not-notified":
        message = texts.HEADS_NOT_NOTIFIED(lang)
    return render(
        request,
        "version.html",
        {"info": info, "text": text, "message": message, "error": None, "status_names": texts.STATUS_NAMES},
        session=admin,
    )


@router.post("/rules/versions/{version}/approve", response_class=HTMLResponse)
def rules_approve(request: Request, admin: AdminDep, form: FormDep, version: int) -> Response:
    role = str(form.get("role", ""))
    services = services_of(request)
    try:
        with session_scope(services.engine) as session:
            ruleset_store.approve(
                session=session,
                account_id=admin.account_id,
                version=version,
                approver=_approver(admin.user_id),
                role=role,
                actor=_approver(admin.user_id),
                user_id=admin.user_id,
            )
    except ruleset_store.RulesetError as error:
        return _version_error(request, admin, version, error)
    return RedirectResponse(
        with_lang(f"/admin/rules/versions/{version}", request, notice="approved"), status_code=303
    )


@router.post("/rules/versions/{version}/activate", response_class=HTMLResponse)
def rules_activate(request: Request, admin: AdminDep, form: FormDep, version: int) -> Response:
    """Activates a signed-off draft (or, explicitly, in an emergency) and queues open leads to re-classify."""
    services = services_of(request)
    try:
        with session_scope(services.engine) as session:
            replaced = unmapped_running_version(session=session, account_id=admin.account_id)
            ruleset_store.activate(
                session=session,
                account_id=admin.account_id,
                version=version,
                by=_approver(admin.user_id),
                emergency=form.get("emergency") == "yes",
            )
            queued = queue_reclassification(
                session=session, account_id=admin.account_id, unmapped_version=replaced
            )
    except (ruleset_store.RulesetError, RuleFileError) as error:
        return _version_error(request, admin, version, error)
    return RedirectResponse(
        with_lang(f"/admin/rules/versions/{version}", request, notice="activated", queued=queued),
        status_code=303,
    )


def _version_error(request: Request, admin: Any, version: int, error: Exception) -> Response:
    lang = language(request)
    services = services_of(request)
    with session_scope(services.engine) as session:
        info = _version_info(session, admin.account_id, version)
        text = ruleset_store.text_of(session=session, account_id=admin.account_id, version=version)
    if isinstance(error, ruleset_store.RulesetError):
        message = error.text(lang)
    elif isinstance(error, RuleFileError):
        message = "; ".join(issue.format(lang) for issue in error.issues)
    else:
        message = str(error)
    return render(
        request,
        "version.html",
        {"info": info, "text": text, "message": None, "error": message, "status_names": texts.STATUS_NAMES},
        status_code=409,
        session=admin,
    )


@router.get("/rules/history", response_class=HTMLResponse)
def rules_history(request: Request, admin: AdminDep) -> Response:
    services = services_of(request)
    with session_scope(services.engine) as session:
        versions = ruleset_store.history(session=session, account_id=admin.account_id)
    return render(
        request, "history.html", {"versions": versions, "status_names": texts.STATUS_NAMES}, session=admin
    )


@router.get("/rules/diff", response_class=HTMLResponse)
def rules_diff(request: Request, admin: AdminDep, old: int = Query(ge=0), new: int = Query(ge=0)) -> Response:
    services = services_of(request)
    try:
        with session_scope(services.engine) as session:
            diff = ruleset_store.diff(session=session, account_id=admin.account_id, old=old, new=new)
    except ruleset_store.RulesetError:
        raise AdminDenied(404, texts.NOT_FOUND, texts.NOT_FOUND) from None
    return render(request, "diff.html", {"old": old, "new": new, "diff": diff}, session=admin)


# --- promos --------------------------------------------------------------------------------------------------


def _promos_page(request: Request, admin: Any, **extra: Any) -> Response:
    services = services_of(request)
    with session_scope(services.engine) as session:
        promos = promo_store.list_promos(session=session, account_id=admin.account_id)
        pools = promo_store.pool_stats(session=session, account_id=admin.account_id)
    status_code = extra.pop("status_code", 200)
    return render(
        request,
        "promos.html",
        {"promos": promos, "pools": pools, "errors": [], "message": None, **extra},
        status_code=status_code,
        session=admin,
    )


@router.get("/promos", response_class=HTMLResponse)
def promos(request: Request, admin: AdminDep) -> Response:
    return _promos_page(request, admin)


@router.post("/promos/import", response_class=HTMLResponse)
def promos_import(request: Request, admin: AdminDep, form: FormDep) -> Response:
    """Imports a CSV or YAML promo file pasted into the form: all of it, or nothing with every problem listed."""
    lang = language(request)
    kind = "yaml" if form.get("format") == "yaml" else "csv"
    parsed = parse_promo_file(str(form.get("content", "")).encode(), filename=f"upload.{kind}")
    services = services_of(request)
    with session_scope(services.engine) as session:
        outcome = import_promos(
            session=session, account_id=admin.account_id, promo_file=parsed, now=int(time.time())
        )
    if outcome.errors:
        return _promos_page(
            request, admin, errors=[error.render(lang) for error in outcome.errors], status_code=422
        )
    return _promos_page(
        request, admin, message=texts.IMPORTED(lang, promos=outcome.promos_saved, codes=outcome.coupons_added)
    )


# --- plans and spend -----------------------------------------------------------------------------------------


def _plans_page(request: Request, admin: Any, **extra: Any) -> Response:
    services = services_of(request)
    with session_scope(services.engine) as session:
        plans = stats_store.list_plans(session=session, account_id=admin.account_id)
        spend = stats_store.list_spend(session=session, account_id=admin.account_id)
    status_code = extra.pop("status_code", 200)
    return render(
        request,
        "plans.html",
        {"plans": plans, "spend": spend, "error": None, "message": None, **extra},
        status_code=status_code,
        session=admin,
    )


@router.get("/plans", response_class=HTMLResponse)
def plans(request: Request, admin: AdminDep) -> Response:
    return _plans_page(request, admin)


def _figure(form: Any, name: str) -> int | None:
    value = str(form.get(name, "")).strip().replace(" ", "")
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise StatsInputError(texts.NOT_A_NUMBER, name=name, value=value) from None


@router.post("/plans/plan", response_class=HTMLResponse)
def plans_set(request: Request, admin: AdminDep, form: FormDep) -> Response:
    lang = language(request)
    services = services_of(request)
    try:
        period = Period.parse(str(form.get("period", "")))
        figures = {name: _figure(form, name) for name in stats_plans.PLAN_FIGURES}
        with session_scope(services.engine) as session:
            stats_plans.set_plan(session=session, account_id=admin.account_id, period=period, figures=figures)
    except StatsInputError as error:
        return _plans_page(request, admin, error=error.message(lang), status_code=422)
    return _plans_page(request, admin, message=texts.SAVED(lang))


@router.post("/plans/spend", response_class=HTMLResponse)
def plans_spend(request: Request, admin: AdminDep, form: FormDep) -> Response:
    lang = language(request)
    services = services_of(request)
    try:
        rows = stats_plans.parse_spend_csv(str(form.get("content", "")))
        with session_scope(services.engine) as session:
            channels = stats_plans.known_channels(session=session, account_id=admin.account_id)
            stats_plans.import_spend(
                session=session, account_id=admin.account_id, rows=rows, known_channels=channels
            )
    except StatsInputError as error:
        return _plans_page(request, admin, error=error.message(lang), status_code=422)
    return _plans_page(request, admin, message=texts.SAVED(lang))


# --- inbox ---------------------------------------------------------------------------------------------------


@router.get("/inbox", response_class=HTMLResponse)
def inbox(request: Request, admin: AccountAdminDep, retried: int | None = None) -> Response:
    """Depth and lag of the account's webhook inbox, and its failed deliveries with a retry button."""
    lang = language(request)
    services = services_of(request)
    with session_scope(services.engine) as session:
        health = inbox_health(session=session, account_id=admin.account_id)
        problems = [
            {
                "id": item.id,
                "status": item.status,
                "received": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(item.received_at)),
                "attempts": item.attempts,
                "error": (item.last_error or "")[:300],
            }
            for item in inbox_store.problem_items(session=session, account_id=admin.account_id, limit=100)
        ]
        salvaged = [
            {
                "id": item.id,
                "received": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(item.received_at)),
                "outcome": texts.SALVAGED_ITEM(lang, count=item.unreadable_count),
            }
            for item in inbox_store.salvaged_items(session=session, account_id=admin.account_id, limit=20)
        ]
    return render(
        request,
        "inbox.html",
        {
            "health": health,
            "lag": f"{health.lag_seconds:.0f}",
            "problems": problems,
            "salvaged": salvaged,
            "message": texts.RETRIED(lang, item=retried) if retried is not None else None,
        },
        session=admin,
    )


@router.post("/inbox/{item_id}/retry")
def inbox_retry(request: Request, admin: AccountAdminDep, form: FormDep, item_id: int) -> Response:
    services = services_of(request)
    with session_scope(services.engine) as session:
        item = session.get(inbox_store.InboxItem, item_id)
        if item is None or item.account_id != admin.account_id:
            raise AdminDenied(404, texts.NOT_FOUND, texts.NOT_FOUND)
        requeue_with_reparse(session=session, item_id=item_id)
    return RedirectResponse(with_lang("/admin/inbox", request, retried=item_id), status_code=303)


# --- who signs off -------------------------------------------------------------------------------------------


async def _account_users(request: Request, account_id: int) -> list[Any] | None:
    services = services_of(request)
    try:
        return list(await services.connector.api_for(account_id).list_users())
    except (AmoError, AccountNotConnected):
        return None


@router.get("/rules/signers", response_class=HTMLResponse)
async def signers_page(request: Request, admin: AccountAdminDep, notice: str | None = None) -> Response:
    """The account's amoCRM users by name, ticked for the department they sign rule versions off for."""
    lang = language(request)
    users = await _account_users(request, admin.account_id)
    with session_scope(services_of(request).engine) as session:
        chosen = ruleset_store.signers(session=session, account_id=admin.account_id)
    return render(
        request,
        "signers.html",
        {
            "users": sorted(users or [], key=lambda user: str(user.name or "")),
            "chosen": chosen,
            "message": texts.SIGNERS_SAVED(lang) if notice == "saved" else None,
            "error": texts.SIGNERS_USERS_FAILED(lang) if users is None else None,
        },
        session=admin,
    )


@router.post("/rules/signers", response_class=HTMLResponse)
async def signers_save(request: Request, admin: AccountAdminDep, form: FormDep) -> Response:
    """Saves who signs for each department; one person ticked for both is refused and nothing is saved."""
    lang = language(request)
    users = await _account_users(request, admin.account_id)
    names = {int(user.id): str(user.name or user.id) for user in users or []}
    picked = {
        role: {int(v): names[int(v)] for v in form.getlist(role) if str(v).isdigit() and int(v) in names}  # type: ignore[attr-defined]
        for role in ("marketing", "sales")
    }
    both = set(picked["marketing"]) & set(picked["sales"])
    if users is None or both:
        error = (
            texts.SIGNERS_USERS_FAILED(lang)
            if users is None
            else texts.SIGNERS_BOTH(lang, name=names[min(both)])
        )
        return render(
            request,
            "signers.html",
            {
                "users": sorted(users or [], key=lambda user: str(user.name or "")),
                "chosen": picked,
                "message": None,
                "error": error,
            },
            status_code=422,
            session=admin,
        )
    with session_scope(services_of(request).engine) as session:
        for role, people in picked.items():
            ruleset_store.set_signers(session=session, account_id=admin.account_id, role=role, users=people)
    return RedirectResponse(with_lang("/admin/rules/signers", request, notice="saved"), status_code=303)


# --- disputes ------------------------------------------------------------------------------------------------


@router.get("/disputes", response_class=HTMLResponse)
def disputes_page(request: Request, admin: AdminDep) -> Response:
    """Reps' open disputes: the lead, the disputed criterion and the rep's words, with the owner's two answers."""
    services = services_of(request)
    with session_scope(services.engine) as session:
        disputes = promo_store.open_disputes(session=session, account_id=admin.account_id)
        names = lead_names(
            session=session, account_id=admin.account_id, lead_ids=[d.lead_id for d in disputes]
        )
    return render(request, "disputes.html", {"disputes": disputes, "names": names}, session=admin)


@router.post("/disputes/{dispute_id}/answer", response_class=HTMLResponse)
def dispute_answer(request: Request, admin: AdminDep, form: FormDep, dispute_id: int) -> Response:
    """ "The rule is right" closes the dispute; "the rule needs a change" also opens a draft at its criterion."""
    answer = str(form.get("answer", ""))
    if answer not in ("rule_right", "rule_change"):
        raise AdminDenied(400, texts.NOT_FOUND, texts.NOT_FOUND)
    with session_scope(services_of(request).engine) as session:
        dispute = promo_store.answer_dispute(
            session=session,
            account_id=admin.account_id,
            dispute_id=dispute_id,
            answer=answer,
            by=_approver(admin.user_id),
            now=int(time.time()),
        )
        criterion = dispute.criterion or "level" if dispute is not None else None
    if dispute is None:
        raise AdminDenied(404, texts.NOT_FOUND, texts.NOT_FOUND)
    if answer == "rule_change":
        return RedirectResponse(with_lang("/admin/rules", request, criterion=criterion), status_code=303)
    return RedirectResponse(with_lang("/admin/disputes", request), status_code=303)


# --- the form editor -----------------------------------------------------------------------------------------


@router.get("/rules/form", response_class=HTMLResponse)
def rules_form(request: Request, admin: AdminDep) -> Response:
    """The common changes as a form (thresholds, BANT's minimum, the norm, channels' value lists and experimental
    flags, the field each role uses) over the running rule file and mapping."""
    from leadpact.admin.mapping import current_mapping, mapping_rows
    from rules.form import form_values

    lang = language(request)
    with session_scope(services_of(request).engine) as session:
        active = ruleset_store.active_version(session=session, account_id=admin.account_id)
        text = ruleset_store.text_of(session=session, account_id=admin.account_id, version=active)
        current, _origins = current_mapping(session, admin.account_id)
        chosen = {role: field.id for role, field in current.items()}
        roles = mapping_rows(session, admin.account_id, dict(chosen), lang)
    for row in roles:
        field = current.get(row["role"])
        # The running field stays selectable even when the account's field list was not read (yet): sending
        # the form unchanged must never unmap a role.
        if field is not None and all(option["id"] != field.id for option in row["candidates"]):
            row["candidates"].insert(0, {"id": field.id, "label": field.name, "selected": True})
    return render(
        request,
        "rules_form.html",
        {"values": form_values(text, lang), "active": active, "roles": roles},
        session=admin,
    )


def _submitted_channels(form: Any, current: Any) -> tuple[Any, ...] | None:
    """The channels as the form sent them: each value list comma-separated, the experimental checkbox."""
    from rules.form import ChannelForm, ValueList

    if current is None:
        return None
    channels: list[ChannelForm] = []
    for channel in current:
        lists = []
        for index, value_list in enumerate(channel.lists):
            raw = form.get(f"list_{channel.name}_{index}")
            values = (
                value_list.values
                if raw is None
                else tuple(value.strip() for value in str(raw).split(",") if value.strip())
            )
            lists.append(ValueList(value_list.field, values))
        channels.append(
            ChannelForm(
                name=channel.name,
                title=channel.title,
                lists=tuple(lists),
                experimental=form.get(f"experimental_{channel.name}") is not None,
            )
        )
    return tuple(channels)


@router.post("/rules/form", response_class=HTMLResponse)
def rules_form_preview(request: Request, admin: AdminDep, form: FormDep) -> Response:
    """Writes the form's values into the running rule file and shows the YAML diff, the check and the backtest
    preview — then the same propose → sign-off → activate flow as the YAML editor."""
    from rules.agreement import rules_diff
    from rules.form import FormValues, apply_form, form_values

    with session_scope(services_of(request).engine) as session:
        active = ruleset_store.active_version(session=session, account_id=admin.account_id)
        text = ruleset_store.text_of(session=session, account_id=admin.account_id, version=active)
    current = form_values(text)
    params = {name: str(form.get(f"param_{name}", value)) for name, value in current.params.items()}
    min_met_text = str(form.get("min_met", "")).strip()
    share_text = str(form.get("qualified_share", "")).strip().replace(",", ".")
    try:
        share = float(share_text) / 100 if share_text else None
    except ValueError:
        share = None
    # A form sent without the channels section (an older page) leaves the channels alone.
    sent_channels = form.get("channels_sent") is not None
    values = FormValues(
        params=params,
        min_met=int(min_met_text) if min_met_text.isdigit() else None,
        qualified_share=round(share, 4) if share is not None else None,
        channels=_submitted_channels(form, current.channels) if sent_channels else None,
    )
    candidate = apply_form(text, values)
    diff = rules_diff(text, candidate, old_label=f"v{active}", new_label="form")
    mapping, mapping_lines = _form_mapping(request, admin, form)
    if isinstance(mapping, str):
        return _checked_view(request, admin, candidate, active, form_diff=diff or None, mapping_error=mapping)
    if mapping_lines:
        diff = "\n".join(filter(None, [diff, *mapping_lines]))
    return _checked_view(request, admin, candidate, active, form_diff=diff or None, mapping=mapping)


def _form_mapping(request: Request, admin: Any, form: Any) -> tuple[Any, list[str]]:
    """The mapping the form chose when it differs from the running one (None: unchanged), or the text of a
    choice that cannot be used; and one line per role whose field changes, for the diff."""
    from leadpact.admin.mapping import chosen_fields, current_mapping, mapping_of_choice
    from rules.roles import role_named

    if form.get("roles_sent") is None:
        return None, []
    lang = language(request)
    chosen = chosen_fields(form)
    with session_scope(services_of(request).engine) as session:
        current, _origins = current_mapping(session, admin.account_id)
        if chosen == {role: (current[role].id if role in current else None) for role in chosen}:
            return None, []
        mapping = mapping_of_choice(session, admin.account_id, chosen, lang)
    if isinstance(mapping, str):
        return mapping, []
    lines = []
    for role_name in chosen:
        before, after = current.get(role_name), mapping.get(role_name)
        if (before and before.id) != (after and after.id):
            role = role_named(role_name)
            title = role.title(lang) if role is not None else role_name
            old_name = before.name if before is not None else "—"
            new_name = after.name if after is not None else "—"
            lines.append(texts.FORM_MAPPING_LINE(lang, role=title, old=old_name, new=new_name))
    return mapping, lines
