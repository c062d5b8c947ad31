"""What anyone can read without signing in names no account: home page, /readyz, /docs, /metrics."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from integration.settings import Settings
from tests.live import Live, live_installation

METRICS_TOKEN = "scrape-" + "7" * 24


def installed(settings: Settings, **overrides: Any) -> Iterator[tuple[Live, list[tuple[str, int]]]]:
    with live_installation(settings, overrides=overrides) as live:
        accounts = []
        for subdomain in ("alphaco", "betaco"):
            account_id = live.create_account(subdomain, leads=2)
            assert live.install(subdomain).status_code == 200
            accounts.append((subdomain, account_id))  # installing calls amoCRM: per-account metrics exist
        yield live, accounts


@pytest.fixture
def open_metrics(settings: Settings) -> Iterator[tuple[Live, list[tuple[str, int]]]]:
    yield from installed(settings)


@pytest.fixture
def guarded_metrics(settings: Settings) -> Iterator[tuple[Live, list[tuple[str, int]]]]:
    yield from installed(settings, metrics_token=SecretStr(METRICS_TOKEN))


def assert_names_no_account(text: str, accounts: list[tuple[str, int]]) -> None:
    for subdomain, account_id in accounts:
        assert subdomain not in text
        assert str(account_id) not in text


class TestAnonymousPages:
    def test_home_readyz_and_docs_name_no_account(
        self, open_metrics: tuple[Live, list[tuple[str, int]]]
    ) -> None:
        """With two accounts installed, the home page (ru and en), /readyz, /docs and the API schema show no
        subdomain and no account id; /readyz gives counts."""
        live, accounts = open_metrics
        pages = [httpx.get(f"{live.public_url}/", params={"lang": lang}).text for lang in ("ru", "en")] + [
            httpx.get(f"{live.public_url}/{path}").text for path in ("readyz", "docs", "openapi.json")
        ]

        for text in pages:
            assert_names_no_account(text, accounts)
        ready = httpx.get(f"{live.public_url}/readyz").json()
        assert (ready["database"], ready["accounts_needing_reauth"]) == ("ok", 0)
        assert (ready["install"]["accounts"], ready["install"]["fields_ok"]) == (2, 2)
        assert "/oauth/start" in pages[0]

    def test_metrics_without_a_token_setting_show_totals_only(
        self, open_metrics: tuple[Live, list[tuple[str, int]]]
    ) -> None:
        """Without METRICS_TOKEN, /metrics answers with amoCRM request totals but no account id or host."""
        live, accounts = open_metrics

        text = httpx.get(f"{live.public_url}/metrics").text

        assert_names_no_account(text, accounts)
        assert "account_id=" not in text and "host=" not in text
        requests = [line for line in text.splitlines() if line.startswith("leadpact_amocrm_requests_total")]
        assert len(requests) == 1 and float(requests[0].split()[-1]) >= 2  # every install's calls, summed


class TestGuardedMetrics:
    def test_metrics_need_the_bearer_token_when_one_is_configured(
        self, guarded_metrics: tuple[Live, list[tuple[str, int]]]
    ) -> None:
        """With METRICS_TOKEN set, /metrics answers 401 without it or with a wrong one, and the full per-account
        series with it."""
        live, accounts = guarded_metrics
        url = f"{live.public_url}/metrics"

        missing = httpx.get(url)
        wrong = httpx.get(url, headers={"Authorization": "Bearer guess"})
        right = httpx.get(url, headers={"Authorization": f"Bearer {METRICS_TOKEN}"})

        assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
        assert wrong.status_code == 401
        assert_names_no_account(missing.text + wrong.text, accounts)
        assert right.status_code == 200
        assert all(f'account_id="{account_id}"' in right.text for _, account_id in accounts)
