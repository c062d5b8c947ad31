"""Marketers edit promos in the amoCRM catalog "LeadPact promos"; LeadPact and the catalog stay in step."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine

from integration.amocrm import AccountApi, AmoClient, TokenBucket
from integration.db import session_scope
from integration.storage import accounts as account_store
from integration.storage import promos as store
from sync.promos.catalog import CATALOG_NAME, date_to_amo, sync_promo_catalog
from sync.promos.importing import parse_promo_file
from sync.promos.service import import_promos
from tests.integration.amocrm.sandbox import installed_api, running_sandbox

RATE = 100.0
PROMOS = (
    "key,name,description,condition,code,ends_on\n"
    'spring,Весна,Скидка 10%,"utm_campaign == ""spring""",SPRING10,2026-05-31\n'
)


@pytest.fixture
def sandbox_url() -> Iterator[str]:
    with running_sandbox(rate_limit_per_second=RATE) as base_url:
        yield base_url


@pytest.fixture
async def amo(sandbox_url: str, engine: Engine) -> AsyncIterator[tuple[AccountApi, int]]:
    async with httpx.AsyncClient(timeout=10) as http:
        client = AmoClient(http, limiter=TokenBucket(RATE), backoff_base=0.01, backoff_max=0.2)
        api, _, account_id = await installed_api(client, sandbox_url, "promocat")
        with session_scope(engine) as session:
            account_store.upsert_account(
                session=session,
                account_id=account_id,
                subdomain="promocat",
                base_url=sandbox_url,
                language="ru",
                credential_kind="oauth",
                new_webhook_key="k",
            )
            import_promos(
                session=session,
                account_id=account_id,
                promo_file=parse_promo_file(PROMOS.encode(), filename="p.csv"),
                now=1,
            )
        yield api, account_id


async def elements(api: AccountApi, catalog_id: int) -> list[dict[str, Any]]:
    return [element.model_dump(by_alias=True) async for element in api.iter_catalog_elements(catalog_id)]


def field_value(element: dict[str, Any], field_id: int) -> Any:
    for custom in element.get("custom_fields_values") or ():
        if custom["field_id"] == field_id:
            return custom["values"][0]["value"]
    return None


class TestCatalogSync:
    async def test_first_sync_provisions_the_catalog_and_publishes_promos(
        self, amo: tuple[AccountApi, int], engine: Engine
    ) -> None:
        """After the first sync, the catalog exists in amoCRM with every LeadPact promo as an element."""
        api, account_id = amo
        report = await sync_promo_catalog(api, engine=engine, account_id=account_id, lang="ru", now=2)
        assert (report.pushed_new, report.errors) == (1, ())
        catalogs = [c for c in await api.list_catalogs() if c.name == CATALOG_NAME.ru]
        assert len(catalogs) == 1
        (element,) = await elements(api, catalogs[0].id)
        assert element["name"] == "Весна"
        again = await sync_promo_catalog(api, engine=engine, account_id=account_id, lang="ru", now=3)
        assert (again.pulled, again.pushed_new, again.pushed_updates) == (0, 0, 0)
        assert len([c for c in await api.list_catalogs() if c.name == CATALOG_NAME.ru]) == 1

    async def test_edits_and_new_elements_in_amocrm_reach_leadpact(
        self, amo: tuple[AccountApi, int], engine: Engine
    ) -> None:
        """A marketer's edit of a promo and a new promo with coupons, made in amoCRM, arrive in LeadPact."""
        api, account_id = amo
        await sync_promo_catalog(api, engine=engine, account_id=account_id, lang="ru", now=2)
        with session_scope(engine) as session:
            fields = {
                f.key: f.amo_id for f in account_store.list_fields(session=session, account_id=account_id)
            }
        catalog_id = fields["catalog.promos"]
        (element,) = await elements(api, catalog_id)
        await api.update_catalog_elements(
            catalog_id,
            [
                {
                    "id": element["id"],
                    "name": "Весна (продлена)",
                    "custom_fields_values": [
                        {
                            "field_id": fields["catalog.promos.ends_on"],
                            "values": [{"value": date_to_amo(date(2026, 6, 30))}],
                        }
                    ],
                }
            ],
        )
        await api.create_catalog_elements(
            catalog_id,
            [
                {
                    "name": "VIP",
                    "custom_fields_values": [
                        {
                            "field_id": fields["catalog.promos.condition"],
                            "values": [{"value": 'level == "hot"'}],
                        },
                        {"field_id": fields["catalog.promos.coupons"], "values": [{"value": "V1 V2 V3"}]},
                    ],
                },
                {
                    "name": "Broken",
                    "custom_fields_values": [
                        {"field_id": fields["catalog.promos.condition"], "values": [{"value": "level =="}]}
                    ],
                },
            ],
        )
        report = await sync_promo_catalog(api, engine=engine, account_id=account_id, lang="en", now=3)
        assert report.pulled == 2 and report.coupons_added == 3
        assert len(report.errors) == 1 and "Broken" in report.render_errors("en")[0]
        with session_scope(engine) as session:
            spring = store.get_promo(session=session, account_id=account_id, key="spring")
            vip = store.get_promo(session=session, account_id=account_id, key="VIP")
            assert (
                spring is not None
                and spring.name == "Весна (продлена)"
                and spring.ends_on == date(2026, 6, 30)
            )
            assert vip is not None and vip.uses_coupon_pool and vip.id is not None
            assert store.pool_stats(session=session, account_id=account_id)[vip.id].total == 3

    async def test_changes_made_in_leadpact_are_written_to_the_catalog(
        self, amo: tuple[AccountApi, int], engine: Engine
    ) -> None:
        """A promo re-imported with a new description updates its catalog element."""
        api, account_id = amo
        await sync_promo_catalog(api, engine=engine, account_id=account_id, lang="ru", now=2)
        with session_scope(engine) as session:
            import_promos(
                session=session,
                account_id=account_id,
                promo_file=parse_promo_file(
                    PROMOS.replace("Скидка 10%", "Скидка 15%").encode(), filename="p.csv"
                ),
                now=5,
            )
            fields = {
                f.key: f.amo_id for f in account_store.list_fields(session=session, account_id=account_id)
            }
        report = await sync_promo_catalog(api, engine=engine, account_id=account_id, lang="ru", now=6)
        assert report.pushed_updates == 1 and report.pulled == 0
        (element,) = await elements(api, fields["catalog.promos"])
        assert field_value(element, fields["catalog.promos.description"]) == "Скидка 15%"
