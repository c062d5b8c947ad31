"""The scheduled stats job: every connected account gets its figures; last month's bonus is frozen once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy.engine import Engine

from integration.amocrm.models import Catalog, CatalogElement, CustomField
from integration.db import session_scope
from integration.storage import stats as storage
from integration.storage.accounts import upsert_account
from sync.stats_push import push_all_accounts, run_stats_pusher
from tests.integration.stats.conftest import ACCOUNT, OTHER_ACCOUNT, Dataset

DECEMBER_2 = int(datetime(2026, 12, 2, 9, tzinfo=UTC).timestamp())


class FakeAmo:
    """A tiny in-memory amoCRM holding catalogs, their fields and elements; records every write."""

    def __init__(self) -> None:
        self.catalogs: list[Catalog] = []
        self.fields: dict[str, list[CustomField]] = {}
        self.elements: list[CatalogElement] = []
        self.writes: list[str] = []

    async def list_catalogs(self) -> list[Catalog]:
        return list(self.catalogs)

    async def create_catalogs(self, catalogs: Sequence[Mapping[str, Any]]) -> list[Catalog]:
        self.writes.append("catalogs")
        created = [Catalog(id=100 + len(self.catalogs), name=c["name"]) for c in catalogs]
        self.catalogs += created
        return created

    async def list_custom_fields(self, entity: str = "leads") -> list[CustomField]:
        return list(self.fields.get(entity, []))

    async def create_custom_fields(
        self, entity: str, fields: Sequence[Mapping[str, Any]]
    ) -> list[CustomField]:
        self.writes.append(f"{entity}/custom_fields")
        existing = self.fields.setdefault(entity, [])
        created = [
            CustomField(id=500 + len(existing) + i, name=f["name"], type=f["type"], code=f["code"])
            for i, f in enumerate(fields)
        ]
        existing += created
        return created

    async def iter_catalog_elements(
        self, catalog_id: int, *, params: Any = None
    ) -> AsyncIterator[CatalogElement]:
        for element in self.elements:
            yield element

    async def create_catalog_elements(
        self, catalog_id: int, elements: Sequence[Mapping[str, Any]]
    ) -> list[CatalogElement]:
        self.writes.append("elements:create")
        created = [
            CatalogElement(id=900 + len(self.elements) + i, name=e["name"]) for i, e in enumerate(elements)
        ]
        self.elements += created
        return created

    async def update_catalog_elements(self, catalog_id: int, elements: Sequence[Mapping[str, Any]]) -> None:
        self.writes.append("elements:update")

    async def update_leads(self, leads: Sequence[Mapping[str, Any]]) -> None:
        self.writes.append("leads")


class Connector:
    def __init__(self, apis: dict[int, FakeAmo]) -> None:
        self.apis = apis

    def api_for(self, account_id: int) -> FakeAmo:
        if account_id not in self.apis:
            raise RuntimeError(f"account {account_id} needs re-authorisation")
        return self.apis[account_id]


def connect(engine: Engine, *account_ids: int) -> None:
    with session_scope(engine) as session:
        for account_id in account_ids:
            upsert_account(
                session=session,
                account_id=account_id,
                subdomain=f"a{account_id}",
                base_url="http://127.0.0.1:9",
                language="en",
                credential_kind="oauth",
                new_webhook_key=f"key-{account_id}",
            )


class TestScheduledPush:
    async def test_each_account_is_pushed_and_a_failing_one_does_not_stop_the_others(
        self, november: Dataset
    ) -> None:
        """Account 2 cannot be reached; account 1 still gets its catalog elements for November and December."""
        connect(november.engine, ACCOUNT, OTHER_ACCOUNT)
        amo = FakeAmo()

        results = await push_all_accounts(
            engine=november.engine, connector=Connector({ACCOUNT: amo}), now=DECEMBER_2
        )

        assert results[OTHER_ACCOUNT] is None
        result = results[ACCOUNT]
        assert (
            result is not None and result.elements_created == 1
        )  # December: no leads yet, one total element
        assert [c.name for c in amo.catalogs] == ["LeadPact funnel"]
        # Early December, November's element still follows late changes.
        names = {element.name for element in amo.elements}
        assert {
            "2026-11 · vk",
            "2026-11 · yandex",
            "2026-11 · all channels",
            "2026-12 · all channels",
        } <= names
        assert result.lead_field_missing  # LeadPact's lead fields were never provisioned here

    async def test_last_month_is_frozen_once_when_it_had_a_plan(self, november: Dataset) -> None:
        """On 2 December the November bonus base (90 qualified leads) is frozen, and not again on the next run."""
        connect(november.engine, ACCOUNT)
        connector = Connector({ACCOUNT: FakeAmo()})

        await push_all_accounts(engine=november.engine, connector=connector, now=DECEMBER_2)
        await push_all_accounts(engine=november.engine, connector=connector, now=DECEMBER_2 + 3600)

        with session_scope(november.engine) as session:
            snapshot = storage.get_bonus_snapshot(
                session=session,
                account_id=ACCOUNT,
                period_start=datetime(2026, 11, 1).date(),
                period_end=datetime(2026, 11, 30).date(),
            )
        assert snapshot is not None and snapshot.figures["base"] == 90 and snapshot.frozen_at == DECEMBER_2

    async def test_a_second_run_with_unchanged_figures_writes_nothing(self, november: Dataset) -> None:
        """An hour later nothing changed, so no catalog, field or element is written again."""
        connect(november.engine, ACCOUNT)
        amo = FakeAmo()
        connector = Connector({ACCOUNT: amo})
        await push_all_accounts(engine=november.engine, connector=connector, now=DECEMBER_2)
        written = list(amo.writes)

        await push_all_accounts(engine=november.engine, connector=connector, now=DECEMBER_2 + 3600)

        assert amo.writes == written


class TestSettledMonths:
    async def test_a_month_long_closed_is_not_pushed_again(self, november: Dataset) -> None:
        """On 20 December only December's element is written; November has settled."""
        connect(november.engine, ACCOUNT)
        amo = FakeAmo()

        await push_all_accounts(
            engine=november.engine, connector=Connector({ACCOUNT: amo}), now=DECEMBER_2 + 18 * 86_400
        )

        assert {element.name for element in amo.elements} == {"2026-12 · all channels"}


class TestBackgroundTask:
    async def test_the_background_task_pushes_soon_after_start_and_stops_cleanly(
        self, november: Dataset
    ) -> None:
        """Started beside the worker, it writes the catalog shortly after start and ends when asked to stop."""
        connect(november.engine, ACCOUNT)
        amo = FakeAmo()
        services = SimpleNamespace(engine=november.engine, connector=Connector({ACCOUNT: amo}))
        stop = asyncio.Event()
        task = asyncio.create_task(run_stats_pusher(services, stop, first_run_after=0.05))  # type: ignore[arg-type]

        for _ in range(200):
            if "elements:create" in amo.writes:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, timeout=5)

        assert "elements:create" in amo.writes
