"""An app with the admin, report and widget routers over a test database, an installed account, and sign-in tokens
shaped like amoCRM's widget tokens."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import jwt
from fastapi import FastAPI
from pydantic import SecretStr

from integration.bootstrap import build_services
from integration.db import make_engine, session_scope
from integration.servers import serve_in_thread
from integration.settings import Settings
from integration.storage import accounts as account_store
from leadpact.admin import router
from leadpact.admin.mapping import router as mapping_router
from leadpact.admin.reports import reports_router
from leadpact.admin.sign_in import widget_link_router
from leadpact.widget.api import router as widget_router

CLIENT_SECRET = "admin-test-client-secret-0123456789abcdef0123456789"
REDIRECT_URI = "https://leadpact.example.com/oauth/callback"
AUDIENCE = "https://leadpact.example.com"
ACCOUNT_ID = 31000001
SUBDOMAIN = "acme"
OTHER_ACCOUNT_ID = 31000002
ADMIN_USER = 501
SECOND_ADMIN = 502
MANAGER_USER = 777


def admin_settings(settings: Settings, **overrides: Any) -> Settings:
    return settings.model_copy(
        update={
            "amocrm_client_id": "leadpact-admin-test",
            "amocrm_client_secret": SecretStr(CLIENT_SECRET),
            "amocrm_redirect_uri": REDIRECT_URI,
            **overrides,
        }
    )


def admin_app(settings: Settings) -> FastAPI:
    """The admin and report routers on their own app, with services built like the real app's lifespan."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with build_services(settings) as services:
            app.state.services = services
            yield

    app = FastAPI(lifespan=lifespan)
    app.include_router(router)
    app.include_router(mapping_router)
    app.include_router(reports_router)
    app.include_router(widget_router)
    app.include_router(widget_link_router)
    return app


def install_account(settings: Settings, account_id: int, subdomain: str, base_url: str) -> None:
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as session:
            account_store.upsert_account(
                session=session,
                account_id=account_id,
                subdomain=subdomain,
                base_url=base_url,
                language="ru",
                credential_kind="oauth",
                new_webhook_key=f"key-{account_id}",
            )
    finally:
        engine.dispose()


def install_accounts(settings: Settings, *, base_url: str = "https://acme.amocrm.ru") -> None:
    """Our account and a rival one, installed (the rival's data must never show on our pages)."""
    install_account(settings, ACCOUNT_ID, SUBDOMAIN, base_url)
    install_account(settings, OTHER_ACCOUNT_ID, "rival", "https://rival.amocrm.ru")


def widget_token(
    *,
    user_id: int = ADMIN_USER,
    is_admin: bool = True,
    account_id: int = ACCOUNT_ID,
    subdomain: str = SUBDOMAIN,
    secret: str = CLIENT_SECRET,
    audience: str = AUDIENCE,
    issuer: str = "https://acme.amocrm.ru",
    now: int | None = None,
    ttl: int = 1800,
    jti: str | None = None,
) -> str:
    """A token like the one amoCRM's `$authorizedAjax` sends (HS256 with the integration's client secret); each
    has its own `jti` unless one is given."""
    moment = int(time.time()) if now is None else now
    claims = {
        "iss": issuer,
        "aud": audience,
        "jti": jti if jti is not None else uuid.uuid4().hex,
        "iat": moment,
        "nbf": moment,
        "exp": moment + ttl,
        "account_id": account_id,
        "subdomain": subdomain,
        "client_uuid": "leadpact-admin-test",
        "user_id": user_id,
        "is_admin": is_admin,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


@contextmanager
def admin_server(settings: Settings) -> Iterator[str]:
    """The admin app on a real port; its base URL."""
    with serve_in_thread(admin_app(settings)) as base_url:
        yield base_url


@contextmanager
def admin_client(settings: Settings, base_url: str | None = None) -> Iterator[httpx.Client]:
    """A browser-like client (keeps cookies) of the admin app, on its own server unless one is given."""
    if base_url is not None:
        with httpx.Client(base_url=base_url, timeout=30, follow_redirects=True) as client:
            yield client
        return
    with (
        admin_server(settings) as url,
        httpx.Client(base_url=url, timeout=30, follow_redirects=True) as client,
    ):
        yield client


def sign_in(client: httpx.Client, **token: Any) -> None:
    response = client.get("/admin/login", params={"token": widget_token(**token)}, follow_redirects=False)
    assert response.status_code == 303, response.text


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(client: httpx.Client, path: str = "/admin") -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    match = CSRF.search(page.text)
    assert match is not None
    return match.group(1)
