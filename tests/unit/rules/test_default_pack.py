"""The default pack classifies the demo accounts' leads the way marketing and sales agreed."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from rules import Classification, classify_lead, default_ruleset
from rules.loader import RuleSet
from tests.unit.rules.factories import NOW, contact, make_lead


@pytest.fixture(scope="module")
def pack() -> RuleSet:
    return default_ruleset()


def classify(pack: RuleSet, lead: dict[str, Any], **kwargs: Any) -> Classification:
    return classify_lead(pack, lead, now=NOW, **kwargs)


FULL_BANT: dict[str, Any] = {"BUDGET": 500000, "DECISION_MAKER": True, "NEED": "CRM for 20 managers"}
SEED_EXAMPLES: list[tuple[str, dict[str, Any], str, str, bool]] = [
    (
        "yandex cpc, all four BANT criteria",
        {"UTM_SOURCE": "yandex", "UTM_MEDIUM": "cpc", **FULL_BANT, "DECISION_DATE": date(2027, 3, 1)},
        "yandex_direct",
        "hot",
        True,
    ),
    (
        "google cpc, three criteria, no date",
        {"UTM_SOURCE": "google", "UTM_MEDIUM": "cpc", **FULL_BANT},
        "google_ads",
        "warm",
        True,
    ),
    (
        "vk social, product chosen only",
        {"UTM_SOURCE": "vk", "UTM_MEDIUM": "social", "PRODUCT": "CRM Pro"},
        "vk",
        "warm",
        False,
    ),
    (
        "email newsletter, nothing else",
        {"UTM_SOURCE": "email", "UTM_MEDIUM": "newsletter"},
        "email",
        "cold",
        False,
    ),
    ("referral by utm", {"UTM_SOURCE": "referral", "NEED": "a quote"}, "referral", "warm", False),
    (
        "tiktok is its own experimental channel",
        {"UTM_SOURCE": "tiktok", "UTM_MEDIUM": "cpc"},
        "tiktok",
        "cold",
        False,
    ),
    ("no UTM at all is direct", {}, "direct", "cold", False),
    (
        "yandex without paid medium is not Direct",
        {"UTM_SOURCE": "yandex", "UTM_MEDIUM": "organic"},
        "direct",
        "cold",
        False,
    ),
    (
        "far decision date is warm, not hot",
        {**FULL_BANT, "DECISION_DATE": date(2028, 1, 1)},
        "direct",
        "warm",
        True,
    ),
    (
        "passed decision date is not hot",
        {"NEED": "x", "DECISION_DATE": date(2026, 1, 10)},
        "direct",
        "warm",
        False,
    ),
    (
        "date exactly six months ahead still counts",
        {"DECISION_DATE": date(2027, 5, 23)},
        "direct",
        "hot",
        False,
    ),
    ("a day beyond six months does not", {"DECISION_DATE": date(2027, 5, 24)}, "direct", "cold", False),
    (
        "budget and date as strings are read",
        {"BUDGET": "150 000", "DECISION_MAKER": "1", "DECISION_DATE": "01.02.2027"},
        "direct",
        "hot",
        True,
    ),
    (
        "ISO date strings are read",
        {"DECISION_DATE": "2027-02-01", "NEED": "y", "BUDGET": 100000},
        "direct",
        "hot",
        True,
    ),
    ("upper-case UTM values match", {"UTM_SOURCE": "VK"}, "vk", "cold", False),
]


class TestSeedExamples:
    @pytest.mark.parametrize(
        ("lead_fields", "channel", "level", "qualified"),
        [example[1:] for example in SEED_EXAMPLES],
        ids=[example[0] for example in SEED_EXAMPLES],
    )
    def test_seed_lead_gets_the_agreed_channel_level_and_target(
        self, pack: RuleSet, lead_fields: dict[str, Any], channel: str, level: str, qualified: bool
    ) -> None:
        """Each demo lead lands in the channel, level and target status both departments agreed on."""
        result = classify(pack, make_lead(**lead_fields))
        assert (result.channel, result.level, result.qualified) == (channel, level, qualified)

    def test_hot_lead_explains_its_date_in_russian(self, pack: RuleSet) -> None:
        """A hot lead says which date made it hot and against what horizon, as the brief's example reads."""
        result = classify(pack, make_lead(DECISION_DATE=date(2027, 3, 1)))
        assert result.level_explanation["ru"] == "Горячий: дата решения 2027-03-01 — в пределах 6 месяцев"
        assert result.level_explanation["en"] == "Hot: decision date 2027-03-01 is within 6 months"

    def test_target_explanation_lists_the_criteria_met(self, pack: RuleSet) -> None:
        """A target lead lists the criteria it met and the count, readable in one line."""
        result = classify(pack, make_lead(UTM_SOURCE="google", UTM_MEDIUM="cpc", **FULL_BANT))
        assert result.qualified_explanation["en"] == (
            "Target: budget 500 000 ≥ 100 000; decision maker = yes; need filled (3 of 4)"
        )
        assert result.qualified_explanation["ru"] == (
            "Целевой: бюджет 500 000 ≥ 100 000; ЛПР = да; потребность: указано (3 из 4)"
        )

    def test_full_explanation_is_one_line_with_level_target_and_channel(self, pack: RuleSet) -> None:
        """The one-line reason names level, target verdict and channel in both languages."""
        result = classify(pack, make_lead(UTM_SOURCE="tiktok", DECISION_DATE=date(2027, 1, 15)))
        for lang in ("ru", "en"):
            line = result.reason(lang)
            assert "\n" not in line
            assert line.startswith(result.level_explanation[lang])
            assert result.qualified_explanation[lang] in line
        assert result.reason("en").endswith("Channel: TikTok (experimental)")
        assert result.experimental is True

    def test_cold_lead_explains_it_gave_nothing_more(self, pack: RuleSet) -> None:
        """A lead with nothing but a contact is cold, and the reason says so."""
        result = classify(pack, make_lead(), contacts=[contact(phone="+7 900 000-00-00")])
        assert result.level_explanation["en"] == "Cold: contacted us but gave nothing more"

    def test_reply_received_tag_makes_a_lead_warm(self, pack: RuleSet) -> None:
        """Sales tagging a lead "ответ получен" is stated interest, so the lead is warm."""
        assert classify(pack, make_lead(tags=("Ответ получен",))).level == "warm"

    def test_referral_tag_overrides_missing_utm(self, pack: RuleSet) -> None:
        """A lead tagged as a recommendation counts as referral even without UTM marks."""
        assert classify(pack, make_lead(tags=("рекомендация",))).channel == "referral"

    def test_every_classification_records_the_rule_version(self, pack: RuleSet) -> None:
        """The classification carries the version of the rules that produced it."""
        assert classify(pack, make_lead()).rule_version == 0
        assert classify(pack.with_version(7), make_lead()).rule_version == 7

    def test_date_field_is_read_in_the_accounts_time_zone(self, pack: RuleSet) -> None:
        """A date stored as Moscow midnight shows as that Moscow day, not the UTC day before."""
        result = classify(pack, make_lead(DECISION_DATE=date(2027, 3, 1)))
        assert "2027-03-01" in result.reason("en")
        assert "2027-02-28" not in result.reason("en")


class TestPlanExample:
    def test_130_leads_with_90_meeting_target_criteria_give_90_qualified(self, pack: RuleSet) -> None:
        """The plan example: of 130 leads, exactly the 90 that meet at least 3 of 4 criteria are qualified."""
        rng = random.Random(20261123)
        criteria: dict[str, Callable[[], Any]] = {
            "BUDGET": lambda: rng.choice([100000, 250000, 1200000]),
            "DECISION_MAKER": lambda: True,
            "NEED": lambda: rng.choice(["CRM", "telephony", "integration"]),
            "DECISION_DATE": lambda: date(2027, rng.randint(1, 4), rng.randint(1, 28)),
        }
        failing: dict[str, Callable[[], Any]] = {
            "BUDGET": lambda: rng.choice([0, 5000, 99999]),
            "DECISION_MAKER": lambda: False,
            "DECISION_DATE": lambda: date(2028, rng.randint(1, 12), 1),
        }
        sources = [("yandex", "cpc"), ("google", "cpc"), ("vk", "social"), ("email", "newsletter"), ("", "")]
        leads = []
        expected_target = 0
        for index in range(130):
            met_count = rng.choice([3, 4]) if index < 90 else rng.choice([0, 1, 2])
            chosen = rng.sample(sorted(criteria), met_count)
            fields: dict[str, Any] = {code: criteria[code]() for code in chosen}
            for code in sorted(set(failing) - set(chosen)):
                if rng.random() < 0.5:  # some criteria fail outright, others stay empty (unknown)
                    fields[code] = failing[code]()
            source, medium = rng.choice(sources)
            if source:
                fields.update(UTM_SOURCE=source, UTM_MEDIUM=medium)
            leads.append(make_lead(index + 1, **fields))
            expected_target += met_count >= 3
        rng.shuffle(leads)
        results = [classify(pack, lead) for lead in leads]
        assert expected_target == 90
        assert sum(result.qualified for result in results) == 90
        assert all((r.criteria_met >= 3) == r.qualified for r in results)
