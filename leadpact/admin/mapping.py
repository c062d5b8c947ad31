"""`/admin/mapping`: which of the account's lead fields plays each role (budget, decision maker, …).

The admin picks a field per role (each shown with its fill rate over stored leads), previews the change as a
backtest, and proposes it: a new rules version with the running text and this mapping, signed off and
activated like any rules change. A role with no suitable field offers to create one in amoCRM.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session

from integration.accounts import AccountNotConnected
from integration.amocrm import AmoError
from integration.db import session_scope
from integration.field_mapping import create_role_field, fill_rates
from integration.i18n import Language
from integration.storage import field_mapping as mapping_store
from integration.storage import rulesets as ruleset_store
from leadpact.admin import texts
from leadpact.admin.service import backtest_preview, lead_names
from leadpact.admin.web import AccountAdminDep, AdminRoute, FormDep, language, render, services_of, with_lang
from rules import RuleSet, load_ruleset, role_uses
from rules.loader import level_title
from rules.model import CatalogField
from rules.roles import ROLES, candidate_for, role_named

router = APIRouter(prefix="/admin/mapping", route_class=AdminRoute, tags=["admin"])


def current_mapping(session: Session, account_id: int) -> tuple[dict[str, CatalogField], dict[str, str]]:
    """The mapping shown preselected (the running one, else the proposal) and where each entry came from."""
    proposal = mapping_store.get_proposal(session=session, account_id=account_id)
    proposed = mapping_store.proposed_mapping(proposal) if proposal is not None else {}
    origins = {
        role: str(origin) for role, origin in (proposal.origins if proposal is not None else {}).items()
    }
    confirmed = ruleset_store.confirmed_mapping(session=session, account_id=account_id)
    if confirmed is not None:
        return dict(confirmed), dict.fromkeys(confirmed, "version")
    return proposed, origins


def mapping_rows(
    session: Session, account_id: int, chosen: dict[str, int | None], lang: Language
) -> list[dict[str, Any]]:
    proposal = mapping_store.get_proposal(session=session, account_id=account_id)
    catalog = mapping_store.stored_catalog(proposal) if proposal is not None else None
    fields = catalog.fields if catalog is not None else ()
    rates = fill_rates(session=session, account_id=account_id, field_ids=[f.id for f in fields])
    _version, running = ruleset_store.active_ruleset(session=session, account_id=account_id)
    used_by = {use.role: _readers_text(running, use.used_by, lang) for use in role_uses(running)}
    _current_mapping, origins = current_mapping(session, account_id)
    rows = []
    for role in ROLES:
        candidates = [
            {
                "id": f.id,
                "label": f"{f.name} ({f.type}) — "
                + texts.FILLED_PCT(lang, pct=f"{rates.get(f.id, 0.0) * 100:.0f}"),
                "selected": chosen.get(role.name) == f.id,
            }
            for f in fields
            if candidate_for(role, f)
        ]
        origin = origins.get(role.name)
        rows.append(
            {
                "role": role.name,
                "title": role.title(lang),
                "candidates": candidates,
                "used_by": used_by.get(role.name, ""),
                "origin": texts.ORIGIN_NAMES[origin](lang)
                if origin in texts.ORIGIN_NAMES and chosen.get(role.name)
                else "",
                "unmapped_but_used": chosen.get(role.name) is None and bool(used_by.get(role.name)),
            }
        )
    return rows


def _readers_text(ruleset: RuleSet, readers: tuple[str, ...], lang: Language) -> str:
    """«Критерий: Бюджет; уровень: Горячий; канал: Яндекс Директ» — the rules that read a role, as people say them."""
    titles = {
        "criterion": texts.READ_BY_CRITERION,
        "level": texts.READ_BY_LEVEL,
        "channel": texts.READ_BY_CHANNEL,
    }
    criteria = {c.name: c.title for c in ruleset.qualification.criteria}
    parts = []
    for reader in readers:
        kind, _, name = reader.partition(":")
        if kind == "criterion":
            title = criteria[name](lang) if name in criteria else name
        elif kind == "level":
            title = level_title(name)(lang)
        else:
            title = ruleset.channel_title(name)(lang)
        parts.append(f"{titles[kind](lang)}: {title}" if kind in titles else title)
    return "; ".join(parts)


def _page(
    request: Request, admin: Any, *, chosen: dict[str, int | None] | None = None, **extra: Any
) -> Response:
    lang = language(request)
    with session_scope(services_of(request).engine) as session:
        proposal = mapping_store.get_proposal(session=session, account_id=admin.account_id)
        if chosen is None:
            current, _origins = current_mapping(session, admin.account_id)
            chosen = {role.name: current[role.name].id if role.name in current else None for role in ROLES}
        rows = mapping_rows(session, admin.account_id, chosen, lang)
        missing = ruleset_store.missing_roles(session=session, account_id=admin.account_id)
    warning = (
        texts.UNMAPPED_WARNING(lang, roles=", ".join(use.label(lang) for use in missing)) if missing else None
    )
    status_code = int(extra.pop("status_code", 200))
    return render(
        request,
        "mapping.html",
        {"rows": rows, "proposed": proposal is not None, "warning": warning, **extra},
        status_code=status_code,
        session=admin,
    )


@router.get("", response_class=HTMLResponse)
def mapping_page(request: Request, admin: AccountAdminDep) -> Response:
    """A dropdown of the account's fields per role, with fill rates; the running mapping preselected."""
    return _page(request, admin)


def chosen_fields(form: Any) -> dict[str, int | None]:
    result: dict[str, int | None] = {}
    for role in ROLES:
        value = str(form.get(f"role_{role.name}", "")).strip()
        result[role.name] = int(value) if value.isdigit() else None
    return result


def mapping_of_choice(
    session: Session, account_id: int, chosen: dict[str, int | None], lang: Language
) -> dict[str, CatalogField] | str:
    """The chosen fields from the account's catalog, or the text of the first choice that cannot be used."""
    proposal = mapping_store.get_proposal(session=session, account_id=account_id)
    catalog = mapping_store.stored_catalog(proposal) if proposal is not None else None
    by_id = {f.id: f for f in catalog.fields} if catalog is not None else {}
    mapping: dict[str, CatalogField] = {}
    for role_name, field_id in chosen.items():
        if field_id is None:
            continue
        role = role_named(role_name)
        found = by_id.get(field_id)
        if role is None or found is None or not candidate_for(role, found):
            return texts.BAD_MAPPING_FIELD(lang, field=field_id, role=role_name)
        mapping[role_name] = found
    return mapping


@router.post("/preview", response_class=HTMLResponse)
def mapping_preview(request: Request, admin: AccountAdminDep, form: FormDep) -> Response:
    """How the chosen mapping would reclassify the stored leads, compared to the running rules."""
    lang = language(request)
    chosen = chosen_fields(form)
    with session_scope(services_of(request).engine) as session:
        mapping = mapping_of_choice(session, admin.account_id, chosen, lang)
        if isinstance(mapping, str):
            return _page(request, admin, chosen=chosen, error=mapping, status_code=422)
        version = ruleset_store.active_version(session=session, account_id=admin.account_id)
        text = ruleset_store.text_of(session=session, account_id=admin.account_id, version=version)
        candidate = load_ruleset(text, source="candidate", mapping=mapping)
        report = backtest_preview(session=session, account_id=admin.account_id, candidate=candidate)
        names = lead_names(
            session=session,
            account_id=admin.account_id,
            lead_ids=[int(s.lead_id) for s in report.samples if isinstance(s.lead_id, int)],
        )
    samples = [
        {
            "id": s.lead_id,
            "name": names.get(s.lead_id, "") if isinstance(s.lead_id, int) else "",
            "before": s.before,
            "after": s.after,
            "reason": s.reason_after.get(lang, ""),
        }
        for s in report.samples
    ]
    return _page(request, admin, chosen=chosen, preview=report.summary(lang), samples=samples)


@router.post("", response_class=HTMLResponse)
def mapping_propose(request: Request, admin: AccountAdminDep, form: FormDep) -> Response:
    """Proposes the chosen mapping as a new rules version (same text) for marketing and sales to sign off."""
    lang = language(request)
    chosen = chosen_fields(form)
    with session_scope(services_of(request).engine) as session:
        mapping = mapping_of_choice(session, admin.account_id, chosen, lang)
        if isinstance(mapping, str):
            return _page(request, admin, chosen=chosen, error=mapping, status_code=422)
        active = ruleset_store.active_version(session=session, account_id=admin.account_id)
        text = ruleset_store.text_of(session=session, account_id=admin.account_id, version=active)
        version = ruleset_store.propose(
            session=session,
            account_id=admin.account_id,
            text=text,
            author=f"amo-user-{admin.user_id}",
            comment=str(form.get("comment", ""))[:500] or texts.MAPPING("en"),
            mapping=mapping,
        )
    return RedirectResponse(with_lang(f"/admin/rules/versions/{version}", request), status_code=303)


@router.post("/create", response_class=HTMLResponse)
async def mapping_create_field(request: Request, admin: AccountAdminDep, form: FormDep) -> Response:
    """Creates the lead field for a role in amoCRM, then shows the page with it selected for that role."""
    lang = language(request)
    role_name = str(form.get("role", ""))
    chosen = chosen_fields(form)
    if role_named(role_name) is None:
        return _page(request, admin, chosen=chosen, error=texts.CREATE_FAILED(lang), status_code=422)
    services = services_of(request)
    try:
        api = services.connector.api_for(admin.account_id)
        with session_scope(services.engine) as session:
            field_id = await create_role_field(
                api=api, session=session, account_id=admin.account_id, role_name=role_name, lang=lang
            )
    except (AmoError, AccountNotConnected):
        return _page(request, admin, chosen=chosen, error=texts.CREATE_FAILED(lang), status_code=502)
    chosen[role_name] = field_id
    role = role_named(role_name)
    name = role.title(lang) if role is not None else role_name
    return _page(request, admin, chosen=chosen, message=texts.FIELD_CREATED(lang, name=name))
