"""`leadpact stats push` against the sandbox over HTTP: the funnel catalog and the leads' % qualified."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine

from integration.amocrm import AccountApi, AmoClient, TokenBucket
from integration.db import session_scope
from integration.provisioning import provision_account
from integration.storage import stats as storage
from integration.storage.accounts import upsert_account
from integration.storage.leads import LeadSnapshot
from sync.stats.periods import Period
from sync.stats_push import push_stats
from tests.integration.amocrm.sandbox import installed_api, running_sandbox, sandbox_stats

FAST_RATE = 50.0
NOW = int(time.time())
PERIOD = Period.containing(datetime.fromtimestamp(NOW, UTC))


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


async def connected(engine: Engine, client: AmoClient, base_url: str) -> tuple[AccountApi, int, list[int]]:
    """A sandbox account with 6 leads, LeadPact's fields provisioned, and our snapshots of those leads."""
    api, _store, account_id = await installed_api(client, base_url, "funnel", leads=6)
    lead_ids = sorted([lead.id async for lead in api.iter_leads()])
    start, _ = PERIOD.bounds()
    with session_scope(engine) as session:
        upsert_account(
            session=session,
            account_id=account_id,
            subdomain="funnel",
            base_url=base_url,
            language="en",
            credential_kind="oauth",
            new_webhook_key="stats-push-test",
        )
    await provision_account(
        api=api, engine=engine, account_id=account_id, webhook_url="http://127.0.0.1:9/hook", lang="en"
    )
    with session_scope(engine) as session:
        # vk: 2 of 4 qualified (50 %); yandex: 2 of 2 (100 %).
        for index, lead_id in enumerate(lead_ids):
            session.add(
                LeadSnapshot(
                    account_id=account_id,
                    lead_id=lead_id,
                    status_id=1,
                    pipeline_id=1,
                    responsible_user_id=1,
                    created_at=start + 3600,
                    updated_at=start + 3600,
                    channel="vk" if index < 4 else "yandex",
                    qualified=index in (0, 1, 4, 5),
                    price=1000,
                )
            )
        storage.upsert_spend(
            session=session,
            account_id=account_id,
            channel="vk",
            period_start=PERIOD.start,
            period_end=PERIOD.end,
            amount=Decimal("800"),
        )
    return api, account_id, lead_ids


def shown_values(entity: Any) -> dict[str, Any]:
    """Field code → first value, as amoCRM shows an entity's custom fields."""
    return {value.field_code: value.first_value() for value in entity.custom_fields_values or []}


def writes(stats: dict[str, object]) -> int:
    by_route = stats["by_route"]
    assert isinstance(by_route, dict)
    return sum(count for route, count in by_route.items() if not str(route).startswith("GET"))


class TestPushToSandbox:
    async def test_catalog_elements_and_lead_figures_appear_and_a_repush_writes_nothing(
        self, engine: Engine, client: AmoClient, sandbox_url: str
    ) -> None:
        """The catalog gets one element per channel plus a total; pushing again unchanged makes no writes."""
        api, account_id, lead_ids = await connected(engine, client, sandbox_url)

        first = await push_stats(
            api=api, engine=engine, account_id=account_id, period=PERIOD, now=NOW, lang="en"
        )

        assert (first.elements_created, first.elements_updated, first.leads_updated) == (3, 0, 6)
        catalog = next(c for c in await api.list_catalogs() if c.name == "LeadPact funnel")
        elements = {e.name: e async for e in api.iter_catalog_elements(catalog.id)}
        label = PERIOD.label
        assert set(elements) == {f"{label} · vk", f"{label} · yandex", f"{label} · all channels"}
        vk = shown_values(elements[f"{label} · vk"])
        assert float(vk["LEADPACT_QUALIFIED_PCT"]) == 50 and float(vk["LEADPACT_COST_PER_LEAD"]) == 200
        assert int(vk["LEADPACT_AS_OF"]) == NOW
        lead = await api.get_lead(lead_ids[4])
        shown = shown_values(lead)
        assert float(shown["LEADPACT_CHANNEL_QUALIFIED_PCT"]) == 100
        assert int(shown["LEADPACT_CHANNEL_PCT_AS_OF"]) == NOW

        before = await sandbox_stats(client.http, sandbox_url, account_id)
        again = await push_stats(
            api=api, engine=engine, account_id=account_id, period=PERIOD, now=NOW + 600, lang="en"
        )
        after = await sandbox_stats(client.http, sandbox_url, account_id)

        assert (again.elements_created, again.elements_updated, again.leads_updated) == (0, 0, 0)
        assert writes(after) == writes(before)

    async def test_a_changed_figure_rewrites_only_its_element_and_leads(
        self, engine: Engine, client: AmoClient, sandbox_url: str
    ) -> None:
        """One more qualified vk lead updates the vk element, the total and the vk leads only."""
        api, account_id, lead_ids = await connected(engine, client, sandbox_url)
        await push_stats(api=api, engine=engine, account_id=account_id, period=PERIOD, now=NOW, lang="en")
        with session_scope(engine) as session:
            snapshot = session.get(LeadSnapshot, (account_id, lead_ids[2]))
            assert snapshot is not None
            snapshot.qualified = True
            session.add(snapshot)

        second = await push_stats(
            api=api, engine=engine, account_id=account_id, period=PERIOD, now=NOW + 60, lang="en"
        )

        assert (second.elements_created, second.elements_updated, second.leads_updated) == (0, 2, 4)
        lead = await api.get_lead(lead_ids[0])
        shown = shown_values(lead)
        assert float(shown["LEADPACT_CHANNEL_QUALIFIED_PCT"]) == 75
