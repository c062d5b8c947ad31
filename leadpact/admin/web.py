"""What every admin page shares: who is signed in, CSRF checks, the language, and rendering templates.

Refusals (401 without a session, 403 for a non-admin or a bad CSRF token) are HTML pages that show no data;
`AdminRoute` turns them into responses for the admin routers alone, so the rest of the app is untouched.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape

from integration.crypto import load_secret_key
from integration.db import session_scope
from integration.i18n import Language, Text, choose_language
from integration.storage import accounts as account_store
from integration.storage import users as user_store
from leadpact.admin import texts
from leadpact.admin.session import (
    SESSION_COOKIE,
    AdminSession,
    csrf_token,
    csrf_valid,
    decode_session,
    session_key,
)
from sync.reports.render import TEMPLATES as REPORT_TEMPLATES
from sync.stats.report import person_name

TEMPLATES = Path(__file__).parent / "templates"


class AdminDenied(Exception):
    """The caller may not see this page: 401 (not signed in) or 403 (not an admin, bad CSRF token)."""

    def __init__(self, status_code: int, title: Text, message: Text) -> None:
        super().__init__(message("en"))
        self.status_code = status_code
        self.title = title
        self.message = message


class AdminRoute(APIRoute):
    """Renders `AdminDenied` as a bare HTML page with the right status, before any data is read."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except AdminDenied as denied:
                lang = language(request)
                # In the demo, a refused page says where to sign in without amoCRM, and comes back here.
                demo_sign_in = (
                    f"/demo/admin?{urlencode({'next': request.url.path})}"
                    if denied.status_code == 401 and getattr(request.app.state, "demo", False)
                    else None
                )
                return render(
                    request,
                    "denied.html",
                    {
                        "title": denied.title(lang),
                        "message": denied.message(lang),
                        "demo_sign_in": demo_sign_in,
                    },
                    status_code=denied.status_code,
                    session=None,
                )

        return guarded


def services_of(request: Request) -> Any:
    return request.app.state.services


def language(request: Request) -> Language:
    settings = services_of(request).settings
    return choose_language(
        request.query_params.get("lang"),
        request.headers.get("accept-language", ""),
        settings.language,
        default_is_set="language" in settings.model_fields_set,
    )


def admin_key(request: Request) -> bytes:
    return session_key(load_secret_key(services_of(request).settings))


def current_admin(request: Request) -> AdminSession:
    """The signed-in admin, or a 401 page (also once the account has removed LeadPact: its session ends then)."""
    session = decode_session(request.cookies.get(SESSION_COOKIE), admin_key(request), now=int(time.time()))
    if session is None:
        raise AdminDenied(401, texts.UNAUTHORIZED_TITLE, texts.UNAUTHORIZED)
    with session_scope(services_of(request).engine) as db:
        if account_store.installed_account(session=db, account_id=session.account_id) is None:
            raise AdminDenied(401, texts.UNAUTHORIZED_TITLE, texts.UNAUTHORIZED)
    return session


AdminDep = Annotated[AdminSession, Depends(current_admin)]


def current_account_admin(admin: AdminDep) -> AdminSession:
    """The signed-in amoCRM account admin; a named head who is no admin gets a 403 page."""
    if not admin.is_admin:
        raise AdminDenied(403, texts.FORBIDDEN_TITLE, texts.ADMINS_ONLY)
    return admin


AccountAdminDep = Annotated[AdminSession, Depends(current_account_admin)]


async def checked_form(request: Request, admin: AdminDep) -> Mapping[str, Any]:
    """The POSTed form, after its CSRF token is checked against the admin's session (else 403)."""
    form = await request.form()
    token = form.get("csrf_token")
    if not csrf_valid(admin, admin_key(request), token if isinstance(token, str) else None):
        raise AdminDenied(403, texts.FORBIDDEN_TITLE, texts.CSRF_FAILED)
    return form


FormDep = Annotated[Mapping[str, Any], Depends(checked_form)]


def environment(request: Request) -> Environment:
    """The admin templates, compiled once per app (kept on the app, not in a module global)."""
    env: Environment | None = getattr(request.app.state, "admin_templates", None)
    if env is None:
        env = Environment(
            # The report's own stylesheet comes from the report package, so both pages look the same.
            loader=ChoiceLoader([FileSystemLoader(TEMPLATES), FileSystemLoader(REPORT_TEMPLATES)]),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        request.app.state.admin_templates = env
    return env


def words(lang: Language) -> dict[str, str]:
    return {name: value(lang) for name, value in vars(texts).items() if isinstance(value, Text)}


ACTOR_PREFIX = "amo-user-"


def actor_name(actor: str | None, names: Mapping[int, str], lang: Language) -> str:
    """Who did something, for people to read: an amoCRM user recorded as `amo-user-<id>` by name (the id
    stays in storage, stable when a person is renamed); anything else (a CLI --by) as written."""
    if not actor:
        return ""
    user_id = actor.removeprefix(ACTOR_PREFIX)
    if actor.startswith(ACTOR_PREFIX) and user_id.isdigit():
        return person_name(int(user_id), names, lang)
    return actor


@dataclass(frozen=True, slots=True)
class SignedIn:
    """The header's "who is signed in": the account by its subdomain, the admin by name."""

    account: str
    user: str
    names: Mapping[int, str]


def signed_in(request: Request, session: AdminSession, lang: Language) -> SignedIn:
    """Reads the account and the cached user names (no amoCRM call: `refresh_users` keeps them fresh)."""
    with session_scope(services_of(request).engine) as db:
        account = account_store.get_account(session=db, account_id=session.account_id)
        names = user_store.user_names(session=db, account_id=session.account_id)
    return SignedIn(
        account=account.subdomain if account is not None else str(session.account_id),
        user=person_name(session.user_id, names, lang),
        names=names,
    )


def render(
    request: Request,
    template: str,
    values: Mapping[str, Any],
    *,
    status_code: int = 200,
    session: AdminSession | None,
) -> HTMLResponse:
    lang = language(request)
    who = signed_in(request, session, lang) if session is not None else None
    page = (
        environment(request)
        .get_template(template)
        .render(
            {
                "lang": lang,
                "t": words(lang),
                "admin": session,
                "csrf": csrf_token(session, admin_key(request)) if session is not None else "",
                "path": request.url.path,
                "who": who,
                "actor": partial(actor_name, names=who.names if who else {}, lang=lang),
                **values,
            }
        )
    )
    response = HTMLResponse(page, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )
    return response


def local_path(value: str | None, default: str) -> str:
    """A path on this site only (never `//host`, a full URL or a query): where a sign-in may send the browser."""
    if (
        value
        and value.startswith("/")
        and not value.startswith("//")
        and "\\" not in value
        and "?" not in value
    ):
        return value
    return default


def with_lang(path: str, request: Request, **params: Any) -> str:
    """A URL on our site keeping the page's language (for redirects after a POST)."""
    query = {key: value for key, value in params.items() if value is not None}
    lang = request.query_params.get("lang")
    if lang in ("ru", "en"):
        query["lang"] = lang
    return f"{path}?{urlencode(query)}" if query else path
