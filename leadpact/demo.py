"""The one-command demo: with no amoCRM credentials, `leadpact serve` starts the bundled sandbox with demo data and
installs LeadPact into it through the real OAuth flow, over real HTTP."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass
from importlib import resources

import anyio
import httpx
import typer
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from pydantic import SecretStr

from amocrm_sandbox import ACCOUNT_SHAPES, SandboxConfig, create_sandbox_app
from integration.bootstrap import Services
from integration.db import session_scope
from integration.i18n import Text
from integration.settings import Settings
from integration.storage import accounts as account_store
from leadpact.widget.auth import widget_audience

log = logging.getLogger(__name__)

DEMO_READY = Text(
    ru="Демо готово: LeadPact установлен в песочницу amoCRM ({sandbox}). Откройте {public} — лиды получают "
    "канал, уровень и теги в течение секунд (состояние песочницы: {sandbox}/_sandbox/state); админка: "
    "{public}/demo/admin; отчёт к встрече: {public}/reports/weekly",
    en="Demo ready: LeadPact is installed into the amoCRM sandbox ({sandbox}). Open {public} — leads get their "
    "channel, level and tags within seconds (sandbox state: {sandbox}/_sandbox/state); admin pages: "
    "{public}/demo/admin; meeting report: {public}/reports/weekly",
)
DEMO_FAILED = Text(
    ru="Не удалось установить LeadPact в песочницу: {error}",
    en="Could not install LeadPact into the sandbox: {error}",
)


@dataclass(frozen=True, slots=True)
class DemoPlan:
    settings: Settings
    sandbox_url: str
    client_secret: str


def demo_settings(settings: Settings, *, public_url: str, sandbox_url: str) -> DemoPlan:
    """Settings that point every amoCRM URL at the sandbox, with a client id/secret made up for this run."""
    client_secret = secrets.token_urlsafe(24)
    updated = settings.model_copy(
        update={
            "amocrm_client_id": "leadpact-demo",
            "amocrm_client_secret": SecretStr(client_secret),
            "amocrm_redirect_uri": f"{public_url}/oauth/callback",
            "amocrm_base_url": sandbox_url,
            "amocrm_authorize_url": f"{sandbox_url}/oauth",
            "public_url": public_url,
            # The demo account's leads were made before the install: classify all of them on the first pass.
            "reconcile_first_run_lookback_seconds": 365 * 86400,
        }
    )
    return DemoPlan(settings=updated, sandbox_url=sandbox_url, client_secret=client_secret)


DEMO_ACCOUNT_HELP = (
    "Sandbox account: demo (LeadPact's coded fields) | realistic (hand-made fields: Russian names, no codes) / "
    "аккаунт песочницы: demo (поля с кодами LeadPact) | realistic (поля, созданные вручную, без кодов)"
)


def known_demo_account(value: str) -> str:
    """Typer callback: the value when it names a sandbox account shape, else a usage error listing them."""
    if value not in ACCOUNT_SHAPES:
        raise typer.BadParameter(f"{value!r}: {' | '.join(ACCOUNT_SHAPES)}")
    return value


def demo_sandbox_app(
    plan: DemoPlan, *, public_url: str, demo_leads: int, demo_account: str = "demo"
) -> FastAPI:
    """The bundled sandbox, seeded with demo leads in an account of the `demo_account` shape, that accepts the
    client id/secret `demo_settings` made up."""
    config = SandboxConfig(
        client_id="leadpact-demo",
        client_secret=plan.client_secret,
        redirect_uri=f"{public_url}/oauth/callback",
        seed_demo=True,
        demo_leads=demo_leads,
        demo_account=demo_account,
    )
    return create_sandbox_app(config)


async def install_into_sandbox(services: Services, stop: asyncio.Event) -> None:
    """Background task of the demo app: once our server answers, walk the OAuth flow like a browser would."""
    public = services.settings.public_url
    sandbox = services.settings.amocrm_base_url or ""
    async with httpx.AsyncClient(timeout=30, follow_redirects=True) as browser:
        for _ in range(300):
            if stop.is_set():
                return
            try:
                if (await browser.get(f"{public}/healthz")).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
        try:
            response = await browser.get(f"{public}/oauth/start")
            response.raise_for_status()
        except httpx.HTTPError as exc:
            log.error(DEMO_FAILED(services.settings.language, error=type(exc).__name__))
            return
    # Provision, publish the promo catalog and the meeting report now rather than on the scheduler's next tick.
    from integration.install import provision_due_accounts
    from leadpact.scheduler import PROVISIONING_STEPS, run_jobs_once

    await provision_due_accounts(services, PROVISIONING_STEPS)
    await anyio.to_thread.run_sync(_import_demo_promos, services)
    await run_jobs_once(services)
    log.warning(DEMO_READY(services.settings.language, sandbox=sandbox, public=public))


def _import_demo_promos(services: Services) -> None:
    """The demo account gets the bundled promos, matching the sandbox's seeded campaigns."""
    from sync.promos.importing import parse_promo_yaml
    from sync.promos.service import import_promos

    data = (resources.files("sync.promos") / "demo" / "promos.yaml").read_bytes()
    with session_scope(services.engine) as session:
        for account in account_store.list_accounts(session=session):
            import_promos(
                session=session,
                account_id=account.id,
                promo_file=parse_promo_yaml(data),
                now=int(time.time()),
            )


DEMO_ADMIN_UNAVAILABLE = Text(
    ru="Вход в админку демо доступен после установки в песочницу.",
    en="The demo admin sign-in works once LeadPact is installed into the sandbox.",
)


def demo_router() -> APIRouter:
    """Demo only: `/demo/admin` asks the bundled sandbox for an admin's widget token (what amoCRM's widget would
    send) and signs in with it, so a visitor can open the admin pages without a real amoCRM."""
    router = APIRouter()

    @router.get("/demo/admin")
    async def demo_admin(request: Request) -> Response:
        services: Services = request.app.state.services
        settings = services.settings
        with session_scope(services.engine) as session:
            accounts = account_store.list_accounts(session=session)
        if not accounts or not settings.amocrm_base_url or not settings.amocrm_redirect_uri:
            return PlainTextResponse(DEMO_ADMIN_UNAVAILABLE(settings.language), status_code=503)
        minted = await services.http.post(
            f"{settings.amocrm_base_url}/_sandbox/widget-token",
            json={
                "account_id": accounts[0].id,
                "is_admin": True,
                "aud": widget_audience(settings.amocrm_redirect_uri),
                "ttl": 1800,
            },
        )
        minted.raise_for_status()
        token = str(minted.json()["token"])
        return RedirectResponse(f"/admin/login?token={token}", status_code=302)

    return router
