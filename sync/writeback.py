"""What LeadPact writes back to a lead (pure): its fields and `channel:`/`level:` tags, where they differ.

Every PATCH makes amoCRM fire `update_lead` back at us. Planning against the lead's current values, and
planning nothing when it already holds them, is what stops that echo from turning into a loop of writes — and
what keeps API calls per event close to the floor.

Tags go through `tags_to_add` / `tags_to_delete`, never `_embedded.tags` (which replaces every tag), so tags
set by people are never removed. We only ever delete tags with our own prefixes that no longer apply.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from integration.i18n import Language

__all__ = ["CHANNEL_TAG_PREFIX", "LEVEL_TAG_PREFIX", "OWN_TAG_PREFIXES", "plan_lead_update", "wanted_tags"]

CHANNEL_TAG_PREFIX = "channel:"
LEVEL_TAG_PREFIX = "level:"
OWN_TAG_PREFIXES = (CHANNEL_TAG_PREFIX, LEVEL_TAG_PREFIX)


class ClassificationLike(Protocol):
    """The part of `rules.Classification` the write-back needs."""

    @property
    def channel(self) -> str: ...
    @property
    def level(self) -> str: ...
    @property
    def qualified(self) -> bool: ...
    def reason(self, lang: Language = "ru") -> str: ...


class FieldIds(Protocol):
    """The part of `integration.provisioning.ProvisionedFields` the write-back needs."""

    @property
    def channel(self) -> int: ...
    @property
    def level(self) -> int: ...
    @property
    def qualified(self) -> int: ...
    @property
    def reason(self) -> int: ...
    @property
    def level_enums(self) -> Mapping[str, int]: ...
    @property
    def qualified_enums(self) -> Mapping[str, int]: ...


def wanted_tags(classification: ClassificationLike) -> tuple[str, ...]:
    return (f"{CHANNEL_TAG_PREFIX}{classification.channel}", f"{LEVEL_TAG_PREFIX}{classification.level}")


def plan_lead_update(
    lead: Mapping[str, Any], classification: ClassificationLike, fields: FieldIds, *, lang: Language
) -> dict[str, Any] | None:
    """The PATCH entry making `lead` (v4 JSON) carry `classification`; None when nothing would change."""
    current = _current_values(lead)
    values: list[dict[str, Any]] = []

    channel = classification.channel
    if _text(current.get(fields.channel)) != channel:
        values.append({"field_id": fields.channel, "values": [{"value": channel}]})

    level_enum = fields.level_enums.get(classification.level)
    if level_enum is not None and _enum_id(current.get(fields.level)) != level_enum:
        values.append({"field_id": fields.level, "values": [{"enum_id": level_enum}]})

    # «Целевой» is a Да/Нет select: "Нет" is written too, so an empty value means "not classified yet".
    qualified_enum = fields.qualified_enums.get("yes" if classification.qualified else "no")
    if qualified_enum is not None and _enum_id(current.get(fields.qualified)) != qualified_enum:
        values.append({"field_id": fields.qualified, "values": [{"enum_id": qualified_enum}]})

    reason = classification.reason(lang)
    if (_text(current.get(fields.reason)) or "") != reason:
        values.append({"field_id": fields.reason, "values": [{"value": reason}]})

    present = _tag_names(lead)
    wanted = wanted_tags(classification)
    to_add = [name for name in wanted if name not in present]
    to_delete = [name for name in sorted(present) if name.startswith(OWN_TAG_PREFIXES) and name not in wanted]

    if not (values or to_add or to_delete):
        return None
    update: dict[str, Any] = {"id": int(lead["id"])}
    if values:
        update["custom_fields_values"] = values
    if to_add:
        update["tags_to_add"] = [{"name": name} for name in to_add]
    if to_delete:
        update["tags_to_delete"] = [{"name": name} for name in to_delete]
    return update


def _current_values(lead: Mapping[str, Any]) -> dict[int, Sequence[Mapping[str, Any]]]:
    found: dict[int, Sequence[Mapping[str, Any]]] = {}
    for field in lead.get("custom_fields_values") or ():
        if isinstance(field, Mapping) and isinstance(field.get("field_id"), int):
            found[field["field_id"]] = field.get("values") or ()
    return found


def _first(values: Sequence[Mapping[str, Any]] | None) -> Mapping[str, Any] | None:
    if not values:
        return None
    first = values[0]
    return first if isinstance(first, Mapping) else None


def _text(values: Sequence[Mapping[str, Any]] | None) -> str | None:
    first = _first(values)
    if first is None or first.get("value") is None:
        return None
    return str(first["value"])


def _enum_id(values: Sequence[Mapping[str, Any]] | None) -> int | None:
    first = _first(values)
    enum_id = None if first is None else first.get("enum_id")
    return enum_id if isinstance(enum_id, int) else None


def _tag_names(lead: Mapping[str, Any]) -> set[str]:
    embedded = lead.get("_embedded") or {}
    tags = embedded.get("tags") if isinstance(embedded, Mapping) else None
    return {
        str(tag["name"]) for tag in tags or () if isinstance(tag, Mapping) and tag.get("name") is not None
    }
