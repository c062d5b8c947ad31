"""The promo part of a lead's PATCH (pure): the "Active promos" and "Coupon" field values, only when changed.

The worker's write-back planner appends these to the lead's `custom_fields_values`; an empty list means the
lead already shows the right promos and coupon, so no PATCH (and no echo webhook) is needed for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def current_text(lead: Mapping[str, Any], field_id: int) -> str:
    for custom in lead.get("custom_fields_values") or ():
        if custom.get("field_id") == field_id:
            values = custom.get("values") or ()
            return str(values[0].get("value") or "") if values else ""
    return ""


def plan_promo_field_values(
    lead: Mapping[str, Any],
    *,
    active_promos: str,
    coupon: str | None,
    promos_field_id: int,
    coupon_field_id: int,
) -> list[dict[str, Any]]:
    """`custom_fields_values` entries setting (or clearing, with `values: null`) the two promo fields."""
    entries: list[dict[str, Any]] = []
    for field_id, wanted in ((promos_field_id, active_promos), (coupon_field_id, coupon or "")):
        if current_text(lead, field_id) == wanted:
            continue
        entries.append({"field_id": field_id, "values": [{"value": wanted}] if wanted else None})
    return entries
