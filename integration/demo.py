"""The one-command demo: with no amoCRM credentials, `leadpact serve` starts the bundled sandbox with demo data and
installs LeadPact into it through the real OAuth flow, over real HTTP."""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass

import httpx

from integration.bootstrap import Services
from integration.i18n import Text
from integration.settings import Settings

log = logging.getLogger(__name__)

DEMO_READY = Text(
    ru="Демо готово: LeadPact установлен в песочницу amoCRM ({sandbox}). Откройте {public} — лиды получают "
    "канал, уровень и теги в течение секунд; состояние песочницы: {sandbox}/_sandbox/state",
    en="Demo ready: LeadPact is installed into the amoCRM sandbox ({sandbox}). Open {public} — leads get their "
    "channel, level and tags within seconds; sandbox state: {sandbox}/_sandbox/state",
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
            "amocrm_client_secret": client_secret,
            "amocrm_redirect_uri": f"{public_url}/oauth/callback",
            "amocrm_base_url": sandbox_url,
            "amocrm_authorize_url": f"{sandbox_url}/oauth",
            "public_url": public_url,
        }
    )
    # model_copy does not re-validate: keep the secret a SecretStr like everywhere else.
    from pydantic import SecretStr

    updated.amocrm_client_secret = SecretStr(client_secret)
    return DemoPlan(settings=updated, sandbox_url=sandbox_url, client_secret=client_secret)


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
    log.warning(DEMO_READY(services.settings.language, sandbox=sandbox, public=public))
