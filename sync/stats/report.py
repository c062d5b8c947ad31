"""The figures as plain JSON-ready data (`leadpact stats show --json`, the API) and their ru/en labels."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from integration.i18n import Language, Text
from sync.stats.metrics import PeriodFigures
from sync.stats.periods import Period

EMPTY = "—"

UNKNOWN = Text(ru="неизвестно", en="unknown")
NOT_MAPPED = Text(ru="поле не сопоставлено", en="field not mapped")
TOO_FEW = Text(
    ru="мало данных для вывода (n={n}, нужно ≥ {min})", en="too few to judge (n={n}, need ≥ {min})"
)
UNKNOWN_PERSON = Text(
    ru="пользователь #{id} (имя не получено из amoCRM)", en="user #{id} (name not read from amoCRM)"
)
HISTORY_MISSING: dict[str, Text] = {
    "no_events_api": Text(
        ru="История смен этапов недоступна: amoCRM не отдал список событий при загрузке истории (404/403). "
        "Конверсия по этапам и взвешенная воронка неизвестны.",
        en="No stage history: amoCRM refused its events list during backfill (404/403). "
        "Stage conversion and the weighted pipeline are unknown.",
    ),
    "no_history": Text(
        ru="Истории смен этапов нет (ни одной смены статуса не сохранено; запустите leadpact backfill). "
        "Конверсия по этапам и взвешенная воронка неизвестны.",
        en="No stage history is stored (not one status change; run leadpact backfill). "
        "Stage conversion and the weighted pipeline are unknown.",
    ),
}
WON_BASIS: dict[str, Text] = {
    "close_date": Text(ru="сделки — по дате закрытия", en="deals by close date"),
    "cohort": Text(
        ru="сделки — по когорте лидов (дате создания лида)", en="deals by lead cohort (lead creation date)"
    ),
}


def person_name(user_id: int | None, names: Mapping[int, str], lang: Language) -> str:
    """A person by name; a user amoCRM did not list (or not yet read) is marked as such."""
    if user_id is None:
        return LABELS["no_manager"](lang)
    return names.get(user_id) or UNKNOWN_PERSON(lang, id=user_id)


def channel_title(channel: str | None, titles: Mapping[str, Text], lang: Language) -> str:
    """A channel by the title the rule file gives it (the key when the rules no longer know it)."""
    if channel is None:
        return LABELS["no_channel"](lang)
    title = titles.get(channel)
    return title(lang) if title is not None else channel


LABELS: dict[str, Text] = {
    "leads": Text(ru="Лиды", en="Leads"),
    "qualified": Text(ru="Целевые", en="Qualified"),
    "deals": Text(ru="Сделки", en="Deals"),
    "revenue": Text(ru="Выручка", en="Revenue"),
    "plan": Text(ru="План", en="Plan"),
    "actual": Text(ru="Факт", en="Actual"),
    "planned_to_date": Text(ru="План на сегодня", en="Planned to date"),
    "pace": Text(ru="Темп", en="Pace"),
    "forecast": Text(ru="Прогноз на конец", en="Forecast at end"),
    "forecast_vs_plan": Text(ru="Прогноз к плану", en="Forecast vs plan"),
    "channel": Text(ru="Канал", en="Channel"),
    "qualified_pct": Text(ru="% целевых", en="% qualified"),
    "norm": Text(ru="Норма", en="Norm"),
    "experimental": Text(ru="Эксперимент", en="Experimental"),
    "spend": Text(ru="Расход", en="Spend"),
    "per_lead": Text(ru="Цена лида", en="Per lead"),
    "per_qualified": Text(ru="Цена целевого", en="Per qualified"),
    "per_customer": Text(ru="Цена клиента", en="Per customer"),
    "customers": Text(ru="Клиенты", en="Customers"),
    "stage": Text(ru="Этап", en="Stage"),
    "next_stage": Text(ru="Следующий", en="Next"),
    "reached": Text(ru="Дошли", en="Reached"),
    "conversion": Text(ru="Конверсия", en="Conversion"),
    "manager": Text(ru="Менеджер", en="Manager"),
    "won": Text(ru="Выиграно", en="Won"),
    "all_channels": Text(ru="Все каналы", en="All channels"),
    "experimental_channels": Text(ru="Экспериментальные", en="Experimental channels"),
    "no_channel": Text(ru="без канала", en="no channel"),
    "no_manager": Text(ru="без менеджера", en="no manager"),
    "won_stage": Text(ru="Успешно реализовано", en="Won"),
    "best": Text(ru="лучший", en="best"),
    "worst": Text(ru="худший", en="worst"),
    "not_ranked": Text(ru="мало лидов", en="too few leads"),
    "min_sample": Text(ru="минимум лидов для оценки", en="minimum sample"),
    "bonus": Text(ru="База бонуса маркетинга", en="Marketing bonus base"),
    "pct_of_plan": Text(ru="% плана", en="% of plan"),
    "coverage": Text(ru="Покрытие плана воронкой", en="Pipeline coverage"),
    "open_deals": Text(ru="Открытые сделки", en="Open deals"),
    "open_value": Text(ru="Их сумма", en="Open value"),
    "weighted_value": Text(ru="Взвешенная сумма", en="Weighted value"),
    "unrated_value": Text(ru="Без истории этапа", en="No stage history"),
    "remaining_plan": Text(ru="Осталось до плана", en="Remaining plan"),
    "completeness": Text(ru="Заполненность полей квалификации", en="Qualification field completeness"),
    "overall": Text(ru="Всего", en="Overall"),
    "as_of": Text(ru="Данные на", en="As of"),
    "period": Text(ru="Период", en="Period"),
    "weeks": Text(ru="по неделям", en="by week"),
    "funnel": Text(ru="Конверсия по этапам", en="Stage-to-stage conversion"),
    "run_rate": Text(ru="Темп к плану", en="Run rate"),
    "managers": Text(ru="Конверсия менеджеров (лид → выиграно)", en="Manager conversion (lead → won)"),
    "channels": Text(ru="Каналы", en="Channels"),
}


def label(key: str, lang: Language) -> str:
    return LABELS[key](lang)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Period):
        return {"label": value.label, "start": value.start.isoformat(), "end": value.end.isoformat()}
    if isinstance(value, date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: _plain(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    return value


def figures_as_dict(figures: PeriodFigures) -> dict[str, Any]:
    """Every figure as JSON-ready data: money as decimal strings, empty figures as null."""
    result = _plain(figures)
    assert isinstance(result, dict)
    return result
