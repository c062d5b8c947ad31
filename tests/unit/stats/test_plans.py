"""Periods, plans and spend files as people enter them: what is accepted and what is refused, in ru and en."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from sync.stats.periods import Period, StatsInputError
from sync.stats.plans import SpendRow, parse_spend_csv, validate_plan, validate_spend

NOVEMBER = Period.month(2026, 11)


class TestPeriods:
    def test_a_month_is_read_from_year_and_month(self) -> None:
        """`2026-11` is 1–30 November, 30 days."""
        assert Period.parse("2026-11") == Period(date(2026, 11, 1), date(2026, 11, 30))
        assert NOVEMBER.days == 30 and NOVEMBER.label == "2026-11"

    def test_a_range_of_days_is_read_with_two_dots(self) -> None:
        """`2026-11-02..2026-11-08` is one week, labelled as the range."""
        week = Period.parse("2026-11-02..2026-11-08")
        assert week.days == 7 and week.label == "2026-11-02..2026-11-08"

    @pytest.mark.parametrize("text", ["November", "2026-13", "2026-11-31..2026-12-01", ""])
    def test_unreadable_periods_are_refused_in_both_languages(self, text: str) -> None:
        """A typo gives a clear message in Russian and English, not a stack trace."""
        with pytest.raises(StatsInputError) as caught:
            Period.parse(text)
        assert "2026-11" in caught.value.message("ru") and "2026-11" in caught.value.message("en")
        assert caught.value.message("ru") != caught.value.message("en")

    def test_a_period_ending_before_it_starts_is_refused(self) -> None:
        """Dates given the wrong way round are an error, not an empty period."""
        with pytest.raises(StatsInputError, match="ends before"):
            Period.parse("2026-11-10..2026-11-01")

    def test_bounds_follow_the_account_time_zone(self) -> None:
        """A Moscow month starts three hours before the UTC one."""
        moscow = timezone(timedelta(hours=3))
        utc_start, utc_end = NOVEMBER.bounds()
        msk_start, _ = NOVEMBER.bounds(moscow)
        assert utc_start == int(datetime(2026, 11, 1, tzinfo=UTC).timestamp())
        assert utc_end - utc_start == 30 * 86_400
        assert utc_start - msk_start == 3 * 3600

    def test_weeks_are_cut_at_mondays(self) -> None:
        """November 2026 starts on a Sunday, so its first week is one day long."""
        weeks = NOVEMBER.weeks()
        assert [week.days for week in weeks] == [1, 7, 7, 7, 7, 1]
        assert sum(week.days for week in weeks) == NOVEMBER.days


class TestPlanValidation:
    def test_a_valid_plan_keeps_only_the_given_figures(self) -> None:
        """Figures left out are not planned (and do not overwrite earlier ones)."""
        given = validate_plan(NOVEMBER, {"leads": 100, "qualified": None, "revenue": 0}, existing=[])
        assert given == {"leads": 100, "revenue": 0}

    def test_negative_plans_are_refused(self) -> None:
        """A negative plan is a typo; the message names the figure."""
        with pytest.raises(StatsInputError) as caught:
            validate_plan(NOVEMBER, {"deals": -1}, existing=[])
        assert "deals" in caught.value.message("en") and "-1" in caught.value.message("ru")

    def test_an_empty_plan_is_refused(self) -> None:
        """Setting a plan with no figure at all is a mistake, said so."""
        with pytest.raises(StatsInputError, match="at least one"):
            validate_plan(NOVEMBER, {"leads": None}, existing=[])

    def test_overlapping_periods_are_refused_but_the_same_period_is_an_update(self) -> None:
        """A week inside a planned month conflicts; re-planning the month itself is fine."""
        week = Period.parse("2026-11-02..2026-11-08")
        with pytest.raises(StatsInputError) as caught:
            validate_plan(week, {"leads": 10}, existing=[NOVEMBER])
        assert "2026-11" in caught.value.message("en") and "пересекается" in caught.value.message("ru")
        assert validate_plan(NOVEMBER, {"leads": 10}, existing=[NOVEMBER]) == {"leads": 10}


class TestSpendFile:
    def test_a_spend_file_is_read_with_commas_or_semicolons(self) -> None:
        """Spreadsheet exports with `;` and decimal commas read the same as plain CSV."""
        plain = parse_spend_csv("period,channel,amount\n2026-11,yandex,12500.50\n2026-11,vk,300\n")
        excel = parse_spend_csv("\ufeffPeriod;Channel;Amount\n2026-11;yandex;12 500,50\n2026-11;vk;300\n")
        assert [(r.channel, r.amount) for r in plain] == [
            ("yandex", Decimal("12500.50")),
            ("vk", Decimal("300")),
        ]
        assert [(r.channel, r.amount) for r in excel] == [(r.channel, r.amount) for r in plain]
        assert plain[0].line == 2 and plain[0].period == NOVEMBER

    def test_a_file_without_the_columns_is_refused(self) -> None:
        """The message lists the columns the file has."""
        with pytest.raises(StatsInputError) as caught:
            parse_spend_csv("month,source,sum\n2026-11,vk,1\n")
        assert "month, source, sum" in caught.value.message("en")

    def test_bad_amounts_and_periods_name_their_line(self) -> None:
        """The person fixing the file is told which line is wrong."""
        with pytest.raises(StatsInputError, match="Line 3"):
            parse_spend_csv("period,channel,amount\n2026-11,vk,1\n2026-11,vk,lots\n")
        with pytest.raises(StatsInputError, match="Line 2") as caught:
            parse_spend_csv("period,channel,amount\nnov,vk,1\n")
        assert "Строка 2" in caught.value.message("ru")

    def test_negative_spend_is_refused(self) -> None:
        """Spend below zero is refused, naming the line."""
        rows = parse_spend_csv("period,channel,amount\n2026-11,vk,-5\n")
        with pytest.raises(StatsInputError, match="Line 2: spend cannot be negative"):
            validate_spend(rows, known_channels={"vk"})

    def test_unknown_channels_are_refused_with_the_known_ones_listed(self) -> None:
        """A misspelt channel would never match any lead, so it is refused."""
        rows = parse_spend_csv("period,channel,amount\n2026-11,yandx,5\n")
        with pytest.raises(StatsInputError) as caught:
            validate_spend(rows, known_channels={"yandex", "vk"})
        assert "yandx" in caught.value.message("en") and "vk, yandex" in caught.value.message("ru")

    def test_overlapping_spend_of_one_channel_is_refused(self) -> None:
        """A weekly row inside an already entered month would count money twice."""
        rows = [SpendRow(2, Period.parse("2026-11-02..2026-11-08"), "vk", Decimal(1))]
        with pytest.raises(StatsInputError, match="overlaps"):
            validate_spend(rows, known_channels=None, existing=[("vk", NOVEMBER)])
        validate_spend(rows, known_channels=None, existing=[("yandex", NOVEMBER)])

    def test_the_same_channel_and_period_twice_in_a_file_is_refused(self) -> None:
        """Two lines for vk in November would silently keep only one."""
        rows = parse_spend_csv("period,channel,amount\n2026-11,vk,1\n2026-11,vk,2\n")
        with pytest.raises(StatsInputError, match="Line 3"):
            validate_spend(rows, known_channels=None)
