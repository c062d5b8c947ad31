"""The composition root: builds every process-wide object once from the settings.

`build_services(settings)` is used by the app's lifespan, the worker and the CLI; nothing is created at import time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from sqlalchemy.engine import Engine

from integration.accounts import AmoConnector
from integration.amocrm import AmoClient, OAuthApp, RateLimiter
from integration.crypto import SecretBox, secret_box
from integration.db import make_engine, upgrade
from integration.observability import Metrics
from integration.ratelimit_shared import shared_rate_limiter
from integration.settings import Settings
from integration.tokens import DbTokenStore


@dataclass
class Services:
    settings: Settings
    engine: Engine
    box: SecretBox
    http: httpx.AsyncClient
    amo: AmoClient
    oauth_app: OAuthApp | None
    token_store: DbTokenStore
    connector: AmoConnector
    metrics: Metrics

    def __repr__(self) -> str:
        return f"Services(database={self.engine.url.render_as_string(hide_password=True)})"


def oauth_app_from(settings: Settings) -> OAuthApp | None:
    if not (settings.amocrm_client_id and settings.amocrm_client_secret and settings.amocrm_redirect_uri):
        return None
    return OAuthApp(
        client_id=settings.amocrm_client_id,
        client_secret=settings.amocrm_client_secret,
        redirect_uri=settings.amocrm_redirect_uri,
    )


@asynccontextmanager
async def build_services(
    settings: Settings,
    *,
    migrate: bool = True,
    limiter: RateLimiter | None = None,
    engine: Engine | None = None,
) -> AsyncIterator[Services]:
    """Everything a process needs, closed again when the block ends."""
    own_engine = engine is None
    engine = engine or make_engine(settings.database_url)
    if migrate:
        upgrade(engine)
    box = secret_box(settings)
    metrics = Metrics()
    http = httpx.AsyncClient(
        timeout=httpx.Timeout(settings.http_timeout_seconds),
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        headers={"User-Agent": "LeadPact/0.1"},
        event_hooks=metrics.httpx_event_hooks(),
    )
    amo = AmoClient(
        http,
        limiter=metrics.count_limiter(limiter or shared_rate_limiter(settings, engine)),
        max_retries=settings.max_retries,
    )
    oauth_app = oauth_app_from(settings)
    token_store = DbTokenStore(engine, box)
    connector = AmoConnector(engine=engine, amo=amo, token_store=token_store, oauth_app=oauth_app)
    try:
        yield Services(
            settings=settings,
            engine=engine,
            box=box,
            http=http,
            amo=amo,
            oauth_app=oauth_app,
            token_store=token_store,
            connector=connector,
            metrics=metrics,
        )
    finally:
        await http.aclose()
        if own_engine:
            engine.dispose()
