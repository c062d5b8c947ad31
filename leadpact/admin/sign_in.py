"""How an amoCRM admin, or a department head named to sign the rules off, gets from the widget into `/admin`,
once per sign-in link.

The widget cannot read amoCRM's token (`$authorizedAjax` puts it in a header), so it asks
`POST /api/widget/admin-link` for a sign-in ticket and opens the link in a new tab. A ticket lives 2 minutes and,
like amoCRM's own token at `/admin/login?token=…`, signs in once: a link found later in a browser history or a
proxy log opens nothing.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel

from integration.crypto import load_secret_key
from integration.db import session_scope
from integration.storage import accounts as account_store
from integration.storage import rulesets as ruleset_store
from integration.storage import sign_ins
from leadpact.admin import texts
from leadpact.admin.session import TICKET_SECONDS, decode_session, encode_session, new_session, ticket_key
from leadpact.admin.web import AdminDenied, services_of
from leadpact.widget.api import CallerDep, cors
from leadpact.widget.auth import (
    CLOCK_LEEWAY_SECONDS,
    MAX_TOKEN_LIFETIME_SECONDS,
    WidgetAuthError,
    account_origins,
    check_account,
    verify_widget_token,
    widget_audience,
)

widget_link_router = APIRouter(prefix="/api/widget", tags=["widget"])


class AdminLink(BaseModel):
    """Where the widget sends an admin: a path on LeadPact's backend, good for one sign-in within 2 minutes."""

    path: str


def _installed_account_origins(services: Any, account_id: int) -> tuple[str, frozenset[str]]:
    """The installed account's subdomain and the origins its pages are served from; refused once removed."""
    with session_scope(services.engine) as session:
        account = account_store.installed_account(session=session, account_id=account_id)
        if account is None:
            raise WidgetAuthError("account not installed")
        return account.subdomain, account_origins(account.subdomain, account.base_url)


def _use_once(services: Any, *, account_id: int, token_id: str, expires_at: int, now: int) -> None:
    with session_scope(services.engine) as session:
        if not sign_ins.use_once(
            session=session, account_id=account_id, token_id=token_id, expires_at=expires_at, now=now
        ):
            raise WidgetAuthError("sign-in token already used")


def may_sign_in(engine: Any, *, account_id: int, user_id: int | None, is_admin: bool) -> bool:
    """Account admins may, and so may the department heads named to sign the rules off (often no admins)."""
    if is_admin:
        return True
    with session_scope(engine) as session:
        return ruleset_store.is_signer(session=session, account_id=account_id, user_id=user_id)


def signed_in_admin(services: Any, *, token: str, ticket: str, now: int) -> tuple[int, int, bool]:
    """(account, user, is an account admin) of whom a sign-in ticket or an amoCRM widget token names, each usable
    once.

    401 for anything wrong with it (or used before), 403 for a valid token of someone who is neither an admin nor a
    named head."""
    settings = services.settings
    try:
        if ticket:
            found = decode_session(ticket, ticket_key(load_secret_key(settings)), now=now)
            if found is None:
                raise WidgetAuthError("invalid or expired ticket")
            _installed_account_origins(services, found.account_id)
            _use_once(
                services,
                account_id=found.account_id,
                token_id=f"ticket:{found.nonce}",
                expires_at=found.expires_at,
                now=now,
            )
            return found.account_id, found.user_id, found.is_admin
        secret = settings.amocrm_client_secret.get_secret_value() if settings.amocrm_client_secret else ""
        claims = verify_widget_token(
            token, client_secret=secret, audience=widget_audience(settings.amocrm_redirect_uri or ""), now=now
        )
        subdomain, allowed = _installed_account_origins(services, claims.account_id)
        check_account(claims, subdomain=subdomain, allowed_origins=allowed, request_origin=None)
        if claims.user_id is None or not may_sign_in(
            services.engine, account_id=claims.account_id, user_id=claims.user_id, is_admin=claims.is_admin
        ):
            raise AdminDenied(403, texts.FORBIDDEN_TITLE, texts.FORBIDDEN)
        if claims.token_id is None:
            raise WidgetAuthError("token without jti cannot be limited to one sign-in")
        # Kept as long as any token we accept could still be presented, whatever this one's claims say.
        _use_once(
            services,
            account_id=claims.account_id,
            token_id=f"jti:{claims.token_id}",
            expires_at=now + MAX_TOKEN_LIFETIME_SECONDS + CLOCK_LEEWAY_SECONDS,
            now=now,
        )
        return claims.account_id, claims.user_id, claims.is_admin
    except WidgetAuthError:
        raise AdminDenied(401, texts.UNAUTHORIZED_TITLE, texts.UNAUTHORIZED) from None


@widget_link_router.post("/admin-link", response_model=AdminLink)
def admin_link(caller: CallerDep, request: Request, response: Response, lang: str | None = None) -> AdminLink:
    """A one-time sign-in link to `/admin` for an account admin or a named head calling from the widget; 403 for
    anyone else."""
    cors(response, caller)
    services = services_of(request)
    user_id, is_admin = caller.claims.user_id, caller.claims.is_admin
    if user_id is None or not may_sign_in(
        services.engine, account_id=caller.account_id, user_id=user_id, is_admin=is_admin
    ):
        raise HTTPException(status_code=403, detail="Forbidden", headers=dict(response.headers))
    ticket = new_session(
        account_id=caller.account_id,
        user_id=user_id,
        now=int(time.time()),
        lifetime=TICKET_SECONDS,
        is_admin=is_admin,
    )
    query = {"ticket": encode_session(ticket, ticket_key(load_secret_key(services.settings)))}
    if lang in ("ru", "en"):
        query["lang"] = lang
    return AdminLink(path=f"/admin/login?{urlencode(query)}")
