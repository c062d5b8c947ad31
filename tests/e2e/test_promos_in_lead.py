"""Promos reach the lead through the normal pipeline: webhook → worker → "Active promos" / "Coupon" fields."""

from __future__ import annotations

import time
from typing import Any

from integration.db import session_scope
from integration.provisioning import load_provisioned_fields
from integration.settings import Settings
from sync.promos.importing import parse_promo_yaml
from sync.promos.service import import_promos
from tests.integration.webhooks.harness import System, field_value, running_system, wait_for

PROMOS = b"""
promos:
  - key: brand-search-10
    name: Brand search -10%
    description: 10% off the first year.
    condition: utm_campaign == "brand_search"
    code: BRAND10
  - key: personal
    name: Personal coupon
    description: A unique coupon for brand-search leads.
    condition: utm_campaign == "brand_search"
    coupons: [PC-1, PC-2, PC-3]
"""

BRAND_SEARCH = [
    {"field_code": "UTM_SOURCE", "values": [{"value": "yandex"}]},
    {"field_code": "UTM_CAMPAIGN", "values": [{"value": "brand_search"}]},
]


def _import(system: System) -> None:
    with session_scope(system.services.engine) as session:
        outcome = import_promos(
            session=session,
            account_id=system.account_id,
            promo_file=parse_promo_yaml(PROMOS),
            now=int(time.time()),
        )
    assert outcome.ok


class TestPromosInTheLeadCard:
    async def test_campaign_lead_shows_promo_and_its_own_coupon_within_five_seconds(
        self, settings: Settings
    ) -> None:
        """A brand-search lead gets both promos and a unique coupon in its fields, plus a note, in < 5 s."""
        async with running_system(settings, worker=True) as system:
            await system.sandbox.post(f"/_sandbox/accounts/{system.account_id}/seed", json={"leads": 0})
            _import(system)
            with session_scope(system.services.engine) as session:
                fields = load_provisioned_fields(session=session, account_id=system.account_id)
            assert fields is not None
            started = time.monotonic()
            first, second, other = (
                *await system.create_leads(2, custom_fields_values=BRAND_SEARCH),
                *await system.create_leads(1),
            )

            async def coupons_written() -> dict[int, Any] | None:
                leads = await system.leads()
                if all(field_value(leads[i], fields.coupon) for i in (first, second)):
                    return leads
                return None

            leads = await wait_for(coupons_written, within=5.0, what="coupons in the leads")
            assert time.monotonic() - started < 5.0
            coupons = {field_value(leads[i], fields.coupon) for i in (first, second)}
            assert coupons <= {"PC-1", "PC-2", "PC-3"} and len(coupons) == 2
            promos_text = str(field_value(leads[first], fields.promos))
            assert "Brand search -10%" in promos_text and "BRAND10" in promos_text
            assert field_value(leads[other], fields.coupon) is None

            async def noted_leads() -> set[int] | None:
                state = await system.state()
                noted = {int(note["entity_id"]) for note in state["notes"]}
                return noted if {first, second} <= noted else None

            noted = await wait_for(noted_leads, within=5.0, what="the promo notes")
            assert other not in noted
