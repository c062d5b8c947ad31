"""The webhook parser as it was before the single-pass rewrite, kept only as the reference the tests compare
the current `webhooks.parse` against (same payloads, same refusal reasons). Do not use it anywhere else."""

# ruff: noqa
# mypy: ignore-errors
from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias, cast
from urllib.parse import unquote_plus

__all__ = [
    "ContactEvent",
    "CustomFieldValue",
    "LeadEvent",
    "WebhookCustomField",
    "WebhookEvent",
    "WebhookParseError",
    "WebhookPayload",
    "event_from_dict",
    "event_to_dict",
    "parse_webhook",
]

LeadAction = Literal["add", "update", "status", "delete", "restore", "responsible", "note"]
LEAD_ACTIONS: frozenset[str] = frozenset(
    ("add", "update", "status", "delete", "restore", "responsible", "note")
)
CONTACT_ACTIONS: frozenset[str] = frozenset(("add", "update", "delete", "restore", "responsible", "note"))

# A real amoCRM body holds at most a few hundred fields per entity; these caps keep a hostile body cheap.
MAX_FIELDS = 50_000
MAX_KEY_DEPTH = 8

_KEY_PART = re.compile(r"\[([^\[\]]*)\]")
_WHOLE_NUMBER = re.compile(r"-?[0-9]{1,18}")

Nested: TypeAlias = "dict[str, Nested] | str"


class WebhookParseError(ValueError):
    """The body is not an amoCRM webhook we can read; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class CustomFieldValue:
    value: str | None
    enum_id: int | None = None


@dataclass(frozen=True, slots=True)
class WebhookCustomField:
    """One custom field in API v2 shape; `values` is empty for a field that arrived without any."""

    id: int
    name: str | None = None
    code: str | None = None
    values: tuple[CustomFieldValue, ...] = ()


@dataclass(frozen=True, slots=True)
class LeadEvent:
    action: LeadAction
    lead_id: int
    account_id: int | None = None
    name: str | None = None
    status_id: int | None = None
    old_status_id: int | None = None
    pipeline_id: int | None = None
    old_pipeline_id: int | None = None
    price: int | None = None
    responsible_user_id: int | None = None
    old_responsible_user_id: int | None = None
    modified_user_id: int | None = None
    created_at: int | None = None
    updated_at: int | None = None
    last_modified: int | None = None
    custom_fields: tuple[WebhookCustomField, ...] = ()
    tags: tuple[str, ...] = ()
    note_type: int | None = None
    note_text: str | None = None

    @property
    def occurred_at(self) -> int | None:
        """When amoCRM says the change happened (unix seconds), from whichever timestamp the hook carried."""
        return self.last_modified or self.updated_at or self.created_at

    @property
    def is_status_artefact(self) -> bool:
        """A status event that moved nothing: amoCRM sends these, and they must change nothing."""
        return (
            self.action == "status"
            and self.old_status_id is not None
            and self.old_status_id == self.status_id
            and (self.old_pipeline_id is None or self.old_pipeline_id == self.pipeline_id)
        )


@dataclass(frozen=True, slots=True)
class ContactEvent:
    action: str
    contact_id: int
    entity: Literal["contacts", "companies"] = "contacts"
    account_id: int | None = None
    name: str | None = None
    responsible_user_id: int | None = None
    updated_at: int | None = None
    last_modified: int | None = None
    custom_fields: tuple[WebhookCustomField, ...] = ()
    linked_lead_ids: tuple[int, ...] = ()


WebhookEvent: TypeAlias = LeadEvent | ContactEvent

_SCALARS: dict[type, tuple[str, ...]] = {
    kind: tuple(
        f.name for f in dataclasses.fields(kind) if f.name not in ("custom_fields", "tags", "linked_lead_ids")
    )
    for kind in (LeadEvent, ContactEvent)
}


@dataclass(frozen=True, slots=True)
class WebhookPayload:
    account_id: int | None
    subdomain: str | None
    events: tuple[WebhookEvent, ...]

    @property
    def claimed_account_ids(self) -> frozenset[int]:
        """Every account id the body names, in `account[id]` or on its entities."""
        ids = {event.account_id for event in self.events if event.account_id is not None}
        if self.account_id is not None:
            ids.add(self.account_id)
        return frozenset(ids)


def parse_webhook(body: bytes | str) -> WebhookPayload:
    """Parse one webhook body; raises `WebhookParseError` when it is not a readable amoCRM webhook."""
    tree = _nest(_decode_pairs(body))
    account = tree.get("account")
    account_id = subdomain = None
    if isinstance(account, dict):
        account_id = _optional_int(account.get("id"), "account[id]")
        subdomain = _optional_str(account.get("subdomain"))
    events: list[WebhookEvent] = []
    leads = tree.get("leads")
    if isinstance(leads, dict):
        for action, items in leads.items():
            if action in LEAD_ACTIONS:
                for index, item in _items(items, f"leads[{action}]"):
                    events.append(_lead_event(cast(LeadAction, action), item, f"leads[{action}][{index}]"))
    for entity in ("contacts", "companies"):
        group = tree.get(entity)
        if isinstance(group, dict):
            for action, items in group.items():
                if action in CONTACT_ACTIONS:
                    for index, item in _items(items, f"{entity}[{action}]"):
                        where = f"{entity}[{action}][{index}]"
                        events.append(_contact_event(action, item, where, cast(Any, entity)))
    if not events and account_id is None:
        raise WebhookParseError("no amoCRM account or entities in the body")
    return WebhookPayload(account_id=account_id, subdomain=subdomain, events=tuple(events))


# --- serialisation for the inbox (JSON) -------------------------------------------------------------------


def event_to_dict(event: WebhookEvent) -> dict[str, Any]:
    """A JSON-ready dict of the event (hand-written: `dataclasses.asdict` costs more than parsing)."""
    data: dict[str, Any] = {name: getattr(event, name) for name in _SCALARS[type(event)]}
    data["custom_fields"] = [
        {
            "id": field.id,
            "name": field.name,
            "code": field.code,
            "values": [{"value": value.value, "enum_id": value.enum_id} for value in field.values],
        }
        for field in event.custom_fields
    ]
    if isinstance(event, LeadEvent):
        data["tags"] = list(event.tags)
        data["kind"] = "lead"
    else:
        data["linked_lead_ids"] = list(event.linked_lead_ids)
        data["kind"] = "contact"
    return data


def event_from_dict(data: Mapping[str, Any]) -> WebhookEvent:
    fields = {key: value for key, value in data.items() if key != "kind"}
    fields["custom_fields"] = tuple(
        WebhookCustomField(
            id=field["id"],
            name=field.get("name"),
            code=field.get("code"),
            values=tuple(CustomFieldValue(**value) for value in field.get("values", ())),
        )
        for field in fields.get("custom_fields", ())
    )
    if data.get("kind") == "contact":
        fields["linked_lead_ids"] = tuple(fields.get("linked_lead_ids", ()))
        return ContactEvent(**fields)
    fields["tags"] = tuple(fields.get("tags", ()))
    return LeadEvent(**fields)


# --- the PHP nested-array form ----------------------------------------------------------------------------


def _decode_pairs(body: bytes | str) -> list[tuple[str, str]]:
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WebhookParseError(f"body is not UTF-8 text (byte {exc.start})") from None
    else:
        text = body
    text = text.strip()
    if not text:
        raise WebhookParseError("empty body")
    # Every key is full of percent-encoded brackets; decoding just those up front (safe: a literal "%5B" in a
    # value is sent as "%255B") leaves most keys and values with nothing to unquote, which halves the cost.
    text = text.replace("%5B", "[").replace("%5D", "]").replace("%5b", "[").replace("%5d", "]")
    pieces = text.split("&")
    if len(pieces) > MAX_FIELDS:
        raise WebhookParseError(f"more than {MAX_FIELDS} fields")
    pairs: list[tuple[str, str]] = []
    for piece in pieces:
        name, equals, value = piece.partition("=")
        if not equals:
            raise WebhookParseError(f"body is not form-encoded: bad field {piece[:40]!r}")
        pairs.append((_unquote(name), _unquote(value)))
    return pairs


def _unquote(text: str) -> str:
    if "%" in text or "+" in text:
        return unquote_plus(text)
    return text


def _split_key(key: str) -> list[str]:
    head, bracket, rest = key.partition("[")
    if not bracket:
        return [key]
    if rest.endswith("]"):
        # The regular shape `a[b][c]`: a plain split, much cheaper than the regular expression below.
        parts = rest[:-1].split("][")
        if rest.count("[") == len(parts) - 1 and rest.count("]") == len(parts):
            if len(parts) + 1 > MAX_KEY_DEPTH:
                raise WebhookParseError(f"key nested too deeply: {key[:80]!r}")
            return [head, *parts]
    parts = _KEY_PART.findall("[" + rest)
    # PHP ignores anything after the last closing bracket; a key like `a[b` is taken literally.
    if not parts:
        return [key]
    if len(parts) + 1 > MAX_KEY_DEPTH:
        raise WebhookParseError(f"key nested too deeply: {key[:80]!r}")
    return [head, *parts]


def _nest(pairs: list[tuple[str, str]]) -> dict[str, Nested]:
    root: dict[str, Nested] = {}
    for key, value in pairs:
        parts = _split_key(key)
        node = root
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            if part == "":
                # `a[]=x` appends, as in PHP.
                part = str(len(node))
            if last:
                if isinstance(node.get(part), dict):
                    raise WebhookParseError(f"key {key[:80]!r} is both a value and a group")
                node[part] = value
            else:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    raise WebhookParseError(f"key {key[:80]!r} is both a value and a group")
                node = child
    return root


def _items(group: Nested, where: str) -> list[tuple[str, dict[str, Nested]]]:
    if not isinstance(group, dict):
        raise WebhookParseError(f"{where} should be a list of entities")
    items: list[tuple[str, dict[str, Nested]]] = []
    for index, item in sorted(group.items(), key=lambda pair: _index_order(pair[0])):
        if not isinstance(item, dict):
            raise WebhookParseError(f"{where}[{index}] should be an entity, not a value")
        items.append((index, item))
    return items


def _index_order(index: str) -> tuple[int, int, str]:
    if index.isascii() and index.isdigit():
        return (0, int(index), "")
    return (0, int(index), "") if _WHOLE_NUMBER.fullmatch(index) else (1, 0, index)


# --- entities ---------------------------------------------------------------------------------------------


def _lead_event(action: LeadAction, item: dict[str, Nested], where: str) -> LeadEvent:
    note_type = note_text = None
    if action == "note":
        note = item.get("note")
        if not isinstance(note, dict):
            raise WebhookParseError(f"{where} has no note")
        lead_id = _required_int(note.get("element_id"), f"{where}[note][element_id]")
        note_type = _optional_int(note.get("note_type"), f"{where}[note][note_type]")
        note_text = _optional_str(note.get("text"))
        account_id = _optional_int(note.get("account_id"), f"{where}[note][account_id]")
        return LeadEvent(
            action=action,
            lead_id=lead_id,
            account_id=account_id,
            modified_user_id=_optional_int(note.get("modified_by"), f"{where}[note][modified_by]"),
            note_type=note_type,
            note_text=note_text,
        )

    def number(key: str) -> int | None:
        return _optional_int(item.get(key), f"{where}[{key}]")

    return LeadEvent(
        action=action,
        lead_id=_required_int(item.get("id"), f"{where}[id]"),
        account_id=number("account_id"),
        name=_optional_str(item.get("name")),
        status_id=number("status_id"),
        old_status_id=number("old_status_id"),
        pipeline_id=number("pipeline_id"),
        old_pipeline_id=number("old_pipeline_id"),
        price=number("price"),
        responsible_user_id=number("responsible_user_id"),
        old_responsible_user_id=number("old_responsible_user_id"),
        modified_user_id=number("modified_user_id"),
        created_at=number("created_at") or number("date_create"),
        updated_at=number("updated_at"),
        last_modified=number("last_modified"),
        custom_fields=_custom_fields(item.get("custom_fields"), f"{where}[custom_fields]"),
        tags=_tags(item.get("tags"), f"{where}[tags]"),
    )


def _contact_event(
    action: str, item: dict[str, Nested], where: str, entity: Literal["contacts", "companies"]
) -> ContactEvent:
    linked = item.get("linked_leads_id")
    linked_ids: list[int] = []
    if isinstance(linked, dict):
        # amoCRM keys the linked leads by id (`linked_leads_id[123][ID]=123`); the keys are what we trust.
        for key in linked:
            linked_ids.append(_required_int(key, f"{where}[linked_leads_id]"))
    return ContactEvent(
        action=action,
        contact_id=_required_int(item.get("id"), f"{where}[id]"),
        entity=entity,
        account_id=_optional_int(item.get("account_id"), f"{where}[account_id]"),
        name=_optional_str(item.get("name")),
        responsible_user_id=_optional_int(item.get("responsible_user_id"), f"{where}[responsible_user_id]"),
        updated_at=_optional_int(item.get("updated_at"), f"{where}[updated_at]"),
        last_modified=_optional_int(item.get("last_modified"), f"{where}[last_modified]"),
        custom_fields=_custom_fields(item.get("custom_fields"), f"{where}[custom_fields]"),
        linked_lead_ids=tuple(sorted(set(linked_ids))),
    )


def _custom_fields(group: Nested | None, where: str) -> tuple[WebhookCustomField, ...]:
    if group is None or group == "":
        return ()
    fields: list[WebhookCustomField] = []
    for index, item in _items(group, where):
        values: list[CustomFieldValue] = []
        raw_values = item.get("values")
        if isinstance(raw_values, dict):
            for value_index, raw in _items_or_values(raw_values):
                here = f"{where}[{index}][values][{value_index}]"
                if isinstance(raw, dict):
                    enum = raw.get("enum", raw.get("enum_id"))
                    enum_id = _optional_int(enum, f"{here}[enum]")
                    values.append(CustomFieldValue(value=_optional_str(raw.get("value")), enum_id=enum_id))
                else:
                    # A date field arrives as `values[0]=1615845600`, without a `[value]` key.
                    values.append(CustomFieldValue(value=raw))
        elif isinstance(raw_values, str) and raw_values != "":
            values.append(CustomFieldValue(value=raw_values))
        fields.append(
            WebhookCustomField(
                id=_required_int(item.get("id"), f"{where}[{index}][id]"),
                name=_optional_str(item.get("name")),
                code=_optional_str(item.get("code")),
                values=tuple(values),
            )
        )
    return tuple(fields)


def _items_or_values(group: dict[str, Nested]) -> list[tuple[str, Nested]]:
    return sorted(group.items(), key=lambda pair: _index_order(pair[0]))


def _tags(group: Nested | None, where: str) -> tuple[str, ...]:
    if group is None or group == "":
        return ()
    names: list[str] = []
    for _index, item in _items(group, where):
        name = _optional_str(item.get("name"))
        if name:
            names.append(name)
    return tuple(names)


def _optional_str(value: Nested | None) -> str | None:
    if value is None or isinstance(value, dict):
        return None
    return value


def _optional_int(value: Nested | None, where: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, dict):
        raise WebhookParseError(f"{where} should be a number, not a group")
    text = value.strip()
    if (text.isascii() and text.isdigit() and len(text) <= 18) or _WHOLE_NUMBER.fullmatch(text):
        return int(text)
    raise WebhookParseError(f"{where} should be a whole number, got {value[:40]!r}")


def _required_int(value: Nested | None, where: str) -> int:
    number = _optional_int(value, where)
    if number is None:
        raise WebhookParseError(f"{where} is missing")
    return number
