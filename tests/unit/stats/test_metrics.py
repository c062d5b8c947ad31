"""Funnel metrics on small hand-computed inputs (definitions: docs/metrics.md)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from sync.stats.metrics import (
    WON_RANK,
    ChannelCounts,
    CompletenessCounts,
    ManagerCounts,
    OpenDeals,
    PlanEntry,
    PlanFigures,
    SpendEntry,
    StageReach,
    StatsInputs,
    bonus_base,
    channel_quality,
    compute_period_figures,
    costs_per_channel,
    elapsed_days,
    field_completeness,
    manager_ranking,
    pipeline_coverage,
    plan_for,
    run_rate,
    spend_for,
    stage_conversions,
    stage_win_rates,
    weekly_plan,
)
from sync.stats.periods import Period

NOVEMBER = Period.month(2026, 11)
STAGES = {7: [10, 20, 30]}


class TestBonusBase:
    def test_the_bonus_counts_qualified_leads_not_all_leads(self) -> None:
        """Plan 100, 130 leads came, 90 qualified: the base is 90, which is 90 % of plan."""
        base = bonus_base(plan=PlanFigures(leads=100), arrived=130, qualified=90)
        assert (base.plan, base.arrived, base.qualified, base.base) == (100, 130, 90, 90)
        assert base.pct_of_plan == pytest.approx(0.9)

    def test_a_plan_of_qualified_leads_is_preferred_to_the_plan_of_leads(self) -> None:
        """When marketing planned qualified leads, the bonus is measured against that plan."""
        base = bonus_base(plan=PlanFigures(leads=200, qualified=60), arrived=130, qualified=90)
        assert base.plan == 60
        assert base.pct_of_plan == pytest.approx(1.5)

    def test_without_a_plan_the_share_of_plan_is_empty(self) -> None:
        """No plan means no percentage of plan, not 0 % and not infinity."""
        base = bonus_base(plan=PlanFigures(), arrived=10, qualified=5)
        assert base.base == 5
        assert base.pct_of_plan is None


class TestChannelQuality:
    COUNTS = (
        ChannelCounts("yandex", leads=10, classified=10, qualified=6),
        ChannelCounts("vk", leads=5, classified=4, qualified=1),
        ChannelCounts("tiktok", leads=4, classified=4, qualified=3),
        ChannelCounts(None, leads=1, classified=0, qualified=0),
    )

    def test_each_channel_gets_its_share_of_qualified_leads_against_the_norm(self) -> None:
        """yandex 6 of 10 meets a 50 % norm, vk 1 of 4 classified does not."""
        _total, _experimental, channels = channel_quality(
            self.COUNTS, experimental_channels={"tiktok"}, qualified_norm=0.5
        )
        by_name = {row.channel: row for row in channels}
        assert by_name["yandex"].qualified_pct == pytest.approx(0.6)
        assert by_name["yandex"].meets_norm is True
        assert by_name["vk"].qualified_pct == pytest.approx(0.25)
        assert by_name["vk"].meets_norm is False
        assert by_name["tiktok"].experimental is True
        assert by_name["yandex"].experimental is False

    def test_totals_and_experimental_channels_are_summed_separately(self) -> None:
        """The total covers every channel; the experimental figure only the channels the rules flag."""
        total, experimental, _ = channel_quality(
            self.COUNTS, experimental_channels={"tiktok"}, qualified_norm=0.5
        )
        assert (total.leads, total.classified, total.qualified) == (20, 18, 10)
        assert total.qualified_pct == pytest.approx(10 / 18)
        assert (experimental.leads, experimental.qualified) == (4, 3)
        assert experimental.qualified_pct == pytest.approx(0.75)

    def test_a_channel_without_classified_leads_has_no_percentage(self) -> None:
        """Leads nobody classified yet give an empty figure and no verdict on the norm."""
        _, experimental, channels = channel_quality(
            self.COUNTS, experimental_channels=set(), qualified_norm=0.5
        )
        unnamed = next(row for row in channels if row.channel is None)
        assert unnamed.qualified_pct is None and unnamed.meets_norm is None
        assert experimental.leads == 0 and experimental.qualified_pct is None

    def test_without_a_norm_there_is_no_verdict(self) -> None:
        """When the rules set no norm, channels are neither above nor below it."""
        total, _, _ = channel_quality(self.COUNTS, experimental_channels=set(), qualified_norm=None)
        assert total.meets_norm is None


class TestCosts:
    def test_costs_divide_spend_by_leads_qualified_leads_and_customers(self) -> None:
        """1000 spent on 4 leads, 2 qualified, 1 customer: 250, 500 and 1000 per unit."""
        counts = [ChannelCounts("yandex", leads=4, classified=4, qualified=2, deals=1)]
        (cost,) = costs_per_channel(counts, {"yandex": Decimal("1000")})
        assert (cost.per_lead, cost.per_qualified, cost.per_customer) == (
            Decimal("250.00"),
            Decimal("500.00"),
            Decimal("1000.00"),
        )

    def test_zero_spend_or_zero_units_give_empty_costs(self) -> None:
        """No spend, zero spend or nothing to divide by: the cost is empty, never 0 or infinity."""
        counts = [
            ChannelCounts("seo", leads=3, qualified=1),
            ChannelCounts("vk", leads=0),
            ChannelCounts("ads", leads=2, qualified=0),
        ]
        costs = {c.channel: c for c in costs_per_channel(counts, {"vk": Decimal("500"), "ads": Decimal("0")})}
        assert costs["seo"].spend is None and costs["seo"].per_lead is None
        assert costs["vk"].per_lead is None and costs["vk"].spend == Decimal("500")
        assert costs["ads"].per_lead is None and costs["ads"].per_qualified is None

    def test_costs_are_rounded_to_cents(self) -> None:
        """100 over 3 leads is 33.33 per lead."""
        (cost,) = costs_per_channel([ChannelCounts("x", leads=3)], {"x": Decimal("100")})
        assert cost.per_lead == Decimal("33.33")

    def test_spend_for_a_channel_without_leads_is_still_listed(self) -> None:
        """Money spent on a channel that brought nobody shows up with empty costs."""
        (cost,) = costs_per_channel([], {"radio": Decimal("700")})
        assert cost.channel == "radio" and cost.leads == 0 and cost.per_lead is None


class TestPlansAndSpend:
    def test_a_monthly_plan_splits_into_weeks_pro_rata(self) -> None:
        """November 2026 (30 days) planned at 300 leads: the week of Mon 2–Sun 8 gets 70."""
        plans = [PlanEntry(NOVEMBER, PlanFigures(leads=300, revenue=None))]
        weeks = weekly_plan(NOVEMBER, plans)
        assert weeks[0][0] == Period(date(2026, 11, 1), date(2026, 11, 1))
        assert weeks[1][0] == Period(date(2026, 11, 2), date(2026, 11, 8))
        assert weeks[1][1].leads == pytest.approx(70)
        assert sum(week.leads or 0 for _, week in weeks) == pytest.approx(300)
        assert all(week.revenue is None for _, week in weeks)

    def test_weekly_plans_add_up_to_the_month(self) -> None:
        """Plans entered per week are summed into the monthly plan."""
        first = Period(date(2026, 11, 2), date(2026, 11, 8))
        second = Period(date(2026, 11, 9), date(2026, 11, 15))
        plan = plan_for(
            NOVEMBER, [PlanEntry(first, PlanFigures(deals=5)), PlanEntry(second, PlanFigures(deals=7))]
        )
        assert plan.deals == pytest.approx(12)
        assert plan.leads is None

    def test_spend_straddling_the_period_counts_pro_rata(self) -> None:
        """Spend of 300 over 30 Oct–8 Nov (10 days) puts 240 into November."""
        straddling = SpendEntry(Period(date(2026, 10, 30), date(2026, 11, 8)), "vk", Decimal("300"))
        inside = SpendEntry(Period(date(2026, 11, 9), date(2026, 11, 15)), "vk", Decimal("60"))
        outside = SpendEntry(Period.month(2026, 12), "vk", Decimal("999"))
        assert spend_for(NOVEMBER, [straddling, inside, outside]) == {"vk": Decimal("300.00")}


class TestRunRate:
    def test_halfway_through_the_month_actual_is_compared_with_half_the_plan(self) -> None:
        """Plan 300 in 30 days, 120 after 15 days: 150 planned to date, pace 80 %, forecast 240."""
        rate = run_rate("leads", actual=120, plan=300, elapsed=15, total_days=30)
        assert rate.planned_to_date == pytest.approx(150)
        assert rate.pace == pytest.approx(0.8)
        assert rate.forecast == pytest.approx(240)
        assert rate.forecast_vs_plan == pytest.approx(0.8)

    def test_before_the_period_starts_there_is_no_pace_or_forecast(self) -> None:
        """With no day elapsed nothing can be extrapolated."""
        rate = run_rate("deals", actual=0, plan=10, elapsed=0, total_days=30)
        assert rate.planned_to_date == 0
        assert rate.pace is None and rate.forecast is None

    def test_without_a_plan_only_the_forecast_remains(self) -> None:
        """An unplanned figure still gets its forecast, but no comparison with a plan."""
        rate = run_rate("revenue", actual=1000, plan=None, elapsed=10, total_days=30)
        assert rate.forecast == pytest.approx(3000)
        assert rate.pace is None and rate.forecast_vs_plan is None

    def test_elapsed_days_are_clipped_to_the_period(self) -> None:
        """Before the start 0 days have passed; after the end, all of them."""
        start, _ = NOVEMBER.bounds()
        assert elapsed_days(NOVEMBER, as_of=start - 5, period_start=start) == 0
        assert elapsed_days(NOVEMBER, as_of=start + 15 * 86_400, period_start=start) == 15
        assert elapsed_days(NOVEMBER, as_of=start + 90 * 86_400, period_start=start) == 30


def reach(rank: int | None, outcome: str, leads: int, *, in_period: bool = True) -> StageReach:
    return StageReach(pipeline_id=7, rank=rank, outcome=outcome, in_period=in_period, leads=leads)  # type: ignore[arg-type]


class TestStageConversion:
    def test_conversion_follows_the_pipeline_order_to_won(self) -> None:
        """10 leads: 4 stop at stage 1, 3 at stage 2, 1 at stage 3, 2 won → 60 %, 50 %, 66.7 %."""
        rows = [reach(0, "lost", 4), reach(1, "open", 3), reach(2, "lost", 1), reach(WON_RANK, "won", 2)]
        conversions = stage_conversions(rows, STAGES)
        assert [(c.from_status, c.to_status) for c in conversions] == [(10, 20), (20, 30), (30, None)]
        assert [(c.reached_from, c.reached_to) for c in conversions] == [(10, 6), (6, 3), (3, 2)]
        assert conversions[0].conversion == pytest.approx(0.6)
        assert conversions[2].conversion == pytest.approx(2 / 3)

    def test_leads_outside_the_period_do_not_count(self) -> None:
        """Conversion is about the period's cohort; older leads only feed win rates."""
        rows = [reach(0, "open", 2), reach(WON_RANK, "won", 5, in_period=False)]
        conversions = stage_conversions(rows, STAGES)
        assert conversions[0].reached_from == 2 and conversions[0].conversion == 0

    def test_a_stage_nobody_reached_has_an_empty_conversion(self) -> None:
        """3 leads stuck at stage 1: 1→2 is 0 %, while 2→3 (nobody at stage 2) is empty, not 0."""
        conversions = stage_conversions([reach(0, "open", 3)], STAGES)
        assert conversions[0].conversion == 0
        assert conversions[1].conversion is None and conversions[2].conversion is None

    def test_a_lead_with_no_known_stage_counts_as_entering_the_pipeline(self) -> None:
        """A lead lost straight away still entered the first stage."""
        conversions = stage_conversions([reach(None, "lost", 1)], STAGES)
        assert conversions[0].reached_from == 1 and conversions[0].reached_to == 0

    def test_a_lead_reopened_after_a_win_is_not_counted_as_won(self) -> None:
        """Won then moved back to an open stage: it reached the last stage, but not 'won'."""
        conversions = stage_conversions([reach(WON_RANK, "open", 1)], STAGES)
        assert conversions[2].reached_from == 1 and conversions[2].reached_to == 0


class TestPipelineCoverage:
    ROWS = (
        reach(0, "lost", 6, in_period=False),
        reach(1, "lost", 2, in_period=False),
        reach(WON_RANK, "won", 2, in_period=False),
        reach(1, "open", 5),
    )

    def test_win_rates_are_shares_of_closed_leads_reaching_each_stage_that_were_won(self) -> None:
        """Of 10 closed leads all reached stage 1 and 2 were won (20 %); 4 reached stage 2 (50 %)."""
        rates = stage_win_rates(self.ROWS, STAGES)
        assert [(r.status_id, r.reached_closed, r.won) for r in rates] == [
            (10, 10, 2),
            (20, 4, 2),
            (30, 2, 2),
        ]
        assert [r.win_rate for r in rates] == [pytest.approx(0.2), pytest.approx(0.5), pytest.approx(1.0)]

    def test_open_deals_are_weighted_by_their_stage_win_rate_against_the_remaining_plan(self) -> None:
        """1000 at stage 1 (20 %) + 2000 at stage 2 (50 %) = 1200, against 2400 left of 3000 → 50 %."""
        rates = stage_win_rates(self.ROWS, STAGES)
        deals = [OpenDeals(7, 10, 2, 1000, 0), OpenDeals(7, 20, 3, 2000, 1)]
        coverage = pipeline_coverage(deals, rates, revenue_plan=3000, revenue_so_far=600)
        assert coverage.weighted_value == pytest.approx(1200)
        assert coverage.remaining_plan == pytest.approx(2400)
        assert coverage.coverage == pytest.approx(0.5)
        assert (coverage.open_deals, coverage.open_value, coverage.deals_without_price) == (5, 3000, 1)

    def test_deals_in_stages_without_history_are_reported_unweighted(self) -> None:
        """A stage no closed lead ever reached has no win rate: its value is shown apart and, with no rated
        deal at all, the weighted value is unknown rather than 0."""
        rates = stage_win_rates([reach(0, "lost", 1, in_period=False)], STAGES)
        coverage = pipeline_coverage(
            [OpenDeals(7, 30, 1, 500, 0)], rates, revenue_plan=None, revenue_so_far=0
        )
        assert coverage.unrated_value == 500 and coverage.weighted_value is None and coverage.coverage is None
        assert coverage.remaining_plan is None and coverage.coverage is None

    def test_a_met_revenue_plan_leaves_nothing_to_cover(self) -> None:
        """Revenue above plan: remaining is 0 and coverage is empty rather than infinite."""
        coverage = pipeline_coverage([], (), revenue_plan=100, revenue_so_far=150)
        assert coverage.remaining_plan == 0 and coverage.coverage is None


class TestManagerRanking:
    def test_best_and_worst_are_named_among_managers_with_enough_leads(self) -> None:
        """A manager with one lucky deal out of two leads is listed but not ranked."""
        counts = [
            ManagerCounts(1, leads=10, won=3),
            ManagerCounts(2, leads=12, won=6),
            ManagerCounts(3, leads=2, won=2),
            ManagerCounts(4, leads=10, won=1),
        ]
        ranking = manager_ranking(counts, min_sample=10)
        assert ranking.best is not None and ranking.best.manager_id == 2
        assert ranking.worst is not None and ranking.worst.manager_id == 4
        lucky = next(m for m in ranking.managers if m.manager_id == 3)
        assert lucky.conversion == 1.0 and lucky.ranked is False

    def test_leads_without_a_manager_are_shown_but_never_ranked(self) -> None:
        """Unassigned leads form their own row and cannot be 'best' or 'worst'."""
        ranking = manager_ranking(
            [ManagerCounts(None, leads=50, won=40), ManagerCounts(1, 10, 2)], min_sample=5
        )
        assert ranking.best is not None and ranking.best.manager_id == 1
        assert ranking.worst is None
        assert ranking.managers[-1].manager_id is None and not ranking.managers[-1].ranked

    def test_nobody_is_ranked_without_enough_leads(self) -> None:
        """Below the minimum sample no best or worst manager is named."""
        ranking = manager_ranking([ManagerCounts(1, 3, 1), ManagerCounts(2, 4, 0)], min_sample=10)
        assert ranking.best is None and ranking.worst is None

    def test_ties_go_to_the_manager_with_more_leads(self) -> None:
        """Equal conversion: the larger sample is the steadier best."""
        ranking = manager_ranking([ManagerCounts(1, 10, 5), ManagerCounts(2, 20, 10)], min_sample=5)
        assert ranking.best is not None and ranking.best.manager_id == 2


class TestFieldCompleteness:
    def test_share_of_leads_with_each_qualification_field_filled(self) -> None:
        """4 leads, budget filled on 3 and need on 1: 75 %, 25 %, and 50 % overall for two fields."""
        rows = [CompletenessCounts("yandex", 4, {"BUDGET": 3, "NEED": 1})]
        (result,) = field_completeness(rows, ["BUDGET", "NEED"])
        assert result.by_field == (("BUDGET", 0.75), ("NEED", 0.25))
        assert result.overall == pytest.approx(0.5)

    def test_no_leads_means_empty_completeness(self) -> None:
        """A manager without leads has empty shares, not 0 %."""
        (result,) = field_completeness([CompletenessCounts(5, 0, {})], ["BUDGET"])
        assert result.by_field == (("BUDGET", None),) and result.overall is None


class TestPeriodFigures:
    def test_every_metric_is_computed_from_one_set_of_inputs(self) -> None:
        """The 100/130/90 example flows through to bonus, run rate and quality at once."""
        start, _ = NOVEMBER.bounds()
        inputs = StatsInputs(
            period=NOVEMBER,
            as_of=start + 15 * 86_400,
            period_start_ts=start,
            channels=(
                ChannelCounts("yandex", leads=100, classified=100, qualified=70, deals=3, revenue=3000),
                ChannelCounts("vk", leads=30, classified=30, qualified=20),
            ),
            managers=(ManagerCounts(1, 130, 3),),
            reach=(),
            open_deals=(),
            stage_order={},
            plans=(PlanEntry(NOVEMBER, PlanFigures(leads=100, revenue=10_000)),),
            spend=(SpendEntry(NOVEMBER, "vk", Decimal("600")),),
        )
        figures = compute_period_figures(
            inputs,
            experimental_channels={"vk"},
            qualified_norm=0.7,
            min_manager_sample=10,
            completeness_fields=("BUDGET",),
        )
        assert figures.bonus.base == 90 and figures.bonus.pct_of_plan == pytest.approx(0.9)
        leads_rate = next(rate for rate in figures.run_rates if rate.metric == "leads")
        assert leads_rate.planned_to_date == pytest.approx(50) and leads_rate.forecast == pytest.approx(260)
        assert figures.quality_experimental.qualified_pct == pytest.approx(20 / 30)
        vk_cost = next(cost for cost in figures.costs if cost.channel == "vk")
        assert vk_cost.per_lead == Decimal("20.00") and vk_cost.per_customer is None
        assert figures.coverage.remaining_plan == pytest.approx(7000)
        assert figures.managers.best is not None and figures.managers.best.manager_id == 1


class TestCompletenessFollowsTheFieldMapping:
    def test_a_role_field_counts_the_mapped_field_and_an_unmapped_role_is_unknown(self) -> None:
        """Compiled with the account's mapping, `budget` is counted over the mapped field (id 777); roles the
        mapping leaves out are unknown — not 0 % — and stay out of the overall share."""
        from rules import default_rules_text, load_ruleset
        from rules.model import CatalogField
        from sync.stats.metrics import CompletenessCounts, field_completeness
        from sync.stats.service import qualification_fields

        ruleset = load_ruleset(
            default_rules_text(),
            mapping={"budget": CatalogField(id=777, name="Бюджет сделки", type="numeric")},
        )
        refs = {ref.key: ref for ref in qualification_fields(ruleset)}
        assert refs["budget"].field_id == 777 and refs["budget"].mapped
        assert not refs["decision_maker"].mapped and not refs["need"].mapped
        unmapped = {key for key, ref in refs.items() if not ref.mapped}
        rows = field_completeness(
            [CompletenessCounts(key="vk", leads=4, filled={"budget": 3})], list(refs), unmapped
        )
        shares = dict(rows[0].by_field)
        assert shares["budget"] == 0.75 and shares["need"] is None and shares["decision_maker"] is None
        assert rows[0].overall == 0.75
