"""Properties every funnel figure keeps whatever the data: no impossible shares, no division by zero."""

from __future__ import annotations

from decimal import Decimal
from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from sync.stats.metrics import (
    WON_RANK,
    ChannelCounts,
    ManagerCounts,
    StageReach,
    costs_per_channel,
    manager_ranking,
    stage_conversions,
    stage_win_rates,
)

STAGES = {1: [11, 12, 13, 14]}

reach_rows = st.lists(
    st.builds(
        StageReach,
        pipeline_id=st.just(1),
        rank=st.one_of(st.none(), st.integers(0, 3), st.just(WON_RANK)),
        outcome=st.sampled_from(["won", "lost", "open"]),
        in_period=st.booleans(),
        leads=st.integers(0, 50),
    ),
    max_size=20,
)


class TestFunnelProperties:
    @given(reach_rows)
    def test_each_stage_is_reached_by_no_more_leads_than_the_one_before(self, rows: list[StageReach]) -> None:
        """Conversions are shares between 0 and 100 %, empty exactly when nobody reached the stage."""
        for step in stage_conversions(rows, STAGES):
            assert step.reached_to <= step.reached_from
            if step.reached_from == 0:
                assert step.conversion is None
            else:
                assert step.conversion is not None and 0 <= step.conversion <= 1

    @given(reach_rows)
    def test_deeper_stages_have_fewer_closed_leads_and_win_rates_are_shares(
        self, rows: list[StageReach]
    ) -> None:
        """Every win rate is a share, and fewer closed leads reach each deeper stage."""
        rates = stage_win_rates(rows, STAGES)
        for shallow, deep in pairwise(rates):
            assert deep.reached_closed <= shallow.reached_closed
        for rate in rates:
            assert rate.win_rate is None or 0 <= rate.win_rate <= 1
            assert (rate.win_rate is None) == (rate.reached_closed == 0)


class TestMoneyAndRankingProperties:
    @given(
        st.integers(0, 1000),
        st.integers(0, 1000),
        st.integers(0, 1000),
        st.one_of(st.none(), st.decimals(0, 10**7, places=2)),
    )
    def test_costs_are_empty_exactly_when_there_is_nothing_to_divide(
        self, leads: int, qualified: int, deals: int, spend: Decimal | None
    ) -> None:
        """A cost exists only with spend above zero and at least one unit; it is never negative."""
        counts = [ChannelCounts("x", leads=leads, qualified=qualified, deals=deals)]
        (cost,) = costs_per_channel(counts, {} if spend is None else {"x": spend})
        for value, units in (
            (cost.per_lead, leads),
            (cost.per_qualified, qualified),
            (cost.per_customer, deals),
        ):
            assert (value is None) == (spend is None or spend == 0 or units == 0)
            assert value is None or value >= 0

    @given(
        st.lists(
            st.builds(
                ManagerCounts,
                manager_id=st.one_of(st.none(), st.integers(1, 30)),
                leads=st.integers(0, 40),
                won=st.just(0),
            ),
            max_size=15,
        ),
        st.integers(1, 20),
    )
    def test_only_managers_with_enough_leads_are_named(
        self, counts: list[ManagerCounts], min_sample: int
    ) -> None:
        """Best and worst always have at least the minimum sample and a manager behind them."""
        ranking = manager_ranking(counts, min_sample=min_sample)
        for named in (ranking.best, ranking.worst):
            assert named is None or (named.manager_id is not None and named.leads >= min_sample)
