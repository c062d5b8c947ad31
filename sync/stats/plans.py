"""Entering plans and marketing spend: parsing and validation (pure) and saving them (thin, one session).

Every refusal is a `StatsInputError` with the message in ru and en, naming the line or period at fault.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlmodel import Session

from integration.i18n import Text
from integration.storage import stats as storage
from integration.storage.rulesets import active_ruleset
from sync.stats.periods import Period, StatsInputError, first_overlap

PLAN_FIGURES = ("leads", "qualified", "deals", "revenue")

NEGATIVE_PLAN = Text(
    ru="План «{name}» не может быть отрицательным ({value}).",
    en="The {name} plan cannot be negative ({value}).",
)
EMPTY_PLAN = Text(
    ru="Укажите хотя бы одну цифру плана: --leads, --qualified, --deals или --revenue.",
    en="Give at least one plan figure: --leads, --qualified, --deals or --revenue.",
)
OVERLAPPING_PLAN = Text(
    ru="План на {period} пересекается с уже заданным планом на {other}. "
    "Измените тот период или задайте ровно его.",
    en="The plan for {period} overlaps the existing plan for {other}. Change that period or set exactly it.",
)
OVERLAPPING_SPEND = Text(
    ru="Строка {line}: расход канала «{channel}» за {period} пересекается с расходом за {other}.",
    en="Line {line}: spend of channel “{channel}” for {period} overlaps the spend for {other}.",
)
NEGATIVE_SPEND = Text(
    ru="Строка {line}: расход не может быть отрицательным ({value}).",
    en="Line {line}: spend cannot be negative ({value}).",
)
BAD_AMOUNT = Text(
    ru="Строка {line}: «{value}» — не сумма.",
    en="Line {line}: “{value}” is not an amount.",
)
UNKNOWN_CHANNEL = Text(
    ru="Строка {line}: неизвестный канал «{channel}». Известные каналы: {known}.",
    en="Line {line}: unknown channel “{channel}”. Known channels: {known}.",
)
BAD_HEADER = Text(
    ru="В первой строке файла нужны колонки period, channel, amount (есть: {found}).",
    en="The file's first line must name the columns period, channel, amount (found: {found}).",
)
BAD_PERIOD_LINE = Text(
    ru="Строка {line}: непонятный период «{value}» (нужно 2026-11 или 2026-11-01..2026-11-07).",
    en="Line {line}: cannot read the period “{value}” (expected 2026-11 or 2026-11-01..2026-11-07).",
)
EMPTY_FILE = Text(ru="В файле нет ни одной строки расходов.", en="The file holds no spend lines.")


@dataclass(frozen=True, slots=True)
class SpendRow:
    line: int
    period: Period
    channel: str
    amount: Decimal


def validate_plan(
    period: Period, figures: dict[str, int | None], *, existing: Iterable[Period]
) -> dict[str, int | None]:
    """The figures to store; refuses negative figures, an empty plan and periods overlapping another plan."""
    given = {name: value for name, value in figures.items() if value is not None}
    if not given:
        raise StatsInputError(EMPTY_PLAN)
    for name, value in given.items():
        if name not in PLAN_FIGURES:
            raise ValueError(f"not a plan figure: {name}")
        if value < 0:
            raise StatsInputError(NEGATIVE_PLAN, name=name, value=value)
    if (other := first_overlap(period, existing)) is not None:
        raise StatsInputError(OVERLAPPING_PLAN, period=period.label, other=other.label)
    return dict(given)


def _amount(text: str, line: int) -> Decimal:
    # People paste "12 500,50" from spreadsheets as often as "12500.50".
    cleaned = text.replace("\u00a0", "").replace(" ", "").strip()
    if "," in cleaned and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        raise StatsInputError(BAD_AMOUNT, line=line, value=text) from None
    if not amount.is_finite():
        raise StatsInputError(BAD_AMOUNT, line=line, value=text)
    return amount


def parse_spend_csv(content: str) -> list[SpendRow]:
    """Reads `period,channel,amount` lines (`;` also accepted); the period is 2026-11 or a range of days."""
    sample = content[:2048]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    reader = csv.DictReader(io.StringIO(content.lstrip("\ufeff")), delimiter=delimiter)
    columns = [name.strip().lower() for name in reader.fieldnames or []]
    if not {"period", "channel", "amount"} <= set(columns):
        raise StatsInputError(BAD_HEADER, found=", ".join(columns) or "—")
    reader.fieldnames = columns
    rows = []
    for record in reader:
        line = reader.line_num
        if not any((value or "").strip() for value in record.values() if isinstance(value, str)):
            continue
        try:
            period = Period.parse(record["period"] or "")
        except StatsInputError:
            raise StatsInputError(BAD_PERIOD_LINE, line=line, value=record["period"]) from None
        amount = _amount(record["amount"] or "", line)
        rows.append(
            SpendRow(line=line, period=period, channel=(record["channel"] or "").strip(), amount=amount)
        )
    if not rows:
        raise StatsInputError(EMPTY_FILE)
    return rows


def validate_spend(
    rows: Sequence[SpendRow],
    *,
    known_channels: set[str] | None,
    existing: Iterable[tuple[str, Period]] = (),
) -> None:
    """Refuses negative spend, channels the rules don't know and overlapping periods of one channel."""
    periods_by_channel: dict[str, list[Period]] = {}
    for channel, period in existing:
        periods_by_channel.setdefault(channel, []).append(period)
    for row in rows:
        if row.amount < 0:
            raise StatsInputError(NEGATIVE_SPEND, line=row.line, value=row.amount)
        if known_channels is not None and row.channel not in known_channels:
            raise StatsInputError(
                UNKNOWN_CHANNEL,
                line=row.line,
                channel=row.channel,
                known=", ".join(sorted(known_channels)) or "—",
            )
        taken = periods_by_channel.setdefault(row.channel, [])
        if (other := first_overlap(row.period, taken)) is not None:
            raise StatsInputError(
                OVERLAPPING_SPEND,
                line=row.line,
                channel=row.channel,
                period=row.period.label,
                other=other.label,
            )
        if row.period in taken:
            # The same channel and period twice in one file: the later line would silently win.
            raise StatsInputError(
                OVERLAPPING_SPEND,
                line=row.line,
                channel=row.channel,
                period=row.period.label,
                other=row.period.label,
            )
        taken.append(row.period)


# --- saving -------------------------------------------------------------------------------------------------


def set_plan(
    *, session: Session, account_id: int, period: Period, figures: dict[str, int | None]
) -> storage.StatsPlan:
    """Validates and stores the plan of a period (re-setting the very same period updates it)."""
    existing = [
        Period(plan.period_start, plan.period_end)
        for plan in storage.list_plans(session=session, account_id=account_id)
    ]
    given = validate_plan(period, figures, existing=existing)
    return storage.upsert_plan(
        session=session,
        account_id=account_id,
        period_start=period.start,
        period_end=period.end,
        figures=given,
    )


def import_spend(
    *, session: Session, account_id: int, rows: Sequence[SpendRow], known_channels: set[str] | None
) -> int:
    """Validates every row first, then stores them; a stored channel × period is replaced."""
    stored = storage.list_spend(session=session, account_id=account_id)
    replaced = {(row.channel, row.period) for row in rows}
    existing = [
        (spend.channel, Period(spend.period_start, spend.period_end))
        for spend in stored
        if (spend.channel, Period(spend.period_start, spend.period_end)) not in replaced
    ]
    validate_spend(rows, known_channels=known_channels, existing=existing)
    for row in rows:
        storage.upsert_spend(
            session=session,
            account_id=account_id,
            channel=row.channel,
            period_start=row.period.start,
            period_end=row.period.end,
            amount=row.amount,
        )
    return len(rows)


def known_channels(*, session: Session, account_id: int) -> set[str]:
    """The channels the account's active rules can assign (spend for any other channel is refused)."""
    _version, ruleset = active_ruleset(session=session, account_id=account_id)
    return set(ruleset.channel_names)
