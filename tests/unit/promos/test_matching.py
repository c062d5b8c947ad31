"""Which promos a sales rep sees for a lead."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest

from rules.promo import Promo, lead_facts
from sync.promos.matching import (
    PromoConditionError,
    candidate_promos,
    compile_promos,
    format_active_promos,
    match_promos,
)

NOW = datetime(2026, 5, 10, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class FakeClassification:
    channel: str | None
    level: str | None
    qualified: bool | None = None


def lead(
    campaign: str | None = None, source: str | None = None, pipeline_id: int = 7, **extra: Any
) -> dict[str, Any]:
    fields = []
    if campaign is not None:
        fields.append({"field_code": "UTM_CAMPAIGN", "values": [{"value": campaign}]})
    if source is not None:
        fields.append({"field_code": "UTM_SOURCE", "values": [{"value": source}]})
    return {"id": 1, "pipeline_id": pipeline_id, "status_id": 10, "custom_fields_values": fields, **extra}


class TestConditions:
    def test_campaign_promo_applies_only_to_leads_from_that_campaign(self) -> None:
        """A lead from the spring campaign sees the spring promo; a lead from another campaign does not."""
        promos = [Promo(key="spring", name="Spring", condition='utm_campaign == "spring"')]
        ads = FakeClassification("ads", "hot")
        assert [m.key for m in match_promos(promos, ads, lead("spring"), NOW)] == ["spring"]
        assert match_promos(promos, ads, lead("autumn"), NOW) == []

    def test_level_and_channel_conditions_use_the_classification(self) -> None:
        """A promo for hot leads from ads skips warm ads leads and hot SEO leads."""
        promos = [Promo(key="hot-ads", name="Hot ads", condition='channel == "ads" and level in ["hot"]')]
        assert match_promos(promos, FakeClassification("ads", "hot"), lead(), NOW)
        assert not match_promos(promos, FakeClassification("ads", "warm"), lead(), NOW)
        assert not match_promos(promos, FakeClassification("seo", "hot"), lead(), NOW)

    def test_numeric_pipeline_condition_matches_the_leads_pipeline(self) -> None:
        """A promo bound to pipeline 7 applies to leads in pipeline 7 only."""
        promos = [Promo(key="p7", name="P7", condition="pipeline_id == 7")]
        assert match_promos(promos, None, lead(pipeline_id=7), NOW)
        assert not match_promos(promos, None, lead(pipeline_id=8), NOW)

    def test_empty_condition_applies_to_every_lead(self) -> None:
        """A promo without a condition is shown on every lead."""
        promos = [Promo(key="all", name="Everyone")]
        assert [m.key for m in match_promos(promos, None, lead(), NOW)] == ["all"]

    def test_condition_that_cannot_be_evaluated_does_not_apply(self) -> None:
        """A tag condition on a lead whose facts don't fit simply does not match instead of crashing."""
        promos = [Promo(key="vip", name="VIP", condition='"vip" in product')]
        assert match_promos(promos, None, lead(), NOW) == []

    def test_tags_are_available_to_conditions(self) -> None:
        """A promo for leads tagged `vip` applies to such leads."""
        promos = [Promo(key="vip", name="VIP", condition='"vip" in tags')]
        tagged = lead(_embedded={"tags": [{"id": 1, "name": "vip"}]})
        assert match_promos(promos, None, tagged, NOW)
        assert not match_promos(promos, None, lead(), NOW)

    def test_invalid_condition_is_refused_with_its_text(self) -> None:
        """A typo in a condition is reported when the promos are compiled, naming the condition."""
        with pytest.raises(PromoConditionError) as raised:
            compile_promos([Promo(key="bad", name="Bad", condition='channel == "ads" and')])
        assert 'channel == "ads" and' in str(raised.value)


class TestValidity:
    @pytest.mark.parametrize(
        ("starts_on", "ends_on", "applies"),
        [
            (date(2026, 5, 1), date(2026, 5, 31), True),
            (date(2026, 5, 10), date(2026, 5, 10), True),
            (date(2026, 5, 11), None, False),
            (None, date(2026, 5, 9), False),
        ],
    )
    def test_promo_applies_only_between_its_dates(
        self, starts_on: date | None, ends_on: date | None, applies: bool
    ) -> None:
        """A promo shows from its first to its last day inclusive, and not outside them."""
        promos = [Promo(key="p", name="P", starts_on=starts_on, ends_on=ends_on)]
        assert bool(match_promos(promos, None, lead(), NOW)) is applies


class TestIndex:
    def test_only_promos_of_the_leads_campaign_are_evaluated(self) -> None:
        """With many campaign promos, a lead evaluates only its campaign's promos and the unindexed ones."""
        promos = [Promo(key=f"c{i}", name=f"C{i}", condition=f'utm_campaign == "c{i}"') for i in range(100)]
        promos.append(Promo(key="generic", name="Generic", condition="price > 100"))
        book = compile_promos(promos)
        facts = lead_facts(None, lead("c42"))
        assert sorted(c.promo.key for c in candidate_promos(book, facts)) == ["c42", "generic"]

    def test_in_list_promo_is_found_under_each_value(self) -> None:
        """A promo for two channels applies to leads of either channel and not a third."""
        promos = [Promo(key="two", name="Two", condition='channel in ["ads", "seo"] and level == "hot"')]
        book = compile_promos(promos)
        for channel, expected in (("ads", True), ("seo", True), ("direct", False)):
            assert bool(match_promos(book, FakeClassification(channel, "hot"), lead(), NOW)) is expected

    def test_indexed_and_plain_matching_agree(self) -> None:
        """Indexing changes only the speed: results equal evaluating every promo."""
        conditions = [
            'utm_campaign == "a"',
            'channel == "ads" or level == "hot"',
            '"b" == utm_source and level != "cold"',
            'level in ["hot", "warm"]',
            "pipeline_id == 7 and price > 10",
            "",
        ]
        promos = [Promo(key=f"p{i}", name=f"P{i}", condition=c) for i, c in enumerate(conditions)]
        book = compile_promos(promos)
        for channel in ("ads", "seo"):
            for level in ("hot", "warm", "cold"):
                for campaign in ("a", "b"):
                    for source in ("a", "b"):
                        item = lead(campaign, source, price=50)
                        cls = FakeClassification(channel, level)
                        indexed = [m.key for m in match_promos(book, cls, item, NOW)]
                        everything = [
                            p.key for p in promos if match_promos(compile_promos([p]), cls, item, NOW)
                        ]
                        assert indexed == everything

    def test_tag_promo_is_found_through_the_leads_tags(self) -> None:
        """A promo for `vip`-tagged leads is evaluated only for leads carrying that tag, once."""
        promos = [Promo(key="vip", name="VIP", condition='"vip" in tags and level == "hot"')]
        book = compile_promos(promos)
        tagged = lead(_embedded={"tags": [{"name": "vip"}, {"name": "vip"}, {"name": "b2b"}]})
        assert [c.promo.key for c in candidate_promos(book, lead_facts(None, tagged))] == ["vip"]
        assert candidate_promos(book, lead_facts(None, lead())) == []
        assert [m.key for m in match_promos(book, FakeClassification("ads", "hot"), tagged, NOW)] == ["vip"]

    def test_matches_keep_the_order_promos_were_defined_in(self) -> None:
        """The rep sees promos in the order marketing listed them, whatever index found them."""
        promos = [
            Promo(key="generic", name="Generic"),
            Promo(key="campaign", name="Campaign", condition='utm_campaign == "x"'),
            Promo(key="channel", name="Channel", condition='channel == "ads"'),
        ]
        keys = [m.key for m in match_promos(promos, FakeClassification("ads", "hot"), lead("x"), NOW)]
        assert keys == ["generic", "campaign", "channel"]


class TestActivePromosText:
    def test_field_text_lists_names_with_shared_codes(self) -> None:
        """The "Active promos" field reads `Name: CODE; Other` so the rep can dictate the code."""
        promos = [Promo(key="a", name="Spring", shared_code="SPRING10"), Promo(key="b", name="Webinar")]
        assert format_active_promos(match_promos(promos, None, lead(), NOW)) == "Spring: SPRING10; Webinar"


class TestPublicNames:
    def test_package_exports_exactly_the_documented_names(self) -> None:
        """The worker and other areas rely on these names; nothing else leaks from `sync.promos`."""
        import sync.promos

        assert sorted(sync.promos.__all__) == [
            "Promo",
            "PromoBook",
            "PromoMatch",
            "compile_promos",
            "format_active_promos",
            "lead_facts",
            "match_promos",
        ]
