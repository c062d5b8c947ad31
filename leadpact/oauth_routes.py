"""OAuth install routes: start, callback from amoCRM, and amoCRM's access-revoked hook. Thin: parse, call, answer."""

from __future__ import annotations

import html
import logging
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from integration.amocrm import AmoError
from integration.bootstrap import Services
from integration.crypto import load_secret_key
from integration.i18n import Language, Text, choose_language
from integration.install import (
    INVALID_STATE,
    MISSING_CREDENTIALS,
    InstallError,
    install_with_code,
    make_state,
    remove_account,
    verify_revocation_signature,
    verify_state,
)

log = logging.getLogger(__name__)
router = APIRouter(tags=["oauth"])

INSTALLED = Text(
    ru="LeadPact подключён к аккаунту {subdomain}. Поля и вебхук настраиваются в течение минуты; как это прошло, "
    "видно в разделе /admin. Окно можно закрыть.",
    en="LeadPact is connected to account {subdomain}. Fields and the webhook are set up within a minute; /admin "
    "shows how it went. You may close this window.",
)
EXCHANGE_FAILED = Text(
    ru="amoCRM не выдал доступ (код авторизации неверен или устарел). Попробуйте установить заново.",
    en="amoCRM did not grant access (the authorization code is invalid or expired). Please install again.",
)


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def request_language(request: Request, services: Services) -> Language:
    return choose_language(
        request.query_params.get("lang"),
        request.headers.get("accept-language", ""),
        services.settings.language,
        default_is_set="language" in services.settings.model_fields_set,
    )


def _page(title: str, body: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
        f"<body style='font-family:sans-serif;max-width:40em;margin:3em auto'><h1>{html.escape(title)}</h1>"
        f"<p>{html.escape(body)}</p></body></html>",
        status_code=status_code,
    )


@router.get("/oauth/start")
def oauth_start(services: ServicesDep) -> Response:
    """Sends the browser to amoCRM's consent page with a signed, expiring state."""
    settings = services.settings
    if services.oauth_app is None:
        return _page("LeadPact", MISSING_CREDENTIALS(settings.language), status_code=503)
    state = make_state(load_secret_key(settings))
    query = urlencode({"client_id": services.oauth_app.client_id, "state": state, "mode": "post_message"})
    return RedirectResponse(f"{settings.amocrm_authorize_url}?{query}", status_code=302)


@router.get("/oauth/callback")
async def oauth_callback(
    request: Request,
    services: ServicesDep,
    code: Annotated[str | None, Query()] = None,
    referer: Annotated[str | None, Query()] = None,
    state: Annotated[str | None, Query()] = None,
    client_id: Annotated[str | None, Query()] = None,
    from_widget: Annotated[str | None, Query()] = None,
) -> Response:
    lang = request_language(request, services)
    if not is_widget_hook(services, from_widget=from_widget, client_id=client_id) and not verify_state(
        load_secret_key(services.settings), state
    ):
        return _page("LeadPact", INVALID_STATE(lang), status_code=400)
    if not code or not referer:
        missing = Text(
            ru="Не хватает параметров code и referer.", en="The code and referer parameters are missing."
        )
        return _page("LeadPact", missing(lang), status_code=400)
    try:
        installed = await install_with_code(services, code=code, referer=referer)
    except InstallError as exc:
        return _page("LeadPact", exc.message(lang), status_code=exc.status_code)
    except AmoError as exc:
        log.warning("oauth code exchange failed", extra={"error": type(exc).__name__})
        return _page("LeadPact", EXCHANGE_FAILED(lang), status_code=400)
    return _page("LeadPact", INSTALLED(lang, subdomain=installed.subdomain))


def is_widget_hook(services: Services, *, from_widget: str | None, client_id: str | None) -> bool:
    """amoCRM's widget-install hook carries no state of ours. Its documented shape has `from_widget` (and no
    client_id); one captured on a real account had our `client_id` and `state=state` (no from_widget). Either
    marks it; the code exchange that follows needs our client secret, so a forged hook gains nothing."""
    ours = services.oauth_app is not None and client_id == services.oauth_app.client_id
    return bool(from_widget) or ours


# Two routes, not one for both methods: the API schema then gives each method its own operation id.
@router.post("/oauth/revoked", name="oauth_revoked_post")
@router.get("/oauth/revoked", name="oauth_revoked_get")
async def oauth_revoked(
    request: Request,
    services: ServicesDep,
    account_id: Annotated[str | None, Query()] = None,
    client_uuid: Annotated[str | None, Query()] = None,
    signature: Annotated[str | None, Query()] = None,
) -> Response:
    """amoCRM calls this when an admin disconnects the integration: forget the account's tokens."""
    if request.method == "POST" and account_id is None:
        form = await request.form()
        account_id = str(form.get("account_id") or "") or None
        client_uuid = str(form.get("client_uuid") or "") or None
        signature = str(form.get("signature") or "") or None
    secret = services.settings.amocrm_client_secret
    if not (account_id and client_uuid and signature and secret and account_id.isdigit()):
        return JSONResponse({"detail": "bad request"}, status_code=400)
    if not verify_revocation_signature(
        secret.get_secret_value(), account_id=account_id, client_uuid=client_uuid, signature=signature
    ):
        return JSONResponse({"detail": "invalid signature"}, status_code=403)
    removed = await remove_account(services, account_id=int(account_id), unsubscribe=False)
    return JSONResponse({"removed": removed})
