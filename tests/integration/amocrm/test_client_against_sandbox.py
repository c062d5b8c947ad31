"""The client against the sandbox over real HTTP: token rotation, a 429 storm, batching, pagination."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from integration.amocrm import AmoClient, TokenBucket, TokenRefreshFailed, ValidationFailed
from tests.integration.amocrm.sandbox import APP, installed_api, running_sandbox, sandbox_stats

FAST_RATE = 50.0  # tests that are not about pacing run the sandbox and the client at a higher limit


@pytest.fixture
def sandbox_url() -> Iterator[str]:
    with running_sandbox(rate_limit_per_second=FAST_RATE) as base_url:
        yield base_url


@pytest.fixture
async def client() -> AsyncIterator[AmoClient]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield AmoClient(
            http, limiter=TokenBucket(FAST_RATE), backoff_base=0.01, backoff_max=0.2, max_retries=12
        )


class TestTokenRotation:
    async def test_expired_token_is_refreshed_and_rotated(self, sandbox_url: str, client: AmoClient) -> None:
        """When the sandbox expires the access token, calls keep working and the old refresh token is dead."""
        api, store, account_id = await installed_api(client, sandbox_url, "rotation")
        first = await store.load(account_id)
        assert first is not None and first.refresh_token is not None
        expired = await client.http.post(
            f"{sandbox_url}/_sandbox/tokens/expire", json={"account_id": account_id}
        )
        assert expired.json()["expired"] >= 1

        info = await api.get_account()

        assert info.id == account_id
        rotated = await store.load(account_id)
        assert rotated is not None and rotated.refresh_token is not None
        assert rotated.refresh_token != first.refresh_token
        with pytest.raises(TokenRefreshFailed):
            await APP.refresh(client.http, sandbox_url, first.refresh_token)

    async def test_concurrent_calls_after_expiry_share_one_refresh(
        self, sandbox_url: str, client: AmoClient
    ) -> None:
        """Ten concurrent calls with an expired token cause one refresh, so the single-use token survives."""
        api, store, account_id = await installed_api(client, sandbox_url, "flight")
        await client.http.post(f"{sandbox_url}/_sandbox/tokens/expire", json={"account_id": account_id})

        results = await asyncio.gather(*(api.list_pipelines() for _ in range(10)))

        assert all(results)
        assert len(store.saves) == 1
        assert store.needs_reauth == {}


class TestRateLimitStorm:
    async def test_writes_survive_a_429_storm_exactly_once(self, client: AmoClient) -> None:
        """With half the requests refused by 429, every create and update lands, and none twice."""
        # Enough retries that 0.5^(n+1) per request is negligible; backoff_max keeps the worst case short.
        client = AmoClient(
            client.http, limiter=client.limiter, backoff_base=0.01, backoff_max=0.1, max_retries=24
        )
        with running_sandbox(rate_limit_per_second=FAST_RATE) as base_url:
            api, _, account_id = await installed_api(client, base_url, "storm")
            await client.http.post(f"{base_url}/_sandbox/faults", json={"rate_429": 0.5})

            created = await asyncio.gather(*(api.create_leads([{"name": f"storm {n}"}]) for n in range(20)))
            ids = [lead_id for batch in created for lead_id in batch]
            await api.update_leads([{"id": lead_id, "price": 700} for lead_id in ids])

            stats = await sandbox_stats(client.http, base_url, account_id)
            await client.http.post(f"{base_url}/_sandbox/faults", json={"rate_429": 0})
            leads = [lead async for lead in api.iter_leads()]

        storm = [lead for lead in leads if (lead.name or "").startswith("storm ")]
        assert sorted(lead.name or "" for lead in storm) == sorted(f"storm {n}" for n in range(20))
        assert {lead.price for lead in storm} == {700}
        assert stats["responses_429"] > 0


class TestBatchingAndPagination:
    async def test_600_lead_update_is_three_patch_calls(self, sandbox_url: str, client: AmoClient) -> None:
        """Updating 600 leads costs three PATCH requests at the sandbox and changes all 600."""
        api, _, account_id = await installed_api(client, sandbox_url, "batch", leads=600)
        ids = [lead.id async for lead in api.iter_leads()]
        await client.http.post(f"{sandbox_url}/_sandbox/stats/reset")

        await api.update_leads([{"id": lead_id, "price": 4242} for lead_id in ids])

        stats = await sandbox_stats(client.http, sandbox_url, account_id)
        assert len(ids) == 600
        assert stats["by_route"] == {"PATCH /api/v4/leads": 3}
        assert {lead.price async for lead in api.iter_leads()} == {4242}

    async def test_pagination_reads_600_leads_in_three_pages(
        self, sandbox_url: str, client: AmoClient
    ) -> None:
        """Iterating 600 leads yields each once, in three page requests of 250."""
        api, _, account_id = await installed_api(client, sandbox_url, "pages", leads=600)
        await client.http.post(f"{sandbox_url}/_sandbox/stats/reset")

        ids = [lead.id async for lead in api.iter_leads()]

        stats = await sandbox_stats(client.http, sandbox_url, account_id)
        assert len(ids) == len(set(ids)) == 600
        assert stats["by_route"] == {"GET /api/v4/leads": 3}

    async def test_lookup_by_ids_and_empty_answers(self, sandbox_url: str, client: AmoClient) -> None:
        """Leads are fetched by id with their contacts; unknown ids give an empty list (amoCRM's 204)."""
        api, _, _ = await installed_api(client, sandbox_url, "lookup", leads=30)
        ids = [lead.id async for lead in api.iter_leads()]

        found = await api.get_leads(ids[:10])

        assert sorted(lead.id for lead in found) == sorted(ids[:10])
        assert await api.get_leads([999_999_999]) == []


class TestValidation:
    async def test_invalid_update_reports_the_refused_field(
        self, sandbox_url: str, client: AmoClient
    ) -> None:
        """A PATCH with an unknown custom field comes back as ValidationFailed naming the entity and path."""
        api, _, _ = await installed_api(client, sandbox_url, "invalid", leads=1)
        lead_ids = [lead.id async for lead in api.iter_leads()]
        lead_id = lead_ids[0]

        with pytest.raises(ValidationFailed) as raised:
            await api.update_leads(
                [{"id": lead_id, "custom_fields_values": [{"field_id": 1, "values": [{"value": "x"}]}]}]
            )

        assert raised.value.issues
        assert raised.value.issues[0].request_id == "0"


class TestEventsList:
    async def test_events_are_read_in_pages_of_at_most_100(self, sandbox_url: str, client: AmoClient) -> None:
        """The seeded status history is read whole, in pages the sandbox accepts (≤ 100), even through paginate."""
        api, _, account_id = await installed_api(client, sandbox_url, "history", leads=120)
        await client.http.post(f"{sandbox_url}/_sandbox/stats/reset")
        moves = {"filter[type]": "lead_status_changed"}

        events = [event async for event in api.iter_events(params=moves)]
        again = [event async for event in api.paginate("events", "events", params=moves)]

        stats = await sandbox_stats(client.http, sandbox_url, account_id)
        assert len(events) > 100
        assert {event["type"] for event in events} == {"lead_status_changed"}
        assert [e["id"] for e in again] == [e["id"] for e in events]
        pages = -(-len(events) // 100)
        assert stats["by_route"] == {"GET /api/v4/events": 2 * pages}
