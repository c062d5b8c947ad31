"""Installing LeadPact into a sandbox account over HTTP, the way a user's consent would."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from pydantic import SecretStr

from amocrm_sandbox import SandboxConfig, create_sandbox_app
from integration.amocrm import AccountApi, AmoClient, InMemoryTokenStore, OAuthApp, TokenPair
from integration.servers import serve_in_thread

SANDBOX_SECRET = "sandbox-secret-for-client-tests"
CONFIG = SandboxConfig(
    client_id="leadpact-client-tests",
    client_secret=SANDBOX_SECRET,
    redirect_uri="http://127.0.0.1:9/oauth/callback",
)
APP = OAuthApp(CONFIG.client_id, SecretStr(CONFIG.client_secret), CONFIG.redirect_uri)


@contextmanager
def running_sandbox(**overrides: Any) -> Iterator[str]:
    """A fresh sandbox on a real port; its base URL."""
    config = SandboxConfig(**{**_fields(CONFIG), **overrides})
    with serve_in_thread(create_sandbox_app(config)) as base_url:
        yield base_url


def _fields(config: SandboxConfig) -> dict[str, Any]:
    return {name: getattr(config, name) for name in config.__dataclass_fields__}


@dataclass
class InstalledAccount:
    account_id: int
    pair: TokenPair


async def install(
    http: httpx.AsyncClient, base_url: str, subdomain: str, *, leads: int = 0
) -> InstalledAccount:
    """Create a sandbox account (with `leads` demo leads), consent, and trade the code for tokens."""
    created = await http.post(f"{base_url}/_sandbox/accounts", json={"subdomain": subdomain, "leads": leads})
    created.raise_for_status()
    consent = await http.get(
        f"{base_url}/oauth",
        params={"client_id": CONFIG.client_id, "account": subdomain},
        follow_redirects=False,
    )
    code = parse_qs(urlsplit(consent.headers["Location"]).query)["code"][0]
    pair = await APP.exchange_code(http, base_url, code)
    return InstalledAccount(account_id=int(created.json()["id"]), pair=pair)


async def installed_api(
    client: AmoClient, base_url: str, subdomain: str, *, leads: int = 0
) -> tuple[AccountApi, InMemoryTokenStore, int]:
    account = await install(client.http, base_url, subdomain, leads=leads)
    store = InMemoryTokenStore({account.account_id: account.pair})
    auth = client.oauth(account.account_id, base_url, APP, store)
    return client.account(account.account_id, base_url, auth), store, account.account_id


async def sandbox_stats(http: httpx.AsyncClient, base_url: str, account_id: int) -> dict[str, Any]:
    response = await http.get(f"{base_url}/_sandbox/stats", params={"account_id": account_id})
    response.raise_for_status()
    stats: dict[str, Any] = response.json()
    return stats
