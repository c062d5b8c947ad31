"""Tags on leads and contacts [doc]: `_embedded.tags` on a write replaces all tags (null detaches all; each by
`id` or `name`, a new name creates it); `tags_to_add` / `tags_to_delete` change only the named tags and are
ignored when `_embedded.tags` is also sent. The per-entity directory: `GET|POST /api/v4/{entity}/tags`.
"""

from __future__ import annotations

from typing import Any

from amocrm_sandbox.batch import check_batch, request_id_of
from amocrm_sandbox.problems import FieldError, ValidationCollector
from amocrm_sandbox.query import ListParams
from amocrm_sandbox.records import page_of
from amocrm_sandbox.state import Account, Record, SandboxState

TAG_COLORS = ("DDEBB5", "FFC8C8", "C1E0FF", "E6E8EA", "FFDC7F")


def find_or_create_tag(state: SandboxState, account: Account, entity: str, name: str) -> Record:
    tags = account.tags_of(entity)
    for tag in tags.values():
        if tag["name"] == name:
            return tag
    tag_id = state.ids.take("tag")
    tag = {"id": tag_id, "name": name, "color": TAG_COLORS[tag_id % len(TAG_COLORS)]}
    tags[tag_id] = tag
    return tag


def _resolve_tags(
    state: SandboxState, account: Account, entity: str, items: Any, path: str, errors: list[FieldError]
) -> list[Record]:
    if not isinstance(items, list):
        errors.append(FieldError("InvalidType", path, "This value should be of type array."))
        return []
    known = account.tags_of(entity)
    resolved: list[Record] = []
    for index, item in enumerate(items):
        if isinstance(item, dict) and isinstance(item.get("id"), int):
            tag = known.get(item["id"])
            if tag is None:
                errors.append(FieldError("NotSupportedChoice", f"{path}.{index}.id", "Tag not found"))
                continue
        elif isinstance(item, dict) and isinstance(item.get("name"), str) and item["name"].strip():
            tag = find_or_create_tag(state, account, entity, item["name"].strip())
        else:
            errors.append(FieldError("InvalidType", f"{path}.{index}", "A tag is {id} or {name}"))
            continue
        resolved.append({"id": tag["id"], "name": tag["name"], "color": tag["color"]})
    return resolved


def apply_tags(
    state: SandboxState,
    account: Account,
    entity: str,
    record: Record,
    payload: Record,
    errors: list[FieldError],
) -> None:
    embedded = payload.get("_embedded")
    current: list[Record] = record["_embedded"]["tags"]
    if isinstance(embedded, dict) and "tags" in embedded:
        tags = embedded["tags"]
        new = [] if tags is None else _resolve_tags(state, account, entity, tags, "_embedded.tags", errors)
        record["_embedded"]["tags"] = list({t["id"]: t for t in new}.values())
        return
    if "tags_to_add" in payload:
        for tag in _resolve_tags(state, account, entity, payload["tags_to_add"], "tags_to_add", errors):
            if all(t["id"] != tag["id"] for t in current):
                current.append(tag)
    if "tags_to_delete" in payload:
        items = payload["tags_to_delete"]
        if not isinstance(items, list):
            errors.append(FieldError("InvalidType", "tags_to_delete", "This value should be of type array."))
            return
        ids = {i["id"] for i in items if isinstance(i, dict) and isinstance(i.get("id"), int)}
        names = {i["name"] for i in items if isinstance(i, dict) and isinstance(i.get("name"), str)}
        record["_embedded"]["tags"] = [t for t in current if t["id"] not in ids and t["name"] not in names]


def list_tags(account: Account, entity: str, params: ListParams) -> tuple[list[Record], bool]:
    names = params.filters.get("name")
    ids = params.ints("id")
    needle = (params.query or "").lower()

    def keep(tag: Record) -> bool:
        return (
            (names is None or tag["name"] in names)
            and (ids is None or tag["id"] in ids)
            and (not needle or needle in tag["name"].lower())
        )

    return page_of((t for t in account.tags_of(entity).values() if keep(t)), params)


def create_tags(state: SandboxState, account: Account, entity: str, payload: Any) -> list[Record]:
    items = check_batch(state, payload)
    collector = ValidationCollector()
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"].strip():
            collector.add(request_id_of(item, index), [FieldError("NotBlank", "name", "Name is required")])
    collector.raise_if_any()
    created = []
    for index, item in enumerate(items):
        tag = find_or_create_tag(state, account, entity, item["name"].strip())
        if isinstance(item.get("color"), str):
            tag["color"] = item["color"]
        created.append({**tag, "request_id": request_id_of(item, index)})
    return created
