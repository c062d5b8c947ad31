"""Promo definitions from a CSV or YAML file, checked row by row before anything is stored.

A file is all or nothing: every problem is reported with its row and field, and if there is any problem,
nothing is imported. CSV columns (any order, `,` or `;`, UTF-8 or cp1251): `key` (optional, defaults to
the name), `name`, `description`, `condition`, `code` (a code shared by everyone), `coupons` (unique codes,
separated by spaces, `,` or `|`), `starts_on`, `ends_on` (YYYY-MM-DD or DD.MM.YYYY). YAML: a list of
mappings with the same keys (`coupons` may be a list), or a mapping with a `promos:` list.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import yaml

from integration.i18n import Language, Text
from rules.promo import Promo
from sync.promos.matching import PromoConditionError, compile_condition
from sync.promos.tabular import TableError, read_table

KEY_PATTERN = re.compile(r"^[^\x00-\x1f]{1,100}$")
CODE_PATTERN = re.compile(r"^[\w\-]{1,64}$")
CODE_SEPARATORS = re.compile(r"[\s,|]+")
KNOWN_FIELDS = ("key", "name", "description", "condition", "code", "coupons", "starts_on", "ends_on")

REQUIRED = Text(ru="обязательное поле пусто", en="required field is empty")
BAD_KEY = Text(
    ru="ключ «{value}»: до 100 символов, без переводов строк",
    en="key “{value}”: at most 100 characters, no line breaks",
)
DUPLICATE_KEY = Text(
    ru="ключ «{value}» уже был в строке {other}", en="key “{value}” already used in row {other}"
)
BAD_DATE = Text(
    ru="«{value}» — не дата (ожидается ГГГГ-ММ-ДД или ДД.ММ.ГГГГ)",
    en="“{value}” is not a date (expected YYYY-MM-DD or DD.MM.YYYY)",
)
ENDS_BEFORE_START = Text(
    ru="дата окончания {ends} раньше даты начала {starts}", en="end date {ends} is before start date {starts}"
)
BAD_CONDITION = Text(ru="условие не разобрано: {detail}", en="condition cannot be parsed: {detail}")
BAD_CODE = Text(
    ru="код «{value}»: только буквы, цифры, «_», «-», до 64 символов",
    en="code “{value}”: letters, digits, “_”, “-” only, at most 64 characters",
)
DUPLICATE_CODE = Text(
    ru="код «{value}» повторяется (строка {other})", en="code “{value}” is repeated (row {other})"
)
CODE_TAKEN = Text(
    ru="код «{value}» уже выдан акции «{other}»", en="code “{value}” already belongs to promo “{other}”"
)
UNKNOWN_FIELD = Text(ru="неизвестное поле «{value}»", en="unknown field “{value}”")
NOT_A_MAPPING = Text(ru="ожидается набор полей акции", en="expected the promo's fields")
BAD_YAML = Text(ru="YAML не разобран: {detail}", en="YAML cannot be parsed: {detail}")
BAD_FORMAT = Text(
    ru="формат не поддерживается: нужен .csv, .yaml или .yml",
    en="unsupported format: use .csv, .yaml or .yml",
)
FILE_LEVEL = Text(ru="{detail}", en="{detail}")


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem in a promo file: the row (CSV line, or YAML item number), the field and what is wrong."""

    row: int
    field: str
    message: Text
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def render(self, lang: Language = "ru") -> str:
        where = Text(ru="строка {row}, поле «{field}»", en="row {row}, field “{field}”")
        return f"{where(lang, row=self.row, field=self.field)}: {self.message(lang, **self.params)}"


@dataclass(frozen=True, slots=True)
class PromoDefinition:
    row: int
    promo: Promo
    coupon_codes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PromoFile:
    definitions: tuple[PromoDefinition, ...]
    errors: tuple[RowError, ...]

    @property
    def ok(self) -> bool:
        return not self.errors


def parse_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    for pattern in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise ValueError(text)


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _codes(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(item).strip() for item in value if str(item).strip()]
    return [part for part in CODE_SEPARATORS.split(str(value)) if part]


def validate_row(row: int, raw: Mapping[str, Any]) -> tuple[PromoDefinition | None, list[RowError]]:
    """One promo from one row's fields, or the problems found in them."""
    errors: list[RowError] = []

    def fail(field_name: str, message: Text, **params: Any) -> None:
        errors.append(RowError(row, field_name, message, params))

    for name in raw:
        if name not in KNOWN_FIELDS:
            fail(str(name), UNKNOWN_FIELD, value=name)
    name = _text(raw.get("name"))
    if not name:
        fail("name", REQUIRED)
    key = _text(raw.get("key")) or name
    if key and not KEY_PATTERN.match(key):
        fail("key", BAD_KEY, value=key)
    condition = _text(raw.get("condition"))
    try:
        compile_condition(condition)
    except PromoConditionError as error:
        fail("condition", BAD_CONDITION, detail=error.detail)
    dates: dict[str, date | None] = {}
    for date_field in ("starts_on", "ends_on"):
        value = raw.get(date_field)
        dates[date_field] = None
        if _text(value):
            try:
                dates[date_field] = parse_date(value)
            except ValueError:
                fail(date_field, BAD_DATE, value=_text(value))
    starts_on, ends_on = dates["starts_on"], dates["ends_on"]
    if starts_on and ends_on and ends_on < starts_on:
        fail("ends_on", ENDS_BEFORE_START, starts=starts_on.isoformat(), ends=ends_on.isoformat())
    shared_code = _text(raw.get("code")) or None
    if shared_code and not CODE_PATTERN.match(shared_code):
        fail("code", BAD_CODE, value=shared_code)
    coupons = _codes(raw.get("coupons"))
    for code in coupons:
        if not CODE_PATTERN.match(code):
            fail("coupons", BAD_CODE, value=code)
    if errors:
        return None, errors
    promo = Promo(
        key=key,
        name=name,
        description=_text(raw.get("description")),
        condition=condition,
        shared_code=shared_code,
        uses_coupon_pool=bool(coupons),
        starts_on=starts_on,
        ends_on=ends_on,
    )
    return PromoDefinition(row=row, promo=promo, coupon_codes=tuple(coupons)), []


@dataclass(frozen=True, slots=True)
class _RowIdentity:
    row: int
    key: str
    codes: tuple[tuple[str, str], ...]


def _identity(row: int, raw: Mapping[str, Any]) -> _RowIdentity:
    key = _text(raw.get("key")) or _text(raw.get("name"))
    shared = _text(raw.get("code"))
    codes = ((("code", shared),) if shared else ()) + tuple(
        ("coupons", code) for code in _codes(raw.get("coupons"))
    )
    return _RowIdentity(row, key, codes)


def check_duplicates(rows: Sequence[_RowIdentity]) -> list[RowError]:
    """Keys and codes must be unique within the file (a code is either shared or in one pool, once).

    Checked on every row, valid or not, so fixing one row's date never reveals a new duplicate error.
    """
    errors: list[RowError] = []
    key_rows: dict[str, int] = {}
    code_rows: dict[str, int] = {}
    for identity in rows:
        if identity.key and identity.key in key_rows:
            errors.append(
                RowError(
                    identity.row,
                    "key",
                    DUPLICATE_KEY,
                    {"value": identity.key, "other": key_rows[identity.key]},
                )
            )
        if identity.key:
            key_rows.setdefault(identity.key, identity.row)
        for field_name, code in identity.codes:
            if code in code_rows:
                errors.append(
                    RowError(
                        identity.row, field_name, DUPLICATE_CODE, {"value": code, "other": code_rows[code]}
                    )
                )
            code_rows.setdefault(code, identity.row)
    return errors


def _collect(rows: Iterable[tuple[int, Mapping[str, Any]]]) -> PromoFile:
    definitions: list[PromoDefinition] = []
    errors: list[RowError] = []
    identities: list[_RowIdentity] = []
    for row, raw in rows:
        definition, row_errors = validate_row(row, raw)
        errors.extend(row_errors)
        identities.append(_identity(row, raw))
        if definition is not None:
            definitions.append(definition)
    errors.extend(check_duplicates(identities))
    errors.sort(key=lambda error: error.row)
    return PromoFile(definitions=tuple(definitions), errors=tuple(errors))


def parse_promo_csv(data: bytes) -> PromoFile:
    try:
        table = read_table(data)
    except TableError as error:
        return PromoFile((), (RowError(1, "-", FILE_LEVEL, {"detail": error.message("en")}),))
    rows = [(line, {name: value for name, value in record.items() if name}) for line, record in table.rows]
    return _collect(rows)


def parse_promo_yaml(data: bytes) -> PromoFile:
    try:
        document = yaml.safe_load(data.decode("utf-8-sig"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        return PromoFile((), (RowError(1, "-", BAD_YAML, {"detail": str(error).splitlines()[0]}),))
    items = document.get("promos") if isinstance(document, dict) else document
    return parse_promo_items(items)


def parse_promo_items(items: Any) -> PromoFile:
    """Promos from a list of mappings (YAML or the API's JSON); item numbers count from 1."""
    if not isinstance(items, list):
        return PromoFile((), (RowError(1, "promos", NOT_A_MAPPING, {}),))
    rows: list[tuple[int, Mapping[str, Any]]] = []
    errors: list[RowError] = []
    for number, item in enumerate(items, start=1):
        if isinstance(item, dict):
            rows.append((number, {str(name): value for name, value in item.items()}))
        else:
            errors.append(RowError(number, "-", NOT_A_MAPPING, {}))
    parsed = _collect(rows)
    return PromoFile(parsed.definitions, tuple(sorted(errors + list(parsed.errors), key=lambda e: e.row)))


def parse_promo_file(data: bytes, *, filename: str) -> PromoFile:
    """The promos of a `.csv`, `.yaml` or `.yml` file, with every problem found (by row and field)."""
    suffix = filename.lower().rsplit(".", 1)[-1]
    if suffix == "csv":
        return parse_promo_csv(data)
    if suffix in ("yaml", "yml"):
        return parse_promo_yaml(data)
    return PromoFile((), (RowError(0, "-", BAD_FORMAT, {}),))
