"""Token refresh inside the rate budget, over real HTTP: a refused refresh is retried, never a failed batch."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from integration.amocrm import AmoClient, InMemoryTokenStore, TokenBucket, TokenPair
from tests.integration.amocrm.sandbox import APP, install, running_sandbox, sandbox_stats

RATE = 7.0  # amoCRM's documented budget, enforced by the sandbox
# The client paces a little below it: on a busy shared machine a late first request could otherwise land eight
# calls in one sliding second and turn the assertion about 429s into a test of scheduler jitter.
CLIENT_RATE = 6.0
TOKEN_ROUTE = "POST /oauth2/access_token"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


def paced_client(http: httpx.AsyncClient) -> AmoClient:
    return AmoClient(http, limiter=TokenBucket(CLIENT_RATE), backoff_base=0.2, backoff_max=2.0, max_retries=6)


class TestRefreshUnderTheRateLimit:
    async def test_twenty_calls_across_an_expiry_refresh_once_when_the_first_refresh_gets_429(
        self, http: httpx.AsyncClient
    ) -> None:
        """Twenty concurrent calls with a token about to expire all succeed through one paced refresh, although
        the sandbox answers the first refresh with 429, and the account's 7/s is never exceeded."""
        with running_sandbox(rate_limit_per_second=RATE) as base_url:
            installed = await install(http, base_url, "expiring", leads=3)
            expiring = TokenPair(
                access_token=installed.pair.access_token,
                refresh_token=installed.pair.refresh_token,
                expires_at=datetime.now(UTC) + timedelta(seconds=30),
            )
            store = InMemoryTokenStore({installed.account_id: expiring})
            client = paced_client(http)
            api = client.account(
                installed.account_id, base_url, client.oauth(installed.account_id, base_url, APP, store)
            )
            await asyncio.sleep(1.0)  # the install's own calls leave the rate window
            await http.post(f"{base_url}/_sandbox/stats/reset")
            await http.post(f"{base_url}/_sandbox/faults", json={"token_429s": 1})

            results = await asyncio.gather(*(api.list_pipelines() for _ in range(20)))

            stats = await sandbox_stats(http, base_url, installed.account_id)
        assert all(pipelines for pipelines in results)
        assert len(store.saves) == 1
        assert store.needs_reauth == {}
        assert stats["by_route"][TOKEN_ROUTE] == 2  # the refused refresh and the one that worked
        assert stats["by_route"]["GET /api/v4/leads/pipelines"] == 20
        assert stats["responses_429"] == 1  # only the injected one: pacing kept every call inside 7/s

    async def test_calls_rejected_after_a_server_side_expiry_refresh_once_and_replay_paced(
        self, http: httpx.AsyncClient
    ) -> None:
        """When amoCRM expires the token early, twenty calls get 401, share one refresh (after a 429 on the
        first attempt) and replay within the rate: none fails."""
        with running_sandbox(rate_limit_per_second=RATE) as base_url:
            installed = await install(http, base_url, "revoked", leads=3)
            store = InMemoryTokenStore({installed.account_id: installed.pair})
            client = paced_client(http)
            api = client.account(
                installed.account_id, base_url, client.oauth(installed.account_id, base_url, APP, store)
            )
            await asyncio.sleep(1.0)
            await http.post(f"{base_url}/_sandbox/tokens/expire", json={"account_id": installed.account_id})
            await http.post(f"{base_url}/_sandbox/stats/reset")
            await http.post(f"{base_url}/_sandbox/faults", json={"token_429s": 1})

            results = await asyncio.gather(*(api.list_pipelines() for _ in range(20)))

            stats = await sandbox_stats(http, base_url, installed.account_id)
        assert all(pipelines for pipelines in results)
        assert len(store.saves) == 1
        assert stats["by_route"][TOKEN_ROUTE] == 2
        assert stats["responses_429"] == 1

    async def test_a_batch_write_survives_a_refresh_answered_with_5xx(self, http: httpx.AsyncClient) -> None:
        """A create that needs a refresh first is not lost when the token endpoint answers 503 once: the
        refresh is retried and the leads are created exactly once."""
        with running_sandbox(rate_limit_per_second=50.0) as base_url:
            installed = await install(http, base_url, "flaky", leads=0)
            expired = TokenPair(
                access_token=installed.pair.access_token,
                refresh_token=installed.pair.refresh_token,
                expires_at=datetime.now(UTC) - timedelta(seconds=1),
            )
            store = InMemoryTokenStore({installed.account_id: expired})
            client = AmoClient(http, limiter=TokenBucket(50.0), backoff_base=0.05, backoff_max=0.5)
            api = client.account(
                installed.account_id, base_url, client.oauth(installed.account_id, base_url, APP, store)
            )
            await http.post(f"{base_url}/_sandbox/faults", json={"token_5xxs": 1})

            ids = await api.create_leads([{"name": f"batch {n}"} for n in range(30)])

            names = sorted([lead.name or "" async for lead in api.iter_leads()])
        assert len(ids) == 30
        assert names == sorted(f"batch {n}" for n in range(30))
        assert len(store.saves) == 1
