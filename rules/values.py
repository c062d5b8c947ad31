"""Facts read out of an amoCRM v4 lead, tolerant of odd values, plus durations and how values are shown.

Every reader returns either a clean value, `MISSING` (the field is empty) or `Invalid` (something is there but
it cannot be read as the field's type). Conditions treat both of the latter as *unknown*, never as failed.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, Final, Literal

from rules.i18n import Language
from rules.model import FieldType


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()


@dataclass(frozen=True, slots=True)
class Invalid:
    """A value is present but cannot be read as the field's type (kept, shortened, for the explanation)."""

    raw: str


FactValue = float | bool | tuple[str, ...] | date | _Missing | Invalid

_TRUE_WORDS = frozenset({"1", "true", "yes", "y", "on", "да", "д", "истина"})
_FALSE_WORDS = frozenset({"0", "false", "no", "n", "off", "нет", "н", "ложь"})
_DOTTED_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")
_MIN_YEAR, _MAX_YEAR = 1900, 2200


def _shorten(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def read_number(raw: Any) -> FactValue:
    if type(raw) is int and -(2**53) < raw < 2**53:
        return float(raw)
    if raw is None:
        return MISSING
    if isinstance(raw, bool):
        return Invalid(_shorten(raw))
    if isinstance(raw, int | float):
        try:
            number = float(raw)
        except OverflowError:
            return Invalid(_shorten(raw))
        return number if number == number and abs(number) != float("inf") else Invalid(_shorten(raw))
    if isinstance(raw, str):
        cleaned = raw.strip().replace("\u00a0", "").replace(" ", "").replace(",", ".")
        if not cleaned:
            return MISSING
        try:
            number = float(cleaned)
        except ValueError:
            return Invalid(_shorten(raw))
        return number if number == number and abs(number) != float("inf") else Invalid(_shorten(raw))
    return Invalid(_shorten(raw))


def read_boolean(raw: Any) -> FactValue:
    if raw is None:
        return MISSING
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int | float):
        return Invalid(_shorten(raw)) if raw not in (0, 1) else bool(raw)
    if isinstance(raw, str):
        word = raw.strip().casefold()
        if not word:
            return MISSING
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
    return Invalid(_shorten(raw))


def _date_from_timestamp(seconds: float, zone: tzinfo) -> FactValue:
    if seconds > 100_000_000_000:  # milliseconds, as some exports write them
        seconds /= 1000
    try:
        moment = datetime.fromtimestamp(seconds, UTC).astimezone(zone)
    except (OverflowError, OSError, ValueError):
        return Invalid(_shorten(seconds))
    if not _MIN_YEAR <= moment.year <= _MAX_YEAR:
        return Invalid(_shorten(seconds))
    return moment.date()


def _safe_date(year: int, month: int, day: int, raw: str) -> FactValue:
    if not _MIN_YEAR <= year <= _MAX_YEAR:
        return Invalid(_shorten(raw))
    try:
        return date(year, month, day)
    except ValueError:
        return Invalid(_shorten(raw))


def read_date(raw: Any, zone: tzinfo) -> FactValue:
    if raw is None:
        return MISSING
    if isinstance(raw, bool):
        return Invalid(_shorten(raw))
    if isinstance(raw, int | float):
        if raw != raw or abs(raw) == float("inf") or abs(raw) > 10**15:
            return Invalid(_shorten(raw))
        return _date_from_timestamp(float(raw), zone)
    if not isinstance(raw, str):
        return Invalid(_shorten(raw))
    text = raw.strip()
    if not text:
        return MISSING
    if text.isdigit():
        return _date_from_timestamp(float(text), zone) if len(text) <= 15 else Invalid(_shorten(raw))
    if match := _DOTTED_DATE.match(text):
        return _safe_date(int(match[3]), int(match[2]), int(match[1]), raw)
    if len(text) > 10 and (match := _ISO_DATE.match(text)):
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return _safe_date(int(match[1]), int(match[2]), int(match[3]), raw)
        if moment.tzinfo is not None:
            moment = moment.astimezone(zone)
        return _safe_date(moment.year, moment.month, moment.day, raw)
    if match := _ISO_DATE.match(text):
        return _safe_date(int(match[1]), int(match[2]), int(match[3]), raw)
    return Invalid(_shorten(raw))


def read_text(raw: Any) -> FactValue:
    if type(raw) is str:
        text = raw.strip()
        return (text,) if text else MISSING
    if raw is None:
        return MISSING
    if isinstance(raw, bool):
        return ("yes" if raw else "no",)
    if isinstance(raw, str | int | float):
        text = str(raw).strip()
        return (text,) if text else MISSING
    return Invalid(_shorten(raw))


# --- one lead, indexed once ---------------------------------------------------------------------------------


def _values_of(entry: Mapping[str, Any], enums: Mapping[int, str] | None) -> list[Any]:
    """The raw values of a custom-field entry; a select with only an enum id resolves via the catalog."""
    values = entry.get("values")
    if not isinstance(values, list):
        return []
    result: list[Any] = []
    for item in values:
        if type(item) is dict or isinstance(item, Mapping):
            value = item.get("value")
            if value is None and "enum_id" in item:
                enum_id = item.get("enum_id")
                label = enums.get(enum_id) if enums and isinstance(enum_id, int) else None
                value = label if label is not None else Invalid(f"enum {_shorten(enum_id)}")
            result.append(value)
        else:
            result.append(item)
    return result


class LeadFacts:
    """A lead's custom fields indexed once (by code eagerly, by id and name on first use) for cheap reads."""

    __slots__ = (
        "_by_id",
        "_by_name",
        "_entries",
        "_raw_entries",
        "by_code",
        "contacts",
        "lead",
        "today",
        "values",
        "zone",
    )

    def __init__(
        self, lead: Mapping[str, Any], contacts: Sequence[Mapping[str, Any]], today: date, zone: tzinfo
    ) -> None:
        if type(lead) is not dict and not isinstance(lead, Mapping):
            lead = {}
        self.lead: Mapping[str, Any] = lead
        self.contacts = contacts
        self.today = today
        self.zone = zone
        # Typed values (and other per-lead derived facts) by key, computed on first use.
        self.values: dict[str, Any] = {}
        self._entries: list[Mapping[str, Any]] | None = None
        self._by_id: dict[int, Mapping[str, Any]] | None = None
        self._by_name: dict[str, Mapping[str, Any]] | None = None
        by_code: dict[str, Mapping[str, Any]] = {}
        self.by_code = by_code
        raw_entries = lead.get("custom_fields_values")
        if type(raw_entries) is list:
            self._raw_entries: list[Any] = raw_entries
            for entry in raw_entries:
                if type(entry) is dict or isinstance(entry, Mapping):
                    code = entry.get("field_code")
                    if type(code) is str and code:
                        by_code[code if code.isupper() else code.upper()] = entry
        else:
            self._raw_entries = []

    @property
    def entries(self) -> list[Mapping[str, Any]]:
        """The lead's custom-field entries that are mappings, in order (built on first use)."""
        if self._entries is None:
            self._entries = [
                entry for entry in self._raw_entries if type(entry) is dict or isinstance(entry, Mapping)
            ]
        return self._entries

    def by_id(self, field_id: int) -> Mapping[str, Any] | None:
        if self._by_id is None:
            self._by_id = {}
            for entry in self.entries:
                key = entry.get("field_id")
                if type(key) is int:
                    self._by_id[key] = entry
        return self._by_id.get(field_id)

    def by_name(self, name: str) -> Mapping[str, Any] | None:
        if self._by_name is None:
            self._by_name = {}
            for entry in self.entries:
                key = entry.get("field_name")
                if isinstance(key, str) and key:
                    self._by_name[key.strip().casefold()] = entry
        return self._by_name.get(name)


def read_values(raw_values: list[Any], kind: FieldType, zone: tzinfo) -> FactValue:
    """The typed value of a field: text keeps all values, other types the first filled one."""
    if kind == "text":
        texts: list[str] = []
        invalid: Invalid | None = None
        for raw in raw_values:
            value = raw if isinstance(raw, Invalid) else read_text(raw)
            if isinstance(value, tuple):
                texts.extend(value)
            elif isinstance(value, Invalid):
                invalid = value
        if texts:
            return tuple(texts)
        return invalid if invalid is not None else MISSING
    for raw in raw_values:
        if isinstance(raw, Invalid):
            return raw
        if kind == "number":
            value = read_number(raw)
        elif kind == "boolean":
            value = read_boolean(raw)
        else:
            value = read_date(raw, zone)
        if value is not MISSING:
            return value
    return MISSING


def contact_has(contacts: Sequence[Mapping[str, Any]], code: str) -> bool:
    """Whether any contact carries a non-empty multitext value under `code` (PHONE or EMAIL)."""
    for contact in contacts:
        if not isinstance(contact, Mapping):
            continue
        entries = contact.get("custom_fields_values")
        if not isinstance(entries, list):
            continue
        for entry in entries:
            if not isinstance(entry, Mapping) or entry.get("field_code") != code:
                continue
            for raw in _values_of(entry, None):
                if isinstance(raw, str) and raw.strip():
                    return True
    return False


def lead_tags(lead: Mapping[str, Any]) -> tuple[str, ...]:
    embedded = lead.get("_embedded")
    if not isinstance(embedded, Mapping):
        return ()
    tags = embedded.get("tags")
    if not isinstance(tags, list):
        return ()
    return tuple(
        str(tag["name"]).strip().casefold()
        for tag in tags
        if isinstance(tag, Mapping) and isinstance(tag.get("name"), str | int) and str(tag["name"]).strip()
    )


# --- durations ----------------------------------------------------------------------------------------------

DurationUnit = Literal["days", "weeks", "months", "years"]
_UNIT_WORDS: dict[str, DurationUnit] = {
    "day": "days",
    "days": "days",
    "d": "days",
    "week": "weeks",
    "weeks": "weeks",
    "w": "weeks",
    "month": "months",
    "months": "months",
    "year": "years",
    "years": "years",
    "y": "years",
}
_DURATION = re.compile(r"^\s*([+-]?)\s*(\d{1,4})\s*([a-z]+)\s*$")


@dataclass(frozen=True, slots=True)
class Duration:
    """A calendar distance such as "6 months" (months and years follow the calendar, not 30-day blocks)."""

    amount: int
    unit: DurationUnit

    @classmethod
    def parse(cls, text: str) -> Duration | None:
        match = _DURATION.match(text.casefold())
        if not match or match[3] not in _UNIT_WORDS:
            return None
        amount = int(match[2]) * (-1 if match[1] == "-" else 1)
        return cls(amount, _UNIT_WORDS[match[3]])

    def add_to(self, day: date) -> date:
        try:
            if self.unit == "days":
                return day + timedelta(days=self.amount)
            if self.unit == "weeks":
                return day + timedelta(weeks=self.amount)
            months = self.amount * (12 if self.unit == "years" else 1)
            index = day.year * 12 + day.month - 1 + months
            year, month = divmod(index, 12)
            last = calendar.monthrange(year, month + 1)[1]
            return date(year, month + 1, min(day.day, last))
        except (OverflowError, ValueError):
            return date.max if self.amount > 0 else date.min

    def show(self, lang: Language) -> str:
        count = abs(self.amount)
        if lang == "en":
            unit = self.unit if count != 1 else self.unit[:-1]
            return f"{count} {unit}"
        forms = {
            "days": ("день", "дня", "дней"),
            "weeks": ("неделя", "недели", "недель"),
            "months": ("месяц", "месяца", "месяцев"),
            "years": ("год", "года", "лет"),
        }[self.unit]
        return f"{count} {forms[_russian_plural(count)]}"


def _russian_plural(count: int) -> int:
    if count % 10 == 1 and count % 100 != 11:
        return 0
    if 2 <= count % 10 <= 4 and not 12 <= count % 100 <= 14:
        return 1
    return 2


# --- showing values -----------------------------------------------------------------------------------------


def show_number(number: float) -> str:
    if number == int(number) and abs(number) < 1e15:
        return f"{int(number):,}".replace(",", " ")
    return f"{number:,.2f}".replace(",", " ")


def show_value(value: object, lang: Language) -> str:
    if isinstance(value, bool):
        return ("да" if value else "нет") if lang == "ru" else ("yes" if value else "no")
    if isinstance(value, int | float):
        return show_number(float(value))
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple):
        return ", ".join(str(v) for v in value)
    if isinstance(value, Duration):
        return value.show(lang)
    return str(value)
