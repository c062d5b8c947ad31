"""The body of an account webhook: amoCRM's API v2 shape as PHP-style nested form keys [doc].

`leads[update][0][id]=…`, `leads[status][0][old_status_id]=…`, `leads[update][0][custom_fields][0][values][0]
[value]=…`, `…[values][0][enum]=…`, `…[tags][0][name]=…`, `leads[delete][0][id]=…`, `account[subdomain]`,
`account[id]`, `account[_links][self]`; every value is a string and times are unix seconds [doc]. Reproduced
irregularities [seen]: date fields arrive as `custom_fields[i][values][0]=1615845600` with no `[value]` key,
delete hooks carry only ids, note hooks carry `leads[note][0][note][…]` with numeric `note_type` (4 = common)
and `timestamp_x` as "Y-m-d H:i:s".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

from amocrm_sandbox.events import WebhookEvent
from amocrm_sandbox.world import Account

Pairs = list[tuple[str, str]]

# [seen] v2 note types by v4 name.
NOTE_TYPE_NUMBERS = {
    "common": 4,
    "call_in": 10,
    "call_out": 11,
    "service_message": 25,
    "sms_in": 102,
    "sms_out": 103,
    "geolocation": 24,
    "attachment": 4,
    "extended_service_message": 25,
}
ELEMENT_TYPES = {"contacts": 1, "leads": 2}
DATE_FIELD_TYPES = frozenset({"date", "date_time", "birthday"})


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _custom_fields(prefix: str, fields: Sequence[Mapping[str, Any]] | None) -> Pairs:
    pairs: Pairs = []
    for i, field in enumerate(fields or ()):
        base = f"{prefix}[custom_fields][{i}]"
        pairs.append((f"{base}[id]", _text(field["field_id"])))
        pairs.append((f"{base}[name]", _text(field["field_name"])))
        if field.get("field_code"):
            pairs.append((f"{base}[code]", _text(field["field_code"])))
        for j, value in enumerate(field["values"]):
            if field["field_type"] in DATE_FIELD_TYPES:
                pairs.append((f"{base}[values][{j}]", _text(value.get("value"))))
                continue
            pairs.append((f"{base}[values][{j}][value]", _text(value.get("value"))))
            if value.get("enum_id") is not None:
                pairs.append((f"{base}[values][{j}][enum]", _text(value["enum_id"])))
    return pairs


def _tags(prefix: str, tags: Iterable[Mapping[str, Any]]) -> Pairs:
    pairs: Pairs = []
    for i, tag in enumerate(tags):
        pairs.append((f"{prefix}[tags][{i}][id]", _text(tag["id"])))
        pairs.append((f"{prefix}[tags][{i}][name]", _text(tag["name"])))
    return pairs


def _lead(prefix: str, event: WebhookEvent, *, ids_only: bool) -> Pairs:
    lead = event.data
    if event.action == "delete" or ids_only:
        pairs = [(f"{prefix}[{key}]", _text(lead[key])) for key in ("id", "status_id", "pipeline_id")]
        return pairs + [(f"{prefix}[{key}]", _text(value)) for key, value in event.previous.items()]
    pairs = [
        (f"{prefix}[id]", _text(lead["id"])),
        (f"{prefix}[name]", _text(lead["name"])),
        (f"{prefix}[status_id]", _text(lead["status_id"])),
    ]
    for key, value in event.previous.items():
        pairs.append((f"{prefix}[{key}]", _text(value)))
    pairs += [
        (f"{prefix}[price]", _text(lead["price"])),
        (f"{prefix}[responsible_user_id]", _text(lead["responsible_user_id"])),
        (f"{prefix}[last_modified]", _text(lead["updated_at"])),
        (f"{prefix}[modified_user_id]", _text(lead["updated_by"])),
        (f"{prefix}[created_user_id]", _text(lead["created_by"])),
        (f"{prefix}[date_create]", _text(lead["created_at"])),
        (f"{prefix}[pipeline_id]", _text(lead["pipeline_id"])),
        (f"{prefix}[account_id]", _text(lead["account_id"])),
        (f"{prefix}[created_at]", _text(lead["created_at"])),
        (f"{prefix}[updated_at]", _text(lead["updated_at"])),
    ]
    if lead.get("closed_at"):
        pairs.append((f"{prefix}[date_close]", _text(lead["closed_at"])))
    return (
        pairs
        + _tags(prefix, lead["_embedded"]["tags"])
        + _custom_fields(prefix, lead["custom_fields_values"])
    )


def _contact(prefix: str, event: WebhookEvent) -> Pairs:
    contact = event.data
    pairs = [
        (f"{prefix}[id]", _text(contact["id"])),
        (f"{prefix}[name]", _text(contact["name"])),
        (f"{prefix}[responsible_user_id]", _text(contact["responsible_user_id"])),
        (f"{prefix}[date_create]", _text(contact["created_at"])),
        (f"{prefix}[last_modified]", _text(contact["updated_at"])),
        (f"{prefix}[created_user_id]", _text(contact["created_by"])),
        (f"{prefix}[modified_user_id]", _text(contact["updated_by"])),
        (f"{prefix}[account_id]", _text(contact["account_id"])),
        (f"{prefix}[created_at]", _text(contact["created_at"])),
        (f"{prefix}[updated_at]", _text(contact["updated_at"])),
        (f"{prefix}[type]", "contact"),
    ]
    for key, value in event.previous.items():
        pairs.append((f"{prefix}[{key}]", _text(value)))
    return (
        pairs
        + _tags(prefix, contact["_embedded"]["tags"])
        + _custom_fields(prefix, contact["custom_fields_values"])
    )


def _note(prefix: str, event: WebhookEvent) -> Pairs:
    note = event.data
    base = f"{prefix}[note]"
    stamp = datetime.fromtimestamp(note["updated_at"], tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
    params = note.get("params") or {}
    return [
        (f"{base}[id]", _text(note["id"])),
        (f"{base}[text]", _text(params.get("text", ""))),
        (f"{base}[note_type]", _text(NOTE_TYPE_NUMBERS.get(note["note_type"], 4))),
        (f"{base}[element_id]", _text(note["entity_id"])),
        (f"{base}[element_type]", _text(ELEMENT_TYPES.get(note["entity_type"], 2))),
        (f"{base}[date_create]", _text(note["created_at"])),
        (f"{base}[created_by]", _text(note["created_by"])),
        (f"{base}[main_user_id]", _text(note["responsible_user_id"])),
        (f"{base}[account_id]", _text(note["account_id"])),
        (f"{base}[timestamp_x]", stamp),
    ]


def webhook_pairs(account: Account, events: Sequence[WebhookEvent], *, ids_only: bool = False) -> Pairs:
    """Every event in one body, numbered per entity and action, then the account block.

    `ids_only` gives the sparse lead hooks real accounts sometimes send (`id, status_id, pipeline_id` and the
    `old_*` values), which make receivers re-fetch the lead [seen].
    """
    pairs: Pairs = []
    counters: dict[tuple[str, str], int] = {}
    for event in events:
        index = counters.get((event.entity, event.action), 0)
        counters[(event.entity, event.action)] = index + 1
        prefix = f"{event.entity}[{event.action}][{index}]"
        if event.action == "note":
            pairs += _note(prefix, event)
        elif event.entity == "leads":
            pairs += _lead(prefix, event, ids_only=ids_only)
        else:
            pairs += _contact(prefix, event)
    pairs += [
        ("account[subdomain]", account.subdomain),
        ("account[id]", str(account.id)),
        ("account[_links][self]", account.url),
    ]
    return pairs


_PLAIN = re.compile(r"[A-Za-z0-9_.~-]*")


def _quote(text: str) -> str:
    # Most values are ids and times: skip the (slow) quoting when nothing needs it.
    return text if _PLAIN.fullmatch(text) else quote_plus(text)


def _quote_key(key: str) -> str:
    # Keys are built here from ASCII names, digits and brackets; only the brackets need escaping (as PHP does).
    return key.replace("[", "%5B").replace("]", "%5D")


def webhook_body(account: Account, events: Sequence[WebhookEvent], *, ids_only: bool = False) -> bytes:
    """`application/x-www-form-urlencoded`, byte-for-byte what `urllib.parse.urlencode` would give."""
    pairs = webhook_pairs(account, events, ids_only=ids_only)
    return "&".join(f"{_quote_key(key)}={_quote(value)}" for key, value in pairs).encode("ascii")
