"""Tokens the sandbox mints the way amoCRM does are accepted by the widget backend's checks."""

from __future__ import annotations

import time

import httpx
import pytest

from leadpact.widget.auth import (
    WidgetAuthError,
    account_origins,
    check_account,
    verify_widget_token,
    widget_audience,
)
from tests.integration.amocrm.sandbox import CONFIG, running_sandbox

AUDIENCE = "https://leadpact.example.com"


class TestSandboxTokens:
    def test_sandbox_token_passes_and_a_foreign_audience_fails(self) -> None:
        """A sandbox-minted X-Auth-Token verifies with the client secret; one for another audience does not."""
        with running_sandbox() as base_url, httpx.Client(timeout=10) as http:
            created = http.post(f"{base_url}/_sandbox/accounts", json={"subdomain": "widgetco"})
            created.raise_for_status()
            account_id = int(created.json()["id"])
            ours = http.post(
                f"{base_url}/_sandbox/widget-token", json={"account_id": account_id, "aud": AUDIENCE}
            )
            foreign = http.post(
                f"{base_url}/_sandbox/widget-token",
                json={"account_id": account_id, "aud": "https://evil.example"},
            )
        claims = verify_widget_token(
            ours.json()["token"], client_secret=CONFIG.client_secret, audience=AUDIENCE, now=int(time.time())
        )
        assert (claims.account_id, claims.subdomain) == (account_id, "widgetco")
        check_account(
            claims,
            subdomain="widgetco",
            allowed_origins=account_origins("widgetco", base_url),
            request_origin="https://widgetco.amocrm.ru",
        )
        with pytest.raises(WidgetAuthError):
            verify_widget_token(
                foreign.json()["token"],
                client_secret=CONFIG.client_secret,
                audience=AUDIENCE,
                now=int(time.time()),
            )

    def test_audience_is_compared_without_the_port(self) -> None:
        """With a redirect URI on port 8443, a token whose aud is scheme://host (as amoCRM mints it) is accepted,
        and the sandbox mints exactly that by default."""
        redirect_uri = "https://leadpact.example.com:8443/oauth/callback"
        with running_sandbox(redirect_uri=redirect_uri) as base_url, httpx.Client(timeout=10) as http:
            created = http.post(f"{base_url}/_sandbox/accounts", json={"subdomain": "portco"})
            account_id = int(created.json()["id"])
            explicit = http.post(
                f"{base_url}/_sandbox/widget-token",
                json={"account_id": account_id, "aud": "https://leadpact.example.com"},
            )
            default = http.post(f"{base_url}/_sandbox/widget-token", json={"account_id": account_id})
        audience = widget_audience(redirect_uri)
        for minted in (explicit, default):
            claims = verify_widget_token(
                minted.json()["token"],
                client_secret=CONFIG.client_secret,
                audience=audience,
                now=int(time.time()),
            )
            assert claims.subdomain == "portco"
        assert audience == "https://leadpact.example.com"

    def test_the_token_says_whether_its_user_is_an_account_admin(self) -> None:
        """As amoCRM's does: the account's administrator gets `is_admin`, unless a test asks for a plain user."""
        with running_sandbox() as base_url, httpx.Client(timeout=10) as http:
            created = http.post(f"{base_url}/_sandbox/accounts", json={"subdomain": "rightsco"})
            account_id = int(created.json()["id"])
            admin = http.post(
                f"{base_url}/_sandbox/widget-token", json={"account_id": account_id, "aud": AUDIENCE}
            )
            plain = http.post(
                f"{base_url}/_sandbox/widget-token",
                json={"account_id": account_id, "aud": AUDIENCE, "is_admin": False},
            )
        read = [
            verify_widget_token(
                minted.json()["token"],
                client_secret=CONFIG.client_secret,
                audience=AUDIENCE,
                now=int(time.time()),
            ).is_admin
            for minted in (admin, plain)
        ]
        assert read == [True, False]
