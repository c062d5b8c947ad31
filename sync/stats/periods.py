"""Reporting periods (calendar dates, both ends inclusive) and the errors for badly entered ones."""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from integration.i18n import Language, Text

BAD_PERIOD = Text(
    ru="Непонятный период «{value}»: ожидается 2026-11 (месяц) или 2026-11-01..2026-11-07.",
    en="Cannot read the period “{value}”: expected 2026-11 (a month) or 2026-11-01..2026-11-07.",
)
PERIOD_ENDS_BEFORE_START = Text(
    ru="Период {value} заканчивается раньше, чем начинается.",
    en="The period {value} ends before it starts.",
)

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\s*(?:\.\.|/)\s*(\d{4}-\d{2}-\d{2})$")


class StatsInputError(ValueError):
    """Bad input from a person (a period, a plan, a spend file); carries the message in ru and en."""

    def __init__(self, text: Text, **params: Any) -> None:
        self.text = text
        self.params = params
        super().__init__(text("en", **params))

    def message(self, lang: Language) -> str:
        return self.text(lang, **self.params)


@dataclass(frozen=True, slots=True, order=True)
class Period:
    start: date
    end: date  # inclusive

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise StatsInputError(PERIOD_ENDS_BEFORE_START, value=f"{self.start}..{self.end}")

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        last_day = calendar.monthrange(year, month)[1]
        return cls(date(year, month, 1), date(year, month, last_day))

    @classmethod
    def containing(cls, moment: datetime) -> Period:
        """The calendar month a moment falls in."""
        return cls.month(moment.year, moment.month)

    @classmethod
    def parse(cls, text: str) -> Period:
        """Reads `2026-11` (a month) or `2026-11-01..2026-11-07` (any range of days)."""
        value = text.strip()
        try:
            if match := _MONTH.match(value):
                return cls.month(int(match.group(1)), int(match.group(2)))
            if match := _RANGE.match(value):
                return cls(date.fromisoformat(match.group(1)), date.fromisoformat(match.group(2)))
        except ValueError as error:
            if isinstance(error, StatsInputError):
                raise
            raise StatsInputError(BAD_PERIOD, value=text) from None
        raise StatsInputError(BAD_PERIOD, value=text)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def is_month(self) -> bool:
        return self.start.day == 1 and self == Period.month(self.start.year, self.start.month)

    @property
    def label(self) -> str:
        return self.start.strftime("%Y-%m") if self.is_month else f"{self.start}..{self.end}"

    def bounds(self, tz: tzinfo = UTC) -> tuple[int, int]:
        """Unix seconds [start, end) of the period in the account's time zone."""
        start = datetime.combine(self.start, time.min, tzinfo=tz)
        end = datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=tz)
        return int(start.timestamp()), int(end.timestamp())

    def overlap_days(self, other: Period) -> int:
        start, end = max(self.start, other.start), min(self.end, other.end)
        return max((end - start).days + 1, 0)

    def overlaps(self, other: Period) -> bool:
        return self.overlap_days(other) > 0

    def weeks(self) -> list[Period]:
        """The period cut at Mondays: the weekly breakdown of a monthly plan."""
        weeks: list[Period] = []
        start = self.start
        while start <= self.end:
            sunday = start + timedelta(days=6 - start.weekday())
            end = min(sunday, self.end)
            weeks.append(Period(start, end))
            start = end + timedelta(days=1)
        return weeks


def first_overlap(period: Period, others: Iterable[Period]) -> Period | None:
    """Another period that overlaps `period` without being the very same one (which would be an update)."""
    for other in sorted(others):
        if other != period and other.overlaps(period):
            return other
    return None


BAD_AS_OF = Text(
    ru="Дата «на» — «{value}»: нужна дата 2026-01-31 или момент 2026-01-31T18:00.",
    en="As of “{value}”: expected a date like 2026-01-31 or a moment like 2026-01-31T18:00.",
)


def parse_as_of(value: str | None, tz: Any) -> int | None:
    """`--as-of`: a date means the end of that day in the rules' time zone; a date-time is taken as given
    (in the rules' time zone unless it names its own)."""
    if value is None:
        return None
    try:
        if "T" in value or " " in value.strip():
            moment = datetime.fromisoformat(value.strip())
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=tz)
            return int(moment.timestamp())
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise StatsInputError(BAD_AS_OF, value=value) from None
    end_of_day = datetime(day.year, day.month, day.day, tzinfo=tz) + timedelta(days=1)
    return int(end_of_day.timestamp()) - 1
