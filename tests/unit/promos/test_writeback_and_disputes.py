"""The promo fields are written only when they change; disputes are summarised for the weekly report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sync.promos.disputes import disputed_levels, summarise_disputes
from sync.promos.writeback import plan_promo_field_values

PROMOS_FIELD = 514
COUPON_FIELD = 515


def lead_with(promos: str | None, coupon: str | None) -> dict[str, Any]:
    fields = []
    if promos is not None:
        fields.append({"field_id": PROMOS_FIELD, "values": [{"value": promos}]})
    if coupon is not None:
        fields.append({"field_id": COUPON_FIELD, "values": [{"value": coupon}]})
    return {"id": 1, "custom_fields_values": fields}


def plan(lead: dict[str, Any], promos: str, coupon: str | None) -> list[dict[str, Any]]:
    return plan_promo_field_values(
        lead, active_promos=promos, coupon=coupon, promos_field_id=PROMOS_FIELD, coupon_field_id=COUPON_FIELD
    )


class TestPromoFieldValues:
    def test_unchanged_fields_need_no_write(self) -> None:
        """A lead already showing its promos and coupon is not patched again (no echo webhook)."""
        assert plan(lead_with("Spring: S10", "V1"), "Spring: S10", "V1") == []

    def test_new_promo_and_coupon_are_written(self) -> None:
        """A lead that starts matching gets both fields set."""
        assert plan(lead_with(None, None), "Spring: S10", "V1") == [
            {"field_id": PROMOS_FIELD, "values": [{"value": "Spring: S10"}]},
            {"field_id": COUPON_FIELD, "values": [{"value": "V1"}]},
        ]

    def test_ended_promos_are_cleared(self) -> None:
        """When nothing applies any more, the fields are emptied rather than left stale."""
        assert plan(lead_with("Spring: S10", "V1"), "", None) == [
            {"field_id": PROMOS_FIELD, "values": None},
            {"field_id": COUPON_FIELD, "values": None},
        ]


@dataclass(frozen=True)
class Dispute:
    lead_id: int
    channel: str | None
    level: str | None
    reason: str
    created_at: int


class TestDisputeSummary:
    def test_groups_by_channel_and_level_counting_each_lead_once(self) -> None:
        """The report shows which channel/level reps dispute most, and why, each lead counted once."""
        disputes = [
            Dispute(1, "ads", "hot", "спам", 10),
            Dispute(1, "ads", "hot", "конкурент", 20),
            Dispute(2, "ads", "hot", "конкурент", 15),
            Dispute(3, "seo", "cold", "реальный клиент", 12),
        ]
        summary = summarise_disputes(disputes)
        assert [(g.channel, g.level, g.leads, g.top_reasons) for g in summary] == [
            ("ads", "hot", 2, (("конкурент", 2),)),
            ("seo", "cold", 1, (("реальный клиент", 1),)),
        ]
        assert disputed_levels(disputes) == {1: "hot", 2: "hot", 3: "cold"}
