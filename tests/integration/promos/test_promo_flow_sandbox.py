"""A sandbox lead from a promo's campaign gets the promo and a unique coupon in its amoCRM fields, fast."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine

from integration.amocrm import AccountApi, AmoClient, TokenBucket
from integration.db import session_scope
from rules import classify_lead, default_ruleset
from sync.promos.event_import import as_json
from sync.promos.importing import parse_promo_file
from sync.promos.service import import_promos, load_promo_book, promo_fields_for_lead
from sync.promos.writeback import plan_promo_field_values
from tests.integration.amocrm.sandbox import installed_api, running_sandbox

RATE = 100.0
PROMOS = """
- key: brand
  name: Бренд −10%
  condition: utm_campaign == "brand_search"
  code: BRAND10
- key: brand-gift
  name: Подарок за бренд-поиск
  condition: utm_campaign == "brand_search"
  coupons: [GIFT-1, GIFT-2]
- key: autumn
  name: Осень
  condition: utm_campaign == "retarget_autumn"
  code: AUTUMN
"""


@pytest.fixture
def sandbox_url() -> Iterator[str]:
    with running_sandbox(rate_limit_per_second=RATE) as base_url:
        yield base_url


@pytest.fixture
async def amo(sandbox_url: str) -> AsyncIterator[tuple[AccountApi, int]]:
    async with httpx.AsyncClient(timeout=10) as http:
        client = AmoClient(http, limiter=TokenBucket(RATE), backoff_base=0.01, backoff_max=0.2)
        api, _, account_id = await installed_api(client, sandbox_url, "promoflow", leads=1)
        yield api, account_id


def value_of(lead: dict[str, Any], field_id: int) -> Any:
    for custom in lead.get("custom_fields_values") or ():
        if custom["field_id"] == field_id:
            return custom["values"][0]["value"]
    return None


class TestPromoFlow:
    async def test_campaign_lead_shows_promo_and_coupon_within_5_seconds(
        self, amo: tuple[AccountApi, int], engine: Engine
    ) -> None:
        """Evaluating a new brand-search lead writes its promos and a unique coupon to amoCRM in under 5 s."""
        api, account_id = amo
        created = await api.create_custom_fields(
            "leads",
            [
                {"name": "Активные акции (LeadPact)", "type": "textarea", "code": "LEADPACT_PROMOS"},
                {"name": "Купон (LeadPact)", "type": "text", "code": "LEADPACT_COUPON"},
            ],
        )
        promos_field, coupon_field = (field.id for field in created)
        with session_scope(engine) as session:
            outcome = import_promos(
                session=session,
                account_id=account_id,
                promo_file=parse_promo_file(PROMOS.encode(), filename="promos.yaml"),
                now=1,
            )
            assert outcome.ok
        (lead_id,) = await api.create_leads(
            [
                {
                    "name": "Заявка с бренд-поиска",
                    "custom_fields_values": [
                        {"field_code": "UTM_SOURCE", "values": [{"value": "yandex"}]},
                        {"field_code": "UTM_CAMPAIGN", "values": [{"value": "brand_search"}]},
                    ],
                }
            ]
        )

        started = time.monotonic()
        (lead,) = [as_json(item) for item in await api.get_leads([lead_id])]
        now = datetime.now(UTC)
        classification = classify_lead(default_ruleset(), lead, now=now)
        book = load_promo_book(engine=engine, account_id=account_id, now=now)
        fields = promo_fields_for_lead(
            engine=engine,
            account_id=account_id,
            lead_id=lead_id,
            classification=classification,
            lead=lead,
            now=now,
            book=book,
        )
        entries = plan_promo_field_values(
            lead,
            active_promos=fields.active_promos,
            coupon=fields.coupon,
            promos_field_id=promos_field,
            coupon_field_id=coupon_field,
        )
        await api.update_leads([{"id": lead_id, "custom_fields_values": entries}])
        note = fields.note("ru")
        assert note is not None
        await api.add_notes(
            "leads", [{"entity_id": lead_id, "note_type": "common", "params": {"text": note}}]
        )
        written = as_json(await api.get_lead(lead_id))
        elapsed = time.monotonic() - started

        assert value_of(written, promos_field) == "Бренд −10%: BRAND10; Подарок за бренд-поиск"
        assert value_of(written, coupon_field) == "GIFT-1"
        assert elapsed < 5, f"took {elapsed:.2f} s"
        assert (
            plan_promo_field_values(
                written,
                active_promos=fields.active_promos,
                coupon=fields.coupon,
                promos_field_id=promos_field,
                coupon_field_id=coupon_field,
            )
            == []
        ), "a second evaluation must not write again"
