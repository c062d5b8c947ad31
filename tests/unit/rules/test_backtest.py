"""Backtest: how a candidate rule file would reclassify stored leads compared with the active one."""

from __future__ import annotations

import json
from datetime import date

import pytest

from rules import BacktestLead, backtest, default_rules_text, default_ruleset, load_ruleset
from rules.loader import RuleSet
from tests.unit.rules.factories import NOW, make_lead

WON, LOST, OPEN = 142, 143, 100


@pytest.fixture(scope="module")
def active() -> RuleSet:
    return default_ruleset()


@pytest.fixture(scope="module")
def looser() -> RuleSet:
    """Two criteria of four are enough; vk leads count as a new 'social' channel."""
    text = default_rules_text().replace("min_met: 3", "min_met: 2").replace("name: vk\n", "name: social\n")
    return load_ruleset(text).with_version(5)


def leads() -> list[BacktestLead]:
    """Three leads qualified under both, two only under the looser rules, one under neither."""
    rows = [
        make_lead(1, status_id=WON, UTM_SOURCE="vk", BUDGET=500000, DECISION_MAKER=True, NEED="crm"),
        make_lead(
            2,
            status_id=WON,
            UTM_SOURCE="yandex",
            UTM_MEDIUM="cpc",
            BUDGET=200000,
            DECISION_MAKER=True,
            DECISION_DATE=date(2027, 1, 1),
        ),
        make_lead(3, status_id=LOST, BUDGET=200000, DECISION_MAKER=True, NEED="x"),
        make_lead(4, status_id=WON, UTM_SOURCE="vk", BUDGET=200000, NEED="y"),
        make_lead(5, status_id=LOST, UTM_SOURCE="google", UTM_MEDIUM="cpc", DECISION_MAKER=True, NEED="z"),
        make_lead(6, status_id=OPEN, UTM_SOURCE="vk"),
    ]
    return [BacktestLead.from_lead(lead) for lead in rows]


class TestBacktest:
    def test_counts_leads_that_change_channel_level_and_qualified(
        self, active: RuleSet, looser: RuleSet
    ) -> None:
        """Lowering the minimum flips exactly the two-criteria leads; renaming vk moves all three vk leads."""
        report = backtest(looser, active, leads(), NOW)
        assert report.total == 6
        assert report.changed_qualified == 2
        assert report.changed_channel == 3
        assert report.changed_level == 0
        assert (report.qualified_active, report.qualified_candidate) == (3, 5)

    def test_per_channel_share_and_bonus_base(self, active: RuleSet, looser: RuleSet) -> None:
        """Each channel shows its % qualified and bonus base under both versions."""
        report = backtest(looser, active, leads(), NOW)
        by_name = {c.channel: c for c in report.channels}
        assert (by_name["vk"].leads_active, by_name["vk"].qualified_active) == (3, 1)
        assert (by_name["social"].leads_candidate, by_name["social"].qualified_candidate) == (3, 2)
        assert by_name["social"].share_candidate == pytest.approx(2 / 3)
        assert by_name["google_ads"].qualified_candidate == 1 and by_name["google_ads"].qualified_active == 0

    def test_win_prediction_over_closed_leads(self, active: RuleSet, looser: RuleSet) -> None:
        """The share of won deals among qualified vs. other leads is computed over closed leads only."""
        report = backtest(looser, active, leads(), NOW)
        assert report.prediction_active.won_share_qualified == pytest.approx(2 / 3)
        assert report.prediction_active.won_share_other == pytest.approx(1 / 2)
        assert report.prediction_candidate.qualified_closed == 5
        assert report.prediction_candidate.won_share_other is None

    def test_samples_carry_both_explanations(self, active: RuleSet, looser: RuleSet) -> None:
        """Changed leads come with the before and after explanations a reviewer can compare."""
        report = backtest(looser, active, leads(), NOW, sample_size=2)
        assert len(report.samples) == 2
        first = report.samples[0]
        assert first.lead_id == 1
        assert (first.before.channel, first.after.channel) == ("vk", "social")
        assert first.reason_before["en"].startswith("Warm: need filled")
        assert first.reason_after["ru"].startswith("Тёплый: потребность: указано")

    def test_json_and_summary_are_readable(self, active: RuleSet, looser: RuleSet) -> None:
        """`--json` output round-trips through JSON; the summary has the headline figures in both languages."""
        report = backtest(looser, active, leads(), NOW)
        data = json.loads(json.dumps(report.to_json()))
        assert data["changed"] == {"channel": 3, "level": 0, "qualified": 2}
        assert data["candidate_version"] == 5
        assert "Qualified: 3 (50%) → 5 (83%)" in report.summary("en")
        assert "Целевых: 3 (50%) → 5 (83%)" in report.summary("ru")

    def test_same_rules_change_nothing(self, active: RuleSet) -> None:
        """Backtesting the active rules against themselves reports no changes and no samples."""
        report = backtest(active, active, leads(), NOW)
        assert (report.changed_channel, report.changed_level, report.changed_qualified) == (0, 0, 0)
        assert report.samples == ()

    def test_progress_is_reported_for_every_lead(self, active: RuleSet) -> None:
        """The progress callback adds up to the number of leads, so a progress bar ends full."""
        seen: list[int] = []
        backtest(active, active, leads(), NOW, progress=seen.append, progress_every=4)
        assert sum(seen) == 6

    def test_odd_leads_are_counted_not_fatal(self, active: RuleSet) -> None:
        """Garbage snapshots are classified (as direct/cold) instead of stopping the backtest."""
        odd = [BacktestLead(lead={"custom_fields_values": "x"}), BacktestLead.from_lead({"status_id": "142"})]
        report = backtest(active, active, odd, NOW)
        assert report.total == 2
        assert report.prediction_active.qualified_closed + report.prediction_active.other_closed == 0


class TestPlainWords:
    def test_who_becomes_qualified_and_the_bonus_base_in_both_languages(
        self, active: RuleSet, looser: RuleSet
    ) -> None:
        """Lowering the minimum to two makes leads 4 and 5 qualified (budget + need, decision maker + need):
        the sentence names them and moves the bonus base from 3 to 5; the reverse change names the same two
        as no longer qualified."""
        report = backtest(looser, active, leads(), NOW)
        assert (report.became_qualified, report.stopped_qualified) == (2, 0)
        names = {4: "ООО Ромашка", 5: "Acme"}
        assert report.plain("en", names) == (
            "Would become qualified: 2 (#4 ООО Ромашка, #5 Acme); the marketing bonus base (qualified among the "
            "latest 6 leads) moves from 3 to 5."
        )
        assert report.plain("ru", names).startswith(
            "Станут целевыми — 2 (#4 ООО Ромашка, #5 Acme); база бонуса"
        )
        assert "с 3 до 5" in report.plain("ru", names)
        back = backtest(active, looser, leads(), NOW)
        assert (back.became_qualified, back.stopped_qualified) == (0, 2)
        assert back.plain("en").startswith("Would stop being qualified: 2 (#4, #5)")

    def test_no_change_says_the_base_stays(self, active: RuleSet) -> None:
        report = backtest(active, active, leads(), NOW)
        assert report.plain("en") == (
            "None of the latest 6 leads changes its qualified flag: the bonus base stays 3."
        )
