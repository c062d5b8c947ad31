"""What the write-back would put into amoCRM: catalog rows per period × channel, and only what changed."""

from __future__ import annotations

from decimal import Decimal

from sync.stats.metrics import (
    ChannelCounts,
    ManagerCounts,
    PeriodFigures,
    PlanEntry,
    PlanFigures,
    SpendEntry,
    StatsInputs,
    compute_period_figures,
)
from sync.stats.periods import Period
from sync.stats_push import catalog_rows, changed_rows, lead_updates

NOVEMBER = Period.month(2026, 11)


def figures(qualified_vk: int = 30, as_of: int = 1_795_000_000) -> PeriodFigures:
    start, _ = NOVEMBER.bounds()
    inputs = StatsInputs(
        period=NOVEMBER,
        as_of=as_of,
        period_start_ts=start,
        channels=(
            ChannelCounts("yandex", leads=80, classified=80, qualified=60, deals=14, revenue=14_900),
            ChannelCounts("vk", leads=50, classified=45, qualified=qualified_vk, deals=2, revenue=1400),
            ChannelCounts(None, leads=3, classified=0, qualified=0),
        ),
        managers=(ManagerCounts(1, 133, 16),),
        reach=(),
        open_deals=(),
        stage_order={},
        plans=(PlanEntry(NOVEMBER, PlanFigures(leads=100)),),
        spend=(SpendEntry(NOVEMBER, "vk", Decimal("10000")), SpendEntry(NOVEMBER, "tiktok", Decimal("5000"))),
    )
    return compute_period_figures(
        inputs, experimental_channels=set(), qualified_norm=0.5, min_manager_sample=10, completeness_fields=()
    )


class TestCatalogRows:
    def test_one_element_per_channel_and_one_for_all_channels(self) -> None:
        """Channels with leads or spend each get an element named by period and channel, plus a total."""
        rows = catalog_rows(figures(), "en")
        assert [row.name for row in rows] == [
            "2026-11 · tiktok",
            "2026-11 · vk",
            "2026-11 · yandex",
            "2026-11 · no channel",
            "2026-11 · all channels",
        ]

    def test_figures_are_written_as_numbers_with_empty_ones_left_empty(self) -> None:
        """vk: 30 of 45 is 66.7 %, 200 per lead; tiktok has spend but no leads, so no cost per lead."""
        rows = {row.name: row.values for row in catalog_rows(figures(), "ru")}
        vk = rows["2026-11 · vk"]
        assert vk["LEADPACT_QUALIFIED_PCT"] == 66.7 and vk["LEADPACT_COST_PER_LEAD"] == 200
        assert vk["LEADPACT_REVENUE"] == 1400 and vk["LEADPACT_QUALIFIED_NORM"] == 50
        assert rows["2026-11 · tiktok"]["LEADPACT_COST_PER_LEAD"] is None
        total = rows["2026-11 · все каналы"]
        assert total["LEADPACT_BONUS_BASE"] == 90 and total["LEADPACT_LEADS"] == 133
        assert total["LEADPACT_SPEND"] == 15000 and total["LEADPACT_COST_PER_CUSTOMER"] == 937.5


class TestOnlyChanges:
    def test_nothing_is_rewritten_when_only_the_time_moved_on(self) -> None:
        """Recomputing an hour later with the same figures plans no writes."""
        first = catalog_rows(figures(), "en")
        pushed = {row.key: {"values": dict(row.values)} for row in first}
        later = catalog_rows(figures(as_of=1_795_003_600), "en")
        assert changed_rows(later, pushed) == []

    def test_only_the_elements_whose_figures_changed_are_rewritten(self) -> None:
        """One more qualified vk lead rewrites the vk element and the total, nothing else."""
        pushed = {row.key: {"values": dict(row.values)} for row in catalog_rows(figures(), "en")}
        changed = changed_rows(catalog_rows(figures(qualified_vk=31), "en"), pushed)
        assert [row.name for row in changed] == ["2026-11 · vk", "2026-11 · all channels"]

    def test_leads_get_their_channel_percentage_once(self) -> None:
        """A lead already showing its channel's figure is skipped; a changed or new one is written."""
        leads = [(1, "vk"), (2, "vk"), (3, "yandex"), (4, "unknown")]
        pct = {"vk": 0.5, "yandex": 0.75}
        pushed = {"1": {"pct": 50}, "2": {"pct": 40}}
        assert lead_updates(leads, pct, pushed) == [(2, 50), (3, 75)]

    def test_a_channel_losing_its_figure_clears_it_on_the_lead(self) -> None:
        """When a channel's % becomes empty, a lead that showed a number gets it cleared."""
        assert lead_updates([(1, "vk")], {"vk": None}, {"1": {"pct": 50}}) == [(1, None)]
