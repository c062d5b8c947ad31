"""Building amoCRM v4 leads the way the sandbox and amoCRM return them, for rule tests."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

FIELD_IDS = {
    "BUDGET": 1001,
    "DECISION_MAKER": 1002,
    "NEED": 1003,
    "DECISION_DATE": 1004,
    "PRODUCT": 1005,
    "UTM_SOURCE": 2001,
    "UTM_MEDIUM": 2002,
    "UTM_CAMPAIGN": 2003,
    "UTM_CONTENT": 2004,
    "UTM_TERM": 2005,
    "REFERRER": 2006,
}
FIELD_TYPES = {
    "BUDGET": "numeric",
    "DECISION_MAKER": "checkbox",
    "NEED": "textarea",
    "DECISION_DATE": "date",
    "PRODUCT": "select",
}


def moscow_midnight(day: date) -> int:
    """amoCRM stores a date field as the account's local midnight in unix seconds (Moscow is UTC+3)."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) - 3 * 3600


def field_value(code: str, value: Any, *, enum_id: int | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"value": value}
    if enum_id is not None:
        item["enum_id"] = enum_id
    return {
        "field_id": FIELD_IDS.get(code, 9999),
        "field_name": code.replace("_", " ").title(),
        "field_code": code,
        "field_type": FIELD_TYPES.get(code, "tracking_data"),
        "values": [item],
    }


def make_lead(
    lead_id: int = 1,
    *,
    tags: tuple[str, ...] = (),
    status_id: int = 100,
    price: int | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A lead whose custom fields are given by code in keyword form: make_lead(BUDGET=500000, UTM_SOURCE="vk")."""
    values = []
    for code, value in fields.items():
        if isinstance(value, date) and not isinstance(value, datetime):
            value = moscow_midnight(value)
        values.append(field_value(code, value))
    return {
        "id": lead_id,
        "name": f"Lead {lead_id}",
        "price": price,
        "status_id": status_id,
        "pipeline_id": 10,
        "responsible_user_id": 5,
        "created_at": int(NOW.timestamp()) - 86400,
        "updated_at": int(NOW.timestamp()),
        "custom_fields_values": values or None,
        "_embedded": {"tags": [{"id": i + 1, "name": tag} for i, tag in enumerate(tags)], "contacts": []},
    }


def contact(phone: str | None = None, email: str | None = None) -> dict[str, Any]:
    values = []
    if phone is not None:
        values.append(
            {"field_id": 1, "field_code": "PHONE", "field_type": "multitext", "values": [{"value": phone}]}
        )
    if email is not None:
        values.append(
            {"field_id": 2, "field_code": "EMAIL", "field_type": "multitext", "values": [{"value": email}]}
        )
    return {"id": 77, "name": "Contact", "custom_fields_values": values}
