"""Every funnel metric of the fixed November dataset (conftest.py), counted by hand, through the real SQL."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import update

from integration.db import session_scope
from integration.storage.leads import LeadSnapshot
from integration.storage.promos import LeadDispute
from sync.stats.bonus import freeze_bonus_base
from sync.stats.metrics import PeriodFigures, compute_period_figures
from sync.stats.periods import Period, StatsInputError
from sync.stats.queries import BANT_FIELD_CODES, load_stats_inputs
from tests.integration.stats.conftest import ACCOUNT, NOVEMBER, Dataset, ts

MID_NOVEMBER = ts(11, 16, 0)  # 15 days of 30 elapsed


def figures_of(dataset: Dataset, *, as_of: int = MID_NOVEMBER) -> PeriodFigures:
    with dataset.engine.connect() as connection:
        inputs = load_stats_inputs(connection, account_id=ACCOUNT, period=NOVEMBER, as_of=as_of)
    return compute_period_figures(
        inputs,
        experimental_channels={"vk"},
        qualified_norm=0.7,
        min_manager_sample=10,
        completeness_fields=BANT_FIELD_CODES,
    )


class TestLeadsAndQuality:
    def test_the_bonus_base_is_the_qualified_leads_of_the_period(self, november: Dataset) -> None:
        """Plan 100, 130 leads came, 90 qualified: base 90 = 90 % of plan."""
        bonus = figures_of(november).bonus
        assert (bonus.plan, bonus.arrived, bonus.qualified, bonus.base) == (100, 130, 90, 90)
        assert bonus.pct_of_plan == pytest.approx(0.9)

    def test_qualified_share_per_channel_total_and_experimental(self, november: Dataset) -> None:
        """yandex 60/80 meets the 70 % norm, vk 30/45 classified does not; total 90/125."""
        figures = figures_of(november)
        by_channel = {row.channel: row for row in figures.quality}
        assert (by_channel["yandex"].leads, by_channel["yandex"].qualified) == (80, 60)
        assert by_channel["yandex"].qualified_pct == pytest.approx(0.75) and by_channel["yandex"].meets_norm
        assert (by_channel["vk"].leads, by_channel["vk"].classified, by_channel["vk"].qualified) == (
            50,
            45,
            30,
        )
        assert by_channel["vk"].meets_norm is False and by_channel["vk"].experimental
        assert figures.quality_total.qualified_pct == pytest.approx(90 / 125)
        assert figures.quality_experimental.qualified_pct == pytest.approx(30 / 45)

    def test_deleted_leads_drop_out_and_restored_leads_come_back(self, november: Dataset) -> None:
        """Deleting a qualified lead lowers the counts; restoring it brings them back."""
        (deleted,) = november.lead_ids["G10"]
        assert figures_of(november).totals.leads == 130
        with session_scope(november.engine) as session:
            session.execute(
                update(LeadSnapshot).where(LeadSnapshot.lead_id == deleted).values(is_deleted=False)  # type: ignore[arg-type]
            )
        restored = figures_of(november)
        assert (restored.totals.leads, restored.totals.qualified) == (131, 91)


class TestDealsAndCosts:
    def test_deals_and_revenue_are_wins_closed_in_the_period(self, november: Dataset) -> None:
        """16 wins closed in November (one created in October, one without a price) bring 16 300."""
        totals = figures_of(november).totals
        assert (totals.deals, totals.revenue, totals.deals_without_price) == (16, 16_300, 1)

    def test_costs_per_lead_qualified_lead_and_customer(self, november: Dataset) -> None:
        """yandex: 30 000 over 80 / 60 / 14; vk: 10 000 over 50 / 30 / 2; tiktok spent with no leads."""
        costs = {cost.channel: cost for cost in figures_of(november).costs}
        yandex, vk, tiktok = costs["yandex"], costs["vk"], costs["tiktok"]
        assert (yandex.per_lead, yandex.per_qualified, yandex.per_customer) == (
            Decimal("375.00"),
            Decimal("500.00"),
            Decimal("2142.86"),
        )
        assert (vk.per_lead, vk.per_qualified, vk.per_customer) == (
            Decimal("200.00"),
            Decimal("333.33"),
            Decimal("5000.00"),
        )
        assert tiktok.spend == Decimal("5000") and tiktok.per_lead is None

    def test_run_rate_halfway_through_november(self, november: Dataset) -> None:
        """After 15 of 30 days: leads 130 vs 50 planned, revenue 16 300 vs 25 000, forecast double."""
        rates = {rate.metric: rate for rate in figures_of(november).run_rates}
        assert rates["leads"].pace == pytest.approx(2.6) and rates["leads"].forecast == pytest.approx(260)
        assert rates["deals"].planned_to_date == pytest.approx(10) and rates[
            "deals"
        ].forecast == pytest.approx(32)
        assert rates["revenue"].pace == pytest.approx(16_300 / 25_000)
        assert rates["revenue"].forecast_vs_plan == pytest.approx(32_600 / 50_000)
        assert rates["qualified"].plan is None and rates["qualified"].pace is None


class TestPipeline:
    def test_stage_to_stage_conversion_of_the_november_cohort(self, november: Dataset) -> None:
        """130 leads → 75 reached stage 20 → 45 reached stage 30 (5 moved back still count) → 15 won."""
        steps = [(c.reached_from, c.reached_to) for c in figures_of(november).conversions]
        assert steps == [(130, 75), (75, 45), (45, 15)]
        assert figures_of(november).conversions[2].conversion == pytest.approx(1 / 3)

    def test_win_rates_per_stage_from_all_closed_history(self, november: Dataset) -> None:
        """60 closed leads, 16 won: 16/60 from stage 10, 16/30 from stage 20, 16/20 from stage 30."""
        stages = figures_of(november).coverage.stages
        assert [(s.status_id, s.reached_closed, s.won) for s in stages] == [
            (10, 60, 16),
            (20, 30, 16),
            (30, 20, 16),
        ]

    def test_pipeline_coverage_weighs_open_deals_against_the_remaining_plan(self, november: Dataset) -> None:
        """20 000 at stage 20 × 16/30 + 50 000 at stage 30 × 0.8 against 50 000 − 16 300 left."""
        coverage = figures_of(november).coverage
        assert (coverage.open_deals, coverage.open_value, coverage.deals_without_price) == (75, 70_000, 25)
        assert coverage.weighted_value == pytest.approx(20_000 * 16 / 30 + 50_000 * 0.8)
        assert coverage.remaining_plan == pytest.approx(33_700)
        assert coverage.coverage == pytest.approx((20_000 * 16 / 30 + 40_000) / 33_700)


class TestManagers:
    def test_best_and_worst_manager_with_a_minimum_sample(self, november: Dataset) -> None:
        """Manager 1 wins 10 of 40, manager 2 none of 37; manager 4's 3 of 3 is too few to rank."""
        ranking = figures_of(november).managers
        rows = {m.manager_id: (m.leads, m.won, m.ranked) for m in ranking.managers}
        assert rows == {
            1: (40, 10, True),
            2: (37, 0, True),
            3: (45, 2, True),
            4: (3, 3, False),
            None: (5, 0, False),
        }
        assert ranking.best is not None and ranking.best.manager_id == 1
        assert ranking.worst is not None and ranking.worst.manager_id == 2


class TestFieldCompleteness:
    def test_qualification_fields_filled_per_channel(self, november: Dataset) -> None:
        """yandex has a budget on 30 of 80 leads; empty values and missing field lists count as not filled."""
        by_channel = {row.key: row for row in figures_of(november).completeness_by_channel}
        assert dict(by_channel["yandex"].by_field) == {
            "BUDGET": 30 / 80,
            "DECISION_MAKER": 0,
            "NEED": 10 / 80,
            "DECISION_DATE": 0,
        }
        assert by_channel["vk"].overall == pytest.approx(113 / 200)

    def test_qualification_fields_filled_per_manager(self, november: Dataset) -> None:
        """Manager 3 has a need on 38 of 45 leads; leads without a manager have nothing filled."""
        by_manager = {row.key: row for row in figures_of(november).completeness_by_manager}
        assert dict(by_manager[3].by_field)["NEED"] == pytest.approx(38 / 45)
        assert dict(by_manager[1].by_field)["BUDGET"] == pytest.approx(30 / 40)
        assert by_manager[None].overall == 0


class TestEmptyPeriods:
    def test_a_period_without_leads_or_spend_has_empty_figures(self, november: Dataset) -> None:
        """January has no leads, plan or spend: every ratio is empty, none is 0 or infinite."""
        with november.engine.connect() as connection:
            inputs = load_stats_inputs(
                connection, account_id=ACCOUNT, period=Period.month(2027, 1), as_of=ts(12, 1)
            )
        figures = compute_period_figures(
            inputs,
            experimental_channels=set(),
            qualified_norm=0.7,
            min_manager_sample=10,
            completeness_fields=(),
        )
        assert figures.totals.leads == 0 and figures.quality_total.qualified_pct is None
        assert figures.bonus.pct_of_plan is None and figures.costs == ()
        assert all(rate.forecast is None and rate.pace is None for rate in figures.run_rates)
        assert all(step.conversion is None for step in figures.conversions)


class TestBonusFreeze:
    def test_a_frozen_base_does_not_change_when_rules_or_leads_change_later(self, november: Dataset) -> None:
        """After freezing, re-classifying leads changes the live figures but not the frozen snapshot."""
        with session_scope(november.engine) as session:
            snapshot, created = freeze_bonus_base(
                session=session,
                account_id=ACCOUNT,
                period=NOVEMBER,
                now=ts(12, 1),
                open_disputes=[1005, 1001],
            )
        assert created and snapshot.figures["base"] == 90 and len(snapshot.lead_ids) == 90
        assert snapshot.rule_version == 3 and snapshot.figures["rule_versions"] == {"2": 20, "3": 70}
        assert snapshot.open_disputes == [1001, 1005]
        with session_scope(november.engine) as session:
            session.execute(
                update(LeadSnapshot)
                .where(LeadSnapshot.lead_id.in_(november.lead_ids["G3"]))  # type: ignore[attr-defined]
                .values(qualified=False, rule_version=4)
            )
        assert figures_of(november).bonus.base == 70
        with session_scope(november.engine) as session:
            again, created_again = freeze_bonus_base(
                session=session, account_id=ACCOUNT, period=NOVEMBER, now=ts(12, 2)
            )
        assert not created_again
        assert again.figures["base"] == 90 and again.lead_ids == snapshot.lead_ids

    def test_disputes_on_the_period_leads_are_listed_beside_the_frozen_base(self, november: Dataset) -> None:
        """Reps' disputes about November leads are kept with the November base; October's are not."""
        disputed_november, disputed_october = november.lead_ids["G3"][0], november.lead_ids["G11"][0]
        with session_scope(november.engine) as session:
            for lead_id in (disputed_november, disputed_october):
                session.add(
                    LeadDispute(
                        account_id=ACCOUNT, lead_id=lead_id, reason="not our client", created_at=ts(11, 20)
                    )
                )
        with session_scope(november.engine) as session:
            snapshot, _ = freeze_bonus_base(
                session=session, account_id=ACCOUNT, period=NOVEMBER, now=ts(12, 1)
            )
        assert snapshot.open_disputes == [disputed_november]

    def test_an_open_period_cannot_be_frozen(self, november: Dataset) -> None:
        """Freezing before the period ends is refused with a message in both languages."""
        with session_scope(november.engine) as session, pytest.raises(StatsInputError) as caught:
            freeze_bonus_base(session=session, account_id=ACCOUNT, period=NOVEMBER, now=MID_NOVEMBER)
        assert "2026-11" in caught.value.message("ru") and "not ended" in caught.value.message("en")
