"""amoCRM account webhooks → typed events (pure, no I/O).

amoCRM posts `application/x-www-form-urlencoded` bodies whose keys are PHP-style nested arrays
(`leads[update][0][custom_fields][0][values][0][value]=…`) in the old API v2 field shape, and every value is a
string. Real payloads are irregular (see ../shared/docs/amocrm.md): hooks with only ids, a date value
without a `[value]` key, a field with no `values` at all, status events whose old and new status are equal.
This module turns such a body into a `WebhookPayload` and ignores keys it does not know; anything it cannot
make sense of raises `WebhookParseError` with a reason a person can read.

Salvage, never drop: amoCRM answers our 200 by never sending the body again, so one bad part must not cost the
rest. A value that cannot be read (a price of `0.5`, broken bytes, a zero or negative id) fails only its field:
the event keeps everything else and names the part in `unreadable`, and the worker re-reads that lead. An entity
that cannot be read at all fails alone (`UnreadableEvent`; with a readable lead id it becomes a re-read of that
lead). Keys nested deeper than anything amoCRM sends us, keys that clash with a group, and pieces that are not
`name=value` are skipped and counted in `keys_ignored`. Only a body with no readable event at all is refused.
"""

from __future__ import annotations

import codecs
import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from itertools import repeat
from typing import Any, Literal, TypeAlias, cast
from urllib.parse import unquote_plus, unquote_to_bytes

__all__ = [
    "ContactEvent",
    "CustomFieldValue",
    "InboxEvents",
    "LeadEvent",
    "ParsedEvent",
    "UnreadableEvent",
    "WebhookCustomField",
    "WebhookEvent",
    "WebhookParseError",
    "WebhookPayload",
    "event_from_dict",
    "event_to_dict",
    "parse_webhook",
    "parse_webhook_for_inbox",
]

LeadAction = Literal["add", "update", "status", "delete", "restore", "responsible", "note"]
LEAD_ACTIONS: frozenset[str] = frozenset(
    ("add", "update", "status", "delete", "restore", "responsible", "note")
)
CONTACT_ACTIONS: frozenset[str] = frozenset(("add", "update", "delete", "restore", "responsible", "note"))

# A real amoCRM body holds at most a few hundred fields per entity; these caps keep a hostile body cheap.
MAX_FIELDS = 500_000
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
    closed_at: int | None = None
    # Parts of the lead this event could not read ("price", "custom_fields[123]", "event" for all of it): they
    # count as unknown until the lead is read again.
    unreadable: tuple[str, ...] = ()

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
    unreadable: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class UnreadableEvent:
    """An entity of the body that could not be read at all, not even its id: counted and shown, never applied."""

    where: str
    reason: str


WebhookEvent: TypeAlias = LeadEvent | ContactEvent
ParsedEvent: TypeAlias = LeadEvent | ContactEvent | UnreadableEvent

_SCALARS: dict[type, tuple[str, ...]] = {
    kind: tuple(
        f.name
        for f in dataclasses.fields(kind)
        if f.name not in ("custom_fields", "tags", "linked_lead_ids", "unreadable")
    )
    for kind in (LeadEvent, ContactEvent)
}


@dataclass(frozen=True, slots=True)
class WebhookPayload:
    account_id: int | None
    subdomain: str | None
    events: tuple[ParsedEvent, ...]
    # Keys skipped: nested too deeply, clashing with a group, or pieces without `=`.
    keys_ignored: int = 0

    @property
    def unreadable_count(self) -> int:
        """Parts that could not be read: fields of readable events, plus whole events."""
        return sum(
            1 if isinstance(event, UnreadableEvent) else len(event.unreadable) for event in self.events
        )

    @property
    def claimed_account_ids(self) -> frozenset[int]:
        """Every account id the body names, in `account[id]` or on its entities."""
        ids = {
            event.account_id
            for event in self.events
            if not isinstance(event, UnreadableEvent) and event.account_id is not None
        }
        if self.account_id is not None:
            ids.add(self.account_id)
        return frozenset(ids)


def parse_webhook(body: bytes | str) -> WebhookPayload:
    """Parse one webhook body, salvaging what can be read; raises `WebhookParseError` only when nothing can."""
    pairs, keys_ignored = _decode_pairs(body)
    tree, clashes = _nest(pairs)
    keys_ignored += clashes
    account = tree.get("account")
    account_id = subdomain = None
    account_error = None
    if isinstance(account, dict):
        try:
            account_id = _optional_id(account.get("id"), "account[id]")
        except WebhookParseError as exc:
            keys_ignored += 1  # an account id we cannot read claims nothing
            account_error = exc.reason
        subdomain = _optional_str(account.get("subdomain"))
    # `leads=…` with no brackets (a value where a group of events belongs) is a key we cannot use: counted.
    keys_ignored += sum(
        1
        for name in ("account", "leads", "contacts", "companies")
        if name in tree and not isinstance(tree[name], dict)
    )
    events: list[ParsedEvent] = []
    leads = tree.get("leads")
    if isinstance(leads, dict):
        for action, items in leads.items():
            if action in LEAD_ACTIONS:
                _read_items(events, items, f"leads[{action}]", partial(_lead_event, cast(LeadAction, action)))
    for entity in ("contacts", "companies"):
        group = tree.get(entity)
        if isinstance(group, dict):
            for action, items in group.items():
                if action in CONTACT_ACTIONS:
                    read = partial(_contact_event, action, entity=cast(Any, entity))
                    _read_items(events, items, f"{entity}[{action}]", read)
    readable = [event for event in events if not isinstance(event, UnreadableEvent)]
    if not readable:
        if events:
            first = cast(UnreadableEvent, events[0])
            raise WebhookParseError(first.reason)
        if account_id is None:
            if account_error is not None:
                raise WebhookParseError(account_error)
            if not pairs and keys_ignored:
                raise WebhookParseError(_not_form_reason(body))
            raise WebhookParseError("no amoCRM account or entities in the body")
    payload = WebhookPayload(
        account_id=account_id, subdomain=subdomain, events=tuple(events), keys_ignored=keys_ignored
    )
    if not keys_ignored and not payload.unreadable_count:
        # Broken bytes where no event reads them (`leads[add]=<bytes>`) were still sent: say so.
        broken = sum(1 for name, value in pairs if value is _BROKEN or _SURROGATES.search(name))
        if broken:
            payload = replace(payload, keys_ignored=broken)
    return payload


@dataclass(frozen=True, slots=True)
class InboxEvents:
    """What the receiver stores of one body: its events as inbox dicts, and every account id it names."""

    events: list[dict[str, Any]]
    claimed_account_ids: frozenset[int]
    # Parts that could not be read (fields, or whole events) and keys skipped: counted, shown, never silent.
    unreadable: int = 0
    keys_ignored: int = 0


def parse_webhook_for_inbox(body: bytes | str) -> InboxEvents:
    """`parse_webhook` straight to the inbox's event dicts (`event_to_dict`), for the receiver.

    Bodies laid out as amoCRM lays them out take a one-pass path that builds the dicts directly; anything
    irregular (including anything to salvage) goes through `parse_webhook`, so both read every body the same
    (a differential test holds them to it) and only the time differs. Raises `WebhookParseError` like
    `parse_webhook`.
    """
    try:
        fast = _parse_regular(body)
    except _Irregular:
        fast = None
    if fast is not None:
        return fast
    payload = parse_webhook(body)
    return InboxEvents(
        [event_to_dict(event) for event in payload.events],
        payload.claimed_account_ids,
        unreadable=payload.unreadable_count,
        keys_ignored=payload.keys_ignored,
    )


# --- serialisation for the inbox (JSON) -------------------------------------------------------------------


def event_to_dict(event: ParsedEvent) -> dict[str, Any]:
    """The event as the inbox stores it: JSON-ready, empty parts left out (`event_from_dict` restores them)."""
    if isinstance(event, UnreadableEvent):
        return {"kind": "unreadable", "where": event.where, "reason": event.reason}
    data: dict[str, Any] = {"kind": "lead" if isinstance(event, LeadEvent) else "contact"}
    for name in _SCALARS[type(event)]:
        value = getattr(event, name)
        if value is not None:
            data[name] = value
    if event.custom_fields:
        data["custom_fields"] = [_field_to_dict(field) for field in event.custom_fields]
    if isinstance(event, LeadEvent):
        if event.tags:
            data["tags"] = list(event.tags)
    elif event.linked_lead_ids:
        data["linked_lead_ids"] = list(event.linked_lead_ids)
    if event.unreadable:
        data["unreadable"] = list(event.unreadable)
    return data


def _field_to_dict(field: WebhookCustomField) -> dict[str, Any]:
    data: dict[str, Any] = {"id": field.id}
    if field.name is not None:
        data["name"] = field.name
    if field.code is not None:
        data["code"] = field.code
    if field.values:
        data["values"] = [_value_to_dict(value.value, value.enum_id) for value in field.values]
    return data


def _value_to_dict(value: str | None, enum_id: int | None) -> dict[str, Any]:
    return {"value": value} if enum_id is None else {"value": value, "enum_id": enum_id}


def event_from_dict(data: Mapping[str, Any]) -> ParsedEvent:
    if data.get("kind") == "unreadable":
        return UnreadableEvent(where=str(data.get("where", "")), reason=str(data.get("reason", "")))
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
    fields["unreadable"] = tuple(fields.get("unreadable", ()))
    if data.get("kind") == "contact":
        fields["linked_lead_ids"] = tuple(fields.get("linked_lead_ids", ()))
        return ContactEvent(**fields)
    fields["tags"] = tuple(fields.get("tags", ()))
    return LeadEvent(**fields)


# --- the PHP nested-array form ----------------------------------------------------------------------------

# Bytes that are not UTF-8 — sent raw or percent-encoded — make the value they are in unreadable: the same
# outcome either way. Such a value is replaced by this marker (compared by identity) until an entity reads it.
_BROKEN = "\udcff broken bytes \udcff"
_SURROGATES = re.compile("[\udc80-\udcff]")


def _decode_pairs(body: bytes | str) -> tuple[list[tuple[str, str]], int]:
    """(field name as sent, decoded value) pairs and the count of pieces that are not `name=value`; names are
    decoded and split once per distinct name (`_key_path`)."""
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            # Invalid raw bytes stand as lone surrogates; the values holding them become `_BROKEN` below.
            text = body.decode("utf-8", "surrogateescape")
    else:
        text = body
    text = text.strip()
    if not text:
        raise WebhookParseError("empty body")
    # Names stay as sent (full of percent-encoded brackets): `_key_path` decodes each distinct name once.
    pieces = text.split("&")
    if len(pieces) > MAX_FIELDS:
        raise WebhookParseError(f"more than {MAX_FIELDS} fields")
    pairs: list[tuple[str, str]] = []
    append = pairs.append
    ignored = 0
    for piece in pieces:
        name, equals, value = piece.partition("=")
        if not equals:
            ignored += 1
            continue
        if "%" in value or "+" in value:
            value = _unquote(value)
            if "\ufffd" in value and _has_broken_escape(piece.partition("=")[2]):
                value = _BROKEN
        if not value.isascii() and _SURROGATES.search(value):
            value = _BROKEN
        append((name, value))
    return pairs, ignored


def _has_broken_escape(encoded: str) -> bool:
    """Whether percent-decoding `encoded` met bytes that are not UTF-8 (not a U+FFFD sent on purpose)."""
    try:
        unquote_to_bytes(encoded.replace("+", " ")).decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _not_form_reason(body: bytes | str) -> str:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    piece = text.strip().split("&", 1)[0]
    shown = piece.replace("%5B", "[").replace("%5D", "]").replace("%5b", "[").replace("%5d", "]")
    return f"body is not form-encoded: bad field {shown[:40]!r}"


def _unquote(text: str) -> str:
    """`urllib.parse.unquote_plus`, several times faster for the usual all-ASCII text with `%XX` escapes."""
    if "%" not in text and "+" not in text:
        return text
    if text.isascii() and "\\" not in text:
        # With no backslash of its own, `%XX` → `\xXX` is the only escape the C decoder sees; a broken escape
        # (`%`, `%4`, `%zz`) makes it raise, and the standard library handles that text as it always did.
        try:
            raw = codecs.escape_decode(text.replace("+", " ").replace("%", "\\x"))[0]
        except ValueError:
            return unquote_plus(text)
        return raw.decode("utf-8", "replace")
    return unquote_plus(text)


# Field name as sent → (groups, leaf) of its decoded PHP path. amoCRM sends the same few hundred names over and
# over, so each is decoded and split once; the cap keeps a stream of made-up names from growing it for ever.
_KEY_PATHS: dict[str, tuple[tuple[str, ...], str]] = {}
_KEY_PATHS_MAX = 4096


def _key_path(name: str) -> tuple[tuple[str, ...], str]:
    path = _KEY_PATHS.get(name)
    if path is None:
        parts = _split_key(_unquote(name))
        path = (tuple(parts[:-1]), parts[-1])
        if len(_KEY_PATHS) >= _KEY_PATHS_MAX:
            _KEY_PATHS.clear()
        _KEY_PATHS[name] = path
    return path


def _split_key(key: str) -> list[str]:
    """The PHP path of a key; a path deeper than `MAX_KEY_DEPTH` is returned whole (the caller skips it)."""
    head, bracket, rest = key.partition("[")
    if not bracket:
        return [key]
    if rest.endswith("]"):
        # The regular shape `a[b][c]`: a plain split, much cheaper than the regular expression below.
        parts = rest[:-1].split("][")
        if rest.count("[") == len(parts) - 1 and rest.count("]") == len(parts):
            return [head, *parts]
    parts = _KEY_PART.findall("[" + rest)
    # PHP ignores anything after the last closing bracket; a key like `a[b` is taken literally.
    if not parts:
        return [key]
    return [head, *parts]


def _nest(pairs: list[tuple[str, str]]) -> tuple[dict[str, Nested], int]:
    """The PHP nested array of (field name as sent, value) pairs, and how many pairs were skipped: nested
    deeper than `MAX_KEY_DEPTH` (nothing we read is), or a value where a group is (or the reverse: the first
    one stays)."""
    root: dict[str, Nested] = {}
    skipped = 0
    # Group path → its dict, so the many fields of one entity find it with one lookup. A group, once made,
    # is never replaced (a value landing on it is skipped), so what is found here stays current.
    groups_seen: dict[tuple[str, ...], dict[str, Nested]] = {(): root}
    paths = _KEY_PATHS
    for name, value in pairs:
        path = paths.get(name)
        groups, leaf = _key_path(name) if path is None else path
        if len(groups) + 1 > MAX_KEY_DEPTH:
            skipped += 1
            continue
        node = groups_seen.get(groups)
        if node is None:
            node = root
            for part in groups:
                if not part:
                    # `a[]=x` appends, as in PHP.
                    part = str(len(node))
                child = node.get(part)
                if child is None:
                    child = node[part] = {}
                elif child.__class__ is not dict:
                    node = None
                    break
                node = child
            if node is None:
                skipped += 1
                continue
            if "" not in groups:
                groups_seen[groups] = node
        if not leaf:
            leaf = str(len(node))
        if node.get(leaf).__class__ is dict:
            skipped += 1
            continue
        node[leaf] = value
    return root, skipped


# "0", "1", …: a group whose keys are exactly these, in this order, is already sorted.
_INDEXES = [str(i) for i in range(64)]


def _in_order(group: dict[str, Nested]) -> list[tuple[str, Nested]]:
    """The group's (index, item) pairs in index order: numeric indexes by value, then the rest by name."""
    if list(group) == _INDEXES[: len(group)]:
        return list(group.items())
    return sorted(group.items(), key=lambda pair: _index_order(pair[0]))


def _items(group: Nested, where: str) -> list[tuple[str, dict[str, Nested]]]:
    if not isinstance(group, dict):
        raise WebhookParseError(f"{where} should be a list of entities")
    items: list[tuple[str, dict[str, Nested]]] = []
    for index, item in _in_order(group):
        if not isinstance(item, dict):
            raise WebhookParseError(f"{where}[{index}] should be an entity, not a value")
        items.append((index, item))
    return items


def _read_items(
    events: list[ParsedEvent],
    group: Nested,
    where: str,
    read: Callable[[dict[str, Nested], str], WebhookEvent],
) -> None:
    """Each entity of an action's group, in index order; one that cannot be read is recorded, never fatal."""
    if not isinstance(group, dict):
        events.append(UnreadableEvent(where, f"{where} should be a list of entities"))
        return
    for index, item in _in_order(group):
        here = f"{where}[{index}]"
        if not isinstance(item, dict):
            events.append(UnreadableEvent(here, f"{here} should be an entity, not a value"))
            continue
        try:
            events.append(read(item, here))
        except WebhookParseError as exc:
            events.append(UnreadableEvent(here, exc.reason))


def _index_order(index: str) -> tuple[int, int, str]:
    if index.isascii() and index.isdigit():
        return (0, int(index), "")
    return (0, int(index), "") if _WHOLE_NUMBER.fullmatch(index) else (1, 0, index)


# --- entities ---------------------------------------------------------------------------------------------


class _Parts:
    """Reads an entity's parts; a part that cannot be read is named in `unreadable` instead of failing all."""

    __slots__ = ("item", "unreadable", "where")

    def __init__(self, item: dict[str, Nested], where: str) -> None:
        self.item = item
        self.where = where
        self.unreadable: list[str] = []

    def number(self, key: str) -> int | None:
        value = self.item.get(key)
        if value.__class__ is str and value.isdigit() and value.isascii() and len(value) <= 18:
            return int(value)
        try:
            return _optional_int(value, f"{self.where}[{key}]")
        except WebhookParseError:
            self.unreadable.append(key)
            return None

    def id(self, key: str) -> int | None:
        try:
            return _optional_id(self.item.get(key), f"{self.where}[{key}]")
        except WebhookParseError:
            self.unreadable.append(key)
            return None

    def text(self, key: str) -> str | None:
        value = self.item.get(key)
        if value is _BROKEN:
            self.unreadable.append(key)
            return None
        return _optional_str(value)


def _lead_event(action: LeadAction, item: dict[str, Nested], where: str) -> LeadEvent:
    if action == "note":
        note = item.get("note")
        if not isinstance(note, dict):
            raise WebhookParseError(f"{where} has no note")
        parts = _Parts(note, f"{where}[note]")
        lead_id = _required_id(note.get("element_id"), f"{where}[note][element_id]")
        return LeadEvent(
            action=action,
            lead_id=lead_id,
            account_id=parts.id("account_id"),
            modified_user_id=parts.number("modified_by"),
            note_type=parts.number("note_type"),
            note_text=parts.text("text"),
            unreadable=tuple(parts.unreadable),
        )
    lead_id = _required_id(item.get("id"), f"{where}[id]")
    parts = _Parts(item, where)
    number = parts.number
    custom_fields = _custom_fields(item.get("custom_fields"), f"{where}[custom_fields]", parts.unreadable)
    try:
        tags = _tags(item.get("tags"), f"{where}[tags]")
    except WebhookParseError:
        parts.unreadable.append("tags")
        tags = ()
    return LeadEvent(
        action=action,
        lead_id=lead_id,
        account_id=parts.id("account_id"),
        name=parts.text("name"),
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
        custom_fields=custom_fields,
        tags=tags,
        closed_at=number("date_close") or number("closed_at"),
        unreadable=tuple(parts.unreadable),
    )


def _contact_event(
    action: str, item: dict[str, Nested], where: str, entity: Literal["contacts", "companies"]
) -> ContactEvent:
    contact_id = _required_id(item.get("id"), f"{where}[id]")
    parts = _Parts(item, where)
    linked = item.get("linked_leads_id")
    linked_ids: list[int] = []
    if isinstance(linked, dict):
        # amoCRM keys the linked leads by id (`linked_leads_id[123][ID]=123`); the keys are what we trust.
        for key in linked:
            try:
                linked_ids.append(_required_id(key, f"{where}[linked_leads_id]"))
            except WebhookParseError:
                parts.unreadable.append("linked_leads_id")
    custom_fields = _custom_fields(item.get("custom_fields"), f"{where}[custom_fields]", parts.unreadable)
    return ContactEvent(
        action=action,
        contact_id=contact_id,
        entity=entity,
        account_id=parts.id("account_id"),
        name=parts.text("name"),
        responsible_user_id=parts.number("responsible_user_id"),
        updated_at=parts.number("updated_at"),
        last_modified=parts.number("last_modified"),
        custom_fields=custom_fields,
        linked_lead_ids=tuple(sorted(set(linked_ids))),
        unreadable=tuple(parts.unreadable),
    )


def _custom_fields(group: Nested | None, where: str, unreadable: list[str]) -> tuple[WebhookCustomField, ...]:
    """The readable fields; each field that cannot be read is left out and named in `unreadable`."""
    if group is None or group == "":
        return ()
    if not isinstance(group, dict):
        unreadable.append("custom_fields")
        return ()
    fields: list[WebhookCustomField] = []
    for index, item in _in_order(group):
        if not isinstance(item, dict):
            unreadable.append(f"custom_fields[#{index}]")
            continue
        try:
            fields.append(_custom_field(item, f"{where}[{index}]"))
        except WebhookParseError:
            field_id = item.get("id")
            known = field_id.__class__ is str and field_id.isdigit() and field_id.isascii()
            unreadable.append(f"custom_fields[{field_id}]" if known else f"custom_fields[#{index}]")
    return tuple(fields)


def _custom_field(item: dict[str, Nested], where: str) -> WebhookCustomField:
    values: list[CustomFieldValue] = []
    raw_values = item.get("values")
    if isinstance(raw_values, dict):
        for value_index, raw in _in_order(raw_values):
            if isinstance(raw, dict):
                enum = raw.get("enum", raw.get("enum_id"))
                enum_id = (
                    None if enum is None else _optional_id(enum, f"{where}[values][{value_index}][enum]")
                )
                value = raw.get("value")
                if value is _BROKEN:
                    raise WebhookParseError(
                        f"{where}[values][{value_index}][value] holds bytes that are not UTF-8"
                    )
                values.append(CustomFieldValue(value=_optional_str(value), enum_id=enum_id))
            elif raw is _BROKEN:
                raise WebhookParseError(f"{where}[values][{value_index}] holds bytes that are not UTF-8")
            else:
                # A date field arrives as `values[0]=1615845600`, without a `[value]` key.
                values.append(CustomFieldValue(value=raw))
    elif raw_values is _BROKEN:
        raise WebhookParseError(f"{where}[values] holds bytes that are not UTF-8")
    elif isinstance(raw_values, str) and raw_values != "":
        values.append(CustomFieldValue(value=raw_values))
    name = item.get("name")
    code = item.get("code")
    return WebhookCustomField(
        id=_required_id(item.get("id"), f"{where}[id]"),
        name=None if name is _BROKEN else _optional_str(name),
        code=None if code is _BROKEN else _optional_str(code),
        values=tuple(values),
    )


def _tags(group: Nested | None, where: str) -> tuple[str, ...]:
    if group is None or group == "":
        return ()
    names: list[str] = []
    for _index, item in _items(group, where):
        value = item.get("name")
        if value is _BROKEN:
            raise WebhookParseError(f"{where} holds bytes that are not UTF-8")
        name = _optional_str(value)
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
    if value is _BROKEN:
        raise WebhookParseError(f"{where} holds bytes that are not UTF-8")
    text = value.strip()
    if (text.isascii() and text.isdigit() and len(text) <= 18) or _WHOLE_NUMBER.fullmatch(text):
        return int(text)
    raise WebhookParseError(f"{where} should be a whole number, got {value[:40]!r}")


def _optional_id(value: Nested | None, where: str) -> int | None:
    """An amoCRM id: a whole number above zero (zero and negative ids are refused as unreadable)."""
    number = _optional_int(value, where)
    if number is not None and number <= 0:
        raise WebhookParseError(f"{where} should be an id above zero, got {number}")
    return number


def _required_id(value: Nested | None, where: str) -> int:
    number = _optional_id(value, where)
    if number is None:
        raise WebhookParseError(f"{where} is missing")
    return number


# --- the one-pass path for regular bodies -------------------------------------------------------------------
#
# amoCRM writes the bodies of one account the same way every time: the same field names in the same order, only
# the values change. So a body is split into names and values, and its tuple of names (its layout) is compiled
# once into a program — which value position becomes which part of which event — and every later body with that
# layout is read by running the program over its values. A name outside the shapes below, a conflict (a value
# where a group is, or the reverse) or a value the entity builders would refuse makes the body irregular, and
# `parse_webhook` reads it instead, with its exact error messages.


class _Irregular(Exception):
    """The body is not in the regular shape; `parse_webhook` will read it."""


# Plan kinds: where the value of one field name goes.
_ACCOUNT, _IGNORED, _SCALAR, _FIELD_ATTR, _FIELD_VALUE, _FIELD_VALUE_ATTR, _TAG_ATTR = range(7)
_EntityKey: TypeAlias = tuple[str, str, str]  # (entity, action, index): one event
_Plan: TypeAlias = tuple[Any, ...]

_ENTITY_ORDER = {"leads": 0, "contacts": 1, "companies": 2}
_REGULAR_ACTIONS = {
    "leads": LEAD_ACTIONS - {"note"},
    "contacts": CONTACT_ACTIONS - {"note"},
    "companies": CONTACT_ACTIONS - {"note"},
}
# Entity keys that hold groups (or are read as groups): never plain values on the one-pass path.
_GROUP_KEYS = frozenset(("custom_fields", "tags", "note", "linked_leads_id"))
_FIELD_ATTRS = frozenset(("id", "name", "code"))
_VALUE_ATTRS = frozenset(("value", "enum", "enum_id"))
_TAG_ATTRS = frozenset(("id", "name"))
_ACCOUNT_KEYS = frozenset(("id", "subdomain"))

_PLANS: dict[str, _Plan | None] = {}
_PLANS_MAX = 4096


def _plan_for(name: str) -> _Plan | None:
    if name in _PLANS:
        return _PLANS[name]
    try:
        groups, leaf = _key_path(name)
    except WebhookParseError:
        plan = None
    else:
        plan = _compile_plan((*groups, leaf))
    if len(_PLANS) >= _PLANS_MAX:
        _PLANS.clear()
    _PLANS[name] = plan
    return plan


def _is_index(part: str) -> bool:
    # Only indexes written as amoCRM writes them: their numeric order is the order `_in_order` gives.
    return part.isascii() and part.isdigit() and (part == "0" or part[0] != "0") and len(part) <= 18


def _compile_plan(parts: tuple[str, ...]) -> _Plan | None:
    if parts[0] == "account":
        if len(parts) == 2 and parts[1] in _ACCOUNT_KEYS:
            return (_ACCOUNT, parts[1])
        if parts == ("account", "_links", "self"):
            return (_IGNORED,)
        return None
    actions = _REGULAR_ACTIONS.get(parts[0])
    if actions is None or len(parts) < 4 or parts[1] not in actions or not _is_index(parts[2]):
        return None
    key = (parts[0], parts[1], parts[2])
    rest = parts[3:]
    if len(rest) == 1:
        return None if rest[0] in _GROUP_KEYS or not rest[0] else (_SCALAR, key, rest[0])
    if rest[0] == "tags" and len(rest) == 3 and _is_index(rest[1]) and rest[2] in _TAG_ATTRS:
        return (_TAG_ATTR, key, int(rest[1]), rest[2])
    if rest[0] != "custom_fields" or len(rest) < 3 or not _is_index(rest[1]):
        return None
    field = int(rest[1])
    if len(rest) == 3 and rest[2] in _FIELD_ATTRS:
        return (_FIELD_ATTR, key, field, rest[2])
    if len(rest) >= 4 and rest[2] == "values" and _is_index(rest[3]):
        if len(rest) == 4:
            return (_FIELD_VALUE, key, field, int(rest[3]))
        if len(rest) == 5 and rest[4] in _VALUE_ATTRS:
            return (_FIELD_VALUE_ATTR, key, field, int(rest[3]), rest[4])
    return None


# --- a layout's program: value positions (-1 for absent) ---------------------------------------------------

_NO = -1
_LEAD_NUMBERS = (
    "account_id",
    "status_id",
    "old_status_id",
    "pipeline_id",
    "old_pipeline_id",
    "price",
    "responsible_user_id",
    "old_responsible_user_id",
    "modified_user_id",
    "updated_at",
    "last_modified",
)
_CONTACT_NUMBERS = ("account_id", "responsible_user_id", "updated_at", "last_modified")


@dataclass(frozen=True, slots=True)
class _FieldProgram:
    id: int
    name: int
    code: int
    # Per value: (bare value, `[value]`, `[enum]` or else `[enum_id]`).
    values: tuple[tuple[int, int, int], ...]


@dataclass(frozen=True, slots=True)
class _EventProgram:
    head: dict[str, Any]  # kind, action (and entity): the same for every body of the layout
    id_key: str
    id: int
    name: int
    numbers: tuple[tuple[str, int], ...]
    created_at: int
    date_create: int
    date_close: int
    closed_at: int
    fields: tuple[_FieldProgram, ...]
    tag_names: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class _LayoutProgram:
    account_id: int
    events: tuple[_EventProgram, ...]


class _Entity:
    """One entity's value positions while a layout is compiled."""

    __slots__ = ("fields", "scalars", "tags")

    def __init__(self) -> None:
        self.scalars: dict[str, int] = {}
        # field index → (attributes, value index → a bare value or the value's attributes)
        self.fields: dict[int, tuple[dict[str, int], dict[int, int | dict[str, int]]]] = {}
        self.tags: dict[int, dict[str, int]] = {}


class _LayoutCache:
    """Layout (a body's field names in order) → its program, or None for a layout that is not regular.

    Bounded by the names its keys hold, not only by count: a cached layout keeps its names alive. Bodies with more
    names than `largest` (mass edits of many leads: their layouts rarely repeat) are not read by layout at all.
    """

    def __init__(self, *, largest: int = 2048, names_held_max: int = 100_000) -> None:
        self.largest = largest
        self._names_held_max = names_held_max
        self._programs: dict[tuple[str, ...], _LayoutProgram | None] = {}
        self._names_held = 0

    def __len__(self) -> int:
        return len(self._programs)

    @property
    def names_held(self) -> int:
        return self._names_held

    def program(self, names: tuple[str, ...]) -> _LayoutProgram | None:
        if names in self._programs:
            return self._programs[names]
        program = _compile_layout(names)
        if self._names_held + len(names) > self._names_held_max:
            self._programs.clear()
            self._names_held = 0
        self._programs[names] = program
        self._names_held += len(names)
        return program


_LAYOUTS = _LayoutCache()


def _parse_regular(body: bytes | str) -> InboxEvents | None:
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return None
    else:
        text = body
    pieces = text.strip().split("&")
    if len(pieces) > _LAYOUTS.largest:
        return None
    names, equals, values = zip(*map(str.partition, pieces, repeat("=")), strict=True)
    if "" in equals:
        return None
    program = _LAYOUTS.program(names)
    return None if program is None else _run(program, values)


def _compile_layout(names: tuple[str, ...]) -> _LayoutProgram | None:
    """Where each name's value goes, read as `_nest` would read it (the last of repeated names wins)."""
    entities: dict[_EntityKey, _Entity] = {}
    account: dict[str, int] = {}
    for position, name in enumerate(names):
        plan = _plan_for(name)
        if plan is None:
            return None
        kind = plan[0]
        if kind == _ACCOUNT:
            account[plan[1]] = position
            continue
        if kind == _IGNORED:
            continue
        entity = entities.get(plan[1])
        if entity is None:
            entity = entities[plan[1]] = _Entity()
        if kind == _SCALAR:
            entity.scalars[plan[2]] = position
        elif kind == _TAG_ATTR:
            entity.tags.setdefault(plan[2], {})[plan[3]] = position
        else:
            attributes, values = entity.fields.setdefault(plan[2], ({}, {}))
            held = values.get(plan[3]) if kind != _FIELD_ATTR else None
            if kind == _FIELD_ATTR:
                attributes[plan[3]] = position
            elif kind == _FIELD_VALUE:
                if isinstance(held, dict):
                    return None
                values[plan[3]] = position
            elif held is None:
                values[plan[3]] = {plan[4]: position}
            elif isinstance(held, dict):
                held[plan[4]] = position
            else:
                return None
    # Events in `parse_webhook`'s order: leads, contacts, companies; actions as they first appear; indexes.
    first_seen: dict[tuple[str, str], int] = {}
    for entity_name, action, _index in entities:
        first_seen.setdefault((entity_name, action), len(first_seen))
    ordered = sorted(
        entities.items(),
        key=lambda item: (_ENTITY_ORDER[item[0][0]], first_seen[item[0][:2]], int(item[0][2])),
    )
    return _LayoutProgram(
        account_id=account.get("id", _NO),
        events=tuple(_event_program(key[0], key[1], entity) for key, entity in ordered),
    )


def _event_program(entity_name: str, action: str, entity: _Entity) -> _EventProgram:
    scalars = entity.scalars
    lead = entity_name == "leads"
    fields = tuple(
        _FieldProgram(
            id=attributes.get("id", _NO),
            name=attributes.get("name", _NO),
            code=attributes.get("code", _NO),
            values=tuple(
                (value, _NO, _NO)
                if isinstance(value, int)
                else (_NO, value.get("value", _NO), value.get("enum", value.get("enum_id", _NO)))
                for _, value in sorted(values.items())
            ),
        )
        for _, (attributes, values) in sorted(entity.fields.items())
    )
    return _EventProgram(
        head={"kind": "lead", "action": action}
        if lead
        else {"kind": "contact", "action": action, "entity": entity_name},
        id_key="lead_id" if lead else "contact_id",
        id=scalars.get("id", _NO),
        name=scalars.get("name", _NO),
        numbers=tuple(
            (key, scalars[key]) for key in (_LEAD_NUMBERS if lead else _CONTACT_NUMBERS) if key in scalars
        ),
        created_at=scalars.get("created_at", _NO) if lead else _NO,
        date_create=scalars.get("date_create", _NO) if lead else _NO,
        date_close=scalars.get("date_close", _NO) if lead else _NO,
        closed_at=scalars.get("closed_at", _NO) if lead else _NO,
        fields=fields,
        # Contacts' tags are not read (as in `_contact_event`); a lead's tags without a name are skipped.
        tag_names=tuple(tag["name"] for _, tag in sorted(entity.tags.items()) if "name" in tag)
        if lead
        else (),
    )


def _run(program: _LayoutProgram, values: tuple[str, ...]) -> InboxEvents | None:
    """The layout's events from this body's values (still percent-encoded: only what is read gets decoded) —
    what `event_to_dict` gives for `parse_webhook`'s events."""
    account_id = None if program.account_id == _NO else _id(values[program.account_id])
    claimed: set[int] = set() if account_id is None else {account_id}
    events: list[dict[str, Any]] = []
    for event_program in program.events:
        entity_id = None if event_program.id == _NO else _id(values[event_program.id])
        if entity_id is None:
            raise _Irregular
        event = dict(event_program.head)
        event[event_program.id_key] = entity_id
        if event_program.name != _NO:
            event["name"] = _text(values[event_program.name])
        for key, position in event_program.numbers:
            value = values[position]
            if value.isdigit() and value.isascii() and len(value) <= 18:
                event[key] = int(value)
            else:
                number = _number(value)
                if number is not None:
                    event[key] = number
        if event_program.created_at != _NO or event_program.date_create != _NO:
            # As `_lead_event` reads it: `date_create` counts (and is checked) only when `created_at` is 0 or absent.
            created_at = (
                None if event_program.created_at == _NO else _number(values[event_program.created_at])
            ) or (None if event_program.date_create == _NO else _number(values[event_program.date_create]))
            if created_at is not None:
                event["created_at"] = created_at
        if event_program.date_close != _NO or event_program.closed_at != _NO:
            closed_at = (
                None if event_program.date_close == _NO else _number(values[event_program.date_close])
            ) or (None if event_program.closed_at == _NO else _number(values[event_program.closed_at]))
            if closed_at is not None:
                event["closed_at"] = closed_at
        if event_program.fields:
            event["custom_fields"] = [_run_field(field, values) for field in event_program.fields]
        if event_program.tag_names:
            tags = [_text(values[position]) for position in event_program.tag_names]
            tags = [tag for tag in tags if tag]
            if tags:
                event["tags"] = tags
        if "account_id" in event:
            if event["account_id"] <= 0:
                raise _Irregular
            claimed.add(event["account_id"])
        events.append(event)
    if not events and account_id is None:
        return None
    return InboxEvents(events, frozenset(claimed))


def _run_field(program: _FieldProgram, values: tuple[str, ...]) -> dict[str, Any]:
    field_id = None if program.id == _NO else _id(values[program.id])
    if field_id is None:
        raise _Irregular
    field: dict[str, Any] = {"id": field_id}
    if program.name != _NO:
        field["name"] = _text(values[program.name])
    if program.code != _NO:
        field["code"] = _text(values[program.code])
    if program.values:
        read: list[dict[str, Any]] = []
        for bare, value, enum in program.values:
            if bare != _NO:
                read.append({"value": _text(values[bare])})
            else:
                enum_id = None if enum == _NO else _id(values[enum])
                read.append(_value_to_dict(None if value == _NO else _text(values[value]), enum_id))
        field["values"] = read
    return field


def _text(value: str) -> str:
    if "%" not in value and "+" not in value:
        return value
    decoded = _unquote(value)
    if "\ufffd" in decoded and _has_broken_escape(value):
        raise _Irregular  # bytes that are not UTF-8: `parse_webhook` marks the part unreadable
    return decoded


def _id(value: str) -> int | None:
    """`_optional_id` for the one-pass path: zero, negative or unreadable ids make the body irregular."""
    number = _number(value)
    if number is not None and number <= 0:
        raise _Irregular
    return number


def _number(value: str) -> int | None:
    """`_optional_int` of a still percent-encoded value, for the one-pass path: a value it would refuse makes the
    body irregular (and `parse_webhook` then says why)."""
    if value.isdigit() and value.isascii() and len(value) <= 18:
        return int(value)
    try:
        return _optional_int(_text(value), "")
    except WebhookParseError:
        raise _Irregular from None
