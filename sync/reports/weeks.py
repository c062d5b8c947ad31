"""ISO weeks (`2026-W47`): the period the weekly meeting looks at, Monday to Sunday."""

from __future__ import annotations

import re
from datetime import date, timedelta

from integration.i18n import Text
from sync.stats.periods import Period, StatsInputError

BAD_WEEK = Text(
    ru="Непонятная неделя «{value}»: ожидается ISO-неделя вида 2026-W47.",
    en="Cannot read the week “{value}”: expected an ISO week such as 2026-W47.",
)

_ISO_WEEK = re.compile(r"^(\d{4})-?W(\d{1,2})$", re.IGNORECASE)


def parse_week(text: str) -> Period:
    """`2026-W47` → Monday..Sunday of that ISO week; `StatsInputError` (ru/en) for anything else."""
    match = _ISO_WEEK.match(text.strip())
    if match is None:
        raise StatsInputError(BAD_WEEK, value=text)
    try:
        monday = date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1)
    except ValueError:
        raise StatsInputError(BAD_WEEK, value=text) from None
    return Period(monday, monday + timedelta(days=6))


def week_of(day: date) -> Period:
    """The ISO week a day falls in."""
    monday = day - timedelta(days=day.weekday())
    return Period(monday, monday + timedelta(days=6))


def last_full_week(today: date) -> Period:
    """The week the Monday meeting discusses: the last one that has fully ended before `today`."""
    return week_of(today - timedelta(days=7))


def next_week(week: Period) -> Period:
    return Period(week.start + timedelta(days=7), week.end + timedelta(days=7))


def week_label(week: Period) -> str:
    """`2026-W47` for an ISO week; the plain date range for any other period."""
    year, number, weekday = week.start.isocalendar()
    if weekday == 1 and week.days == 7:
        return f"{year}-W{number:02d}"
    return week.label
