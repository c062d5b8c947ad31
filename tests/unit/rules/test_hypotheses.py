"""Wilson, Newcombe and the verdict of a hypothesis, against published and hand-computed numbers."""

from __future__ import annotations

import pytest

from rules.hypotheses import Side, measure, newcombe, verdict_of, wilson, window_days


class TestIntervals:
    def test_wilson_matches_newcombes_single_proportion_examples(self) -> None:
        """Newcombe 1998 (Stat Med 17:857): 81/263 → 0.2553–0.3662; 0/10 → 0–0.2775."""
        assert wilson(81, 263) == pytest.approx((0.2553, 0.3662), abs=1e-4)
        assert wilson(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)

    def test_newcombe_method_10_matches_the_paper(self) -> None:
        """Newcombe 1998 (Stat Med 17:873), example (a): 56/70 − 48/80 = 0.2000, 95% CI 0.0524 to 0.3339."""
        difference, lower, upper = newcombe(56, 70, 48, 80)
        assert difference == pytest.approx(0.2)
        assert (lower, upper) == pytest.approx((0.0524, 0.3339), abs=1e-4)

    def test_a_window_is_the_days_since_the_start_capped_at_four_weeks(self) -> None:
        assert [window_days(days) for days in (-3, 0, 7, 28, 90)] == [0, 0, 7, 28, 28]


class TestVerdict:
    def test_an_interval_on_the_expected_side_confirms(self) -> None:
        """28/40 after vs 12/40 before: +40 pp, by hand 0.1818 … 0.5686 — above 0, as expected ("up")."""
        effect = measure("qualified_pct", "up", 7, Side(units=40, successes=12), Side(units=40, successes=28))
        assert effect.change == pytest.approx(0.4)
        assert effect.interval == pytest.approx((0.1818, 0.5686), abs=1e-4)
        assert effect.after_interval == pytest.approx((0.5457, 0.8193), abs=1e-4)
        assert effect.verdict == "confirmed"
        assert measure("qualified_pct", "down", 7, effect.before, effect.after).verdict == "refuted"

    def test_zero_inside_the_interval_is_too_early_below_the_minimum_sample_and_refuted_above(self) -> None:
        small = measure("conversion", "up", 7, Side(units=20, successes=5), Side(units=20, successes=6))
        assert small.verdict == "too_early"
        large = measure("conversion", "up", 7, Side(units=30, successes=9), Side(units=30, successes=10))
        assert large.interval is not None and large.interval[0] < 0 < large.interval[1]
        assert large.verdict == "refuted"
        assert verdict_of(None, "up", 100, 100, 30) == "too_early"

    def test_cost_per_lead_is_a_ratio_with_a_poisson_interval(self) -> None:
        """CPL 10 000/100 = 100 before, 8 000/100 = 80 after: −20 %; by hand exp(ln 0.8 ± 1.96·√0.02) − 1 =
        −39.4 % … +5.6 %: contains 0 with 100 leads a side, so a "should fall" hypothesis is refuted."""
        effect = measure("cpl", "down", 14, Side(units=100, spend=10_000), Side(units=100, spend=8_000))
        assert effect.change == pytest.approx(-0.2)
        assert effect.interval == pytest.approx((-0.3937, 0.0555), abs=1e-4)
        assert effect.verdict == "refuted"

    def test_no_spend_or_no_leads_is_too_early(self) -> None:
        assert measure("cpl", "down", 7, Side(units=50), Side(units=50, spend=100)).verdict == "too_early"
        assert (
            measure("qualified_pct", "up", 7, Side(units=0), Side(units=5, successes=5)).verdict
            == "too_early"
        )
        assert measure("qualified_pct", "up", 0, Side(units=0), Side(units=0)).days == 0
