"""Leads, contacts and tags: creating, changing and listing them, as amoCRM API v4 does.

Facts: the lead and contact shapes, `_embedded.tags` replacing all tags (null detaches all) while
`tags_to_add`/`tags_to_delete` are non-destructive and ignored when `_embedded.tags` is sent [doc]; every
successful write — a no-op PATCH included — bumps `updated_at`/`updated_by` and fires `update`
[doc]/[assumed]; status 142 = won, 143 = lost [doc]; a status change fires `status` as well as `update` [doc].
A batch is all-or-nothing: when any entity is invalid, nothing is written and every error is reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from integration.sandbox.batch import check_batch, contains, request_id_of
from integration.sandbox.custom_fields import merge_field_values, normalise_field_values
from integration.sandbox.events import WebhookEvent, snapshot
from integration.sandbox.problems import FieldError, Problem, ValidationCollector
from integration.sandbox.query import ListParams, in_range
from integration.sandbox.state import LOST_STATUS_ID, WON_STATUS_ID, Account, Record, SandboxState

TAG_COLORS = ("DDEBB5", "FFC8C8", "C1E0FF", "E6E8EA", "FFDC7F")


# --- tags -------------------------------------------------------------------------------------------------


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


def _apply_tags(
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


def draft_of(record: Record) -> Record:
    """A copy to change: the record and its `_embedded` lists are new; the items inside are shared, so nothing
    may edit an item in place (changes build new items). Far cheaper than a deep copy for batch PATCHes."""
    draft = dict(record)
    draft["_embedded"] = {key: list(items) for key, items in record["_embedded"].items()}
    return draft


# --- shared -----------------------------------------------------------------------------------------------


def page_of(records: Iterable[Record], params: ListParams) -> tuple[list[Record], bool]:
    """One page, and whether another follows; reads only as far as the page needs."""
    window = list(islice(records, params.offset(), params.offset() + params.limit + 1))
    return window[: params.limit], len(window) > params.limit


def _ordered(records: Iterable[Record], params: ListParams, allowed: tuple[str, ...]) -> Iterable[Record]:
    if params.order is None:
        return records  # dicts keep insertion order, which is ascending id
    field, descending = params.order
    if field not in allowed:
        raise Problem(400, f"Ordering by {field} is not supported")
    return sorted(records, key=lambda r: (r[field] or 0, r["id"]), reverse=descending)


def _candidates(store: dict[int, Record], ids: frozenset[int] | None) -> Iterable[Record]:
    if ids is None:
        return store.values()
    return (store[i] for i in sorted(ids) if i in store)


def _field_text(record: Record) -> Iterator[str]:
    for field in record.get("custom_fields_values") or ():
        for value in field["values"]:
            yield str(value.get("value", ""))


def _matches_query(record: Record, needle: str) -> bool:
    if needle.isdigit() and str(record["id"]) == needle:
        return True
    low = needle.lower()
    if low in (record.get("name") or "").lower():
        return True
    digits = "".join(c for c in needle if c.isdigit())
    for text in _field_text(record):
        if low in text.lower():
            return True
        if len(digits) >= 5 and digits in "".join(c for c in text if c.isdigit()):
            return True
    return False


def _base_matches(record: Record, params: ListParams) -> bool:
    ranges = params.ranges
    for key in ("updated_at", "created_at", "closed_at", "price"):
        if key in ranges and not in_range(record.get(key), ranges[key]):
            return False
    responsible = params.ints("responsible_user_id")
    if responsible is not None and record["responsible_user_id"] not in responsible:
        return False
    if params.modified_since is not None and record["updated_at"] <= params.modified_since:
        return False
    return not params.query or _matches_query(record, params.query)


def _apply_field_values(
    account: Account, entity: str, record: Record, payload: Record, errors: list[FieldError]
) -> None:
    if "custom_fields_values" not in payload:
        return
    raw = payload["custom_fields_values"]
    if raw is None:
        record["custom_fields_values"] = None
        return
    written, field_errors = normalise_field_values(account.fields_of(entity), raw)
    errors.extend(field_errors)
    if not field_errors:
        record["custom_fields_values"] = merge_field_values(record["custom_fields_values"], written)


def _apply_user(account: Account, record: Record, payload: Record, errors: list[FieldError]) -> None:
    if "responsible_user_id" in payload:
        user_id = payload["responsible_user_id"]
        if not contains(account.users, user_id):
            errors.append(FieldError("NotSupportedChoice", "responsible_user_id", "User not found"))
        else:
            record["responsible_user_id"] = user_id


def _apply_times(record: Record, payload: Record, keys: tuple[str, ...], errors: list[FieldError]) -> None:
    for key in keys:
        if key in payload:
            value = payload[key]
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                errors.append(FieldError("InvalidType", key, "This value should be of type int."))
            else:
                record[key] = value


def _apply_name(record: Record, payload: Record, keys: tuple[str, ...], errors: list[FieldError]) -> None:
    for key in keys:
        if key in payload:
            if not isinstance(payload[key], str):
                errors.append(FieldError("InvalidType", key, "This value should be of type string."))
            else:
                record[key] = payload[key]


def link_contact(account: Account, lead: Record, contact_id: int, is_main: bool) -> None:
    """Links a contact to the lead (the first or an `is_main` one becomes main) and the lead to the contact.

    Builds new link lists rather than editing link dicts, so drafts made by `draft_of` stay independent.
    """
    links: list[Record] = lead["_embedded"]["contacts"]
    main = is_main or not links
    known = any(link["id"] == contact_id for link in links)
    updated = [
        {"id": link["id"], "is_main": (link["is_main"] and not main) or (link["id"] == contact_id and main)}
        for link in links
    ]
    if not known:
        updated.append({"id": contact_id, "is_main": main})
    lead["_embedded"]["contacts"] = updated
    contact_leads: list[Record] = account.contacts[contact_id]["_embedded"]["leads"]
    if all(item["id"] != lead["id"] for item in contact_leads):
        contact_leads.append({"id": lead["id"]})


def _pending_contact_links(
    account: Account, payload: Record, errors: list[FieldError]
) -> list[tuple[int, bool]]:
    embedded = payload.get("_embedded")
    if not isinstance(embedded, dict) or not isinstance(embedded.get("contacts"), list):
        return []
    links = []
    for index, item in enumerate(embedded["contacts"]):
        contact_id = item.get("id") if isinstance(item, dict) else None
        if not isinstance(contact_id, int) or contact_id not in account.contacts:
            errors.append(
                FieldError("NotSupportedChoice", f"_embedded.contacts.{index}.id", "Contact not found")
            )
        else:
            links.append((contact_id, bool(item.get("is_main", False))))
    return links


# --- leads ------------------------------------------------------------------------------------------------


def _apply_status(account: Account, lead: Record, payload: Record, errors: list[FieldError]) -> None:
    if "status_id" not in payload and "pipeline_id" not in payload:
        return
    pipeline_id = payload.get("pipeline_id", lead["pipeline_id"])
    pipeline = account.pipelines.get(pipeline_id) if isinstance(pipeline_id, int) else None
    if pipeline is None:
        errors.append(FieldError("NotSupportedChoice", "pipeline_id", "Pipeline not found"))
        return
    statuses = pipeline["_embedded"]["statuses"]
    if "status_id" in payload:
        status_id = payload["status_id"]
        if all(s["id"] != status_id for s in statuses):
            errors.append(FieldError("NotSupportedChoice", "status_id", "Status not found in the pipeline"))
            return
    elif pipeline_id == lead["pipeline_id"]:
        return
    else:
        status_id = next(s["id"] for s in statuses if s["type"] == 0)
    lead["pipeline_id"] = pipeline_id
    lead["status_id"] = status_id


def _apply_lead(
    state: SandboxState, account: Account, lead: Record, payload: Any
) -> tuple[list[FieldError], list[tuple[int, bool]]]:
    if not isinstance(payload, dict):
        return [FieldError("InvalidType", "", "An entity must be a JSON object")], []
    errors: list[FieldError] = []
    _apply_name(lead, payload, ("name",), errors)
    if "price" in payload:
        price = payload["price"]
        if isinstance(price, bool) or not isinstance(price, int) or price < 0:
            errors.append(FieldError("InvalidType", "price", "This value should be a non-negative integer."))
        else:
            lead["price"] = price
    _apply_user(account, lead, payload, errors)
    _apply_status(account, lead, payload, errors)
    _apply_times(
        lead, payload, ("created_at", "updated_at", "closed_at", "loss_reason_id", "source_id"), errors
    )
    _apply_field_values(account, "leads", lead, payload, errors)
    _apply_tags(state, account, "leads", lead, payload, errors)
    return errors, _pending_contact_links(account, payload, errors)


def new_lead_record(account: Account, user_id: int, now: int) -> Record:
    pipeline = account.main_pipeline()
    first_status = next(s["id"] for s in pipeline["_embedded"]["statuses"] if s["type"] == 0)
    return {
        "id": 0,
        "name": "",
        "price": 0,
        "responsible_user_id": user_id,
        "group_id": 0,
        "status_id": first_status,
        "pipeline_id": pipeline["id"],
        "loss_reason_id": None,
        "source_id": None,
        "created_by": user_id,
        "updated_by": user_id,
        "created_at": now,
        "updated_at": now,
        "closed_at": None,
        "closest_task_at": None,
        "is_deleted": False,
        "custom_fields_values": None,
        "score": None,
        "account_id": account.id,
        "labor_cost": None,
        "_embedded": {"tags": [], "companies": [], "contacts": [], "catalog_elements": []},
    }


def _close_if_final(lead: Record, now: int) -> None:
    if lead["status_id"] in (WON_STATUS_ID, LOST_STATUS_ID):
        lead["closed_at"] = lead["closed_at"] or now
    else:
        lead["closed_at"] = None


def create_leads(
    state: SandboxState, account: Account, payload: Any, *, user_id: int
) -> tuple[list[Record], list[WebhookEvent]]:
    items = check_batch(state, payload)
    now = state.now()
    collector = ValidationCollector()
    drafts: list[tuple[Record, list[tuple[int, bool]], str]] = []
    for index, item in enumerate(items):
        lead = new_lead_record(account, user_id, now)
        errors, links = _apply_lead(state, account, lead, item)
        collector.add(request_id_of(item, index), errors)
        drafts.append((lead, links, request_id_of(item, index)))
    collector.raise_if_any()
    created, events = [], []
    for lead, links, request_id in drafts:
        lead["id"] = state.ids.take("lead")
        lead["name"] = lead["name"] or f"Сделка #{lead['id']}"
        _close_if_final(lead, now)
        account.leads[lead["id"]] = lead
        for contact_id, is_main in links:
            link_contact(account, lead, contact_id, is_main)
        created.append({"id": lead["id"], "request_id": request_id})
        events.append(snapshot("leads", "add", lead))
    return created, events


def update_leads(
    state: SandboxState, account: Account, payload: Any, *, user_id: int
) -> tuple[list[Record], list[WebhookEvent]]:
    items = check_batch(state, payload)
    now = state.now()
    collector = ValidationCollector()
    drafts: list[tuple[Record, Record, Record, list[tuple[int, bool]], str]] = []
    for index, item in enumerate(items):
        request_id = request_id_of(item, index)
        lead_id = item.get("id") if isinstance(item, dict) else None
        current = account.leads.get(lead_id) if isinstance(lead_id, int) else None
        if current is None or current["is_deleted"]:
            collector.add(request_id, [FieldError("NotFound", "id", "Entity not found")])
            continue
        draft = draft_of(current)
        errors, links = _apply_lead(state, account, draft, item)
        collector.add(request_id, errors)
        drafts.append((item, current, draft, links, request_id))
    collector.raise_if_any()
    updated, events = [], []
    for item, before, lead, links, request_id in drafts:
        # Every write moves updated_at to now, unless the client set it explicitly (amoCRM allows that).
        if "updated_at" not in item:
            lead["updated_at"] = now
        lead["updated_by"] = user_id
        if lead["status_id"] != before["status_id"]:
            lead["closed_at"] = None if lead["status_id"] not in (WON_STATUS_ID, LOST_STATUS_ID) else now
        account.leads[lead["id"]] = lead
        for contact_id, is_main in links:
            link_contact(account, lead, contact_id, is_main)
        updated.append({"id": lead["id"], "updated_at": lead["updated_at"], "request_id": request_id})
        events.extend(_lead_change_events(before, lead))
    return updated, events


def _lead_change_events(before: Record, lead: Record) -> list[WebhookEvent]:
    events = []
    if lead["status_id"] != before["status_id"] or lead["pipeline_id"] != before["pipeline_id"]:
        events.append(
            snapshot(
                "leads",
                "status",
                lead,
                old_status_id=before["status_id"],
                old_pipeline_id=before["pipeline_id"],
            )
        )
    if lead["responsible_user_id"] != before["responsible_user_id"]:
        events.append(
            snapshot("leads", "responsible", lead, old_responsible_user_id=before["responsible_user_id"])
        )
    events.append(snapshot("leads", "update", lead))
    return events


def set_lead_deleted(
    state: SandboxState, account: Account, lead_id: int, *, deleted: bool
) -> list[WebhookEvent]:
    lead = account.leads.get(lead_id)
    if lead is None or lead["is_deleted"] == deleted:
        raise Problem(404, f"Lead {lead_id} not found" if lead is None or deleted else "Lead is not deleted")
    lead["is_deleted"] = deleted
    lead["updated_at"] = state.now()
    return [snapshot("leads", "delete" if deleted else "restore", lead)]


def list_leads(account: Account, params: ListParams) -> tuple[list[Record], bool]:
    only_deleted = "only_deleted" in params.with_
    pipelines = params.ints("pipeline_id")
    statuses = params.statuses

    def keep(lead: Record) -> bool:
        if lead["is_deleted"] != only_deleted:
            return False
        if pipelines is not None and lead["pipeline_id"] not in pipelines:
            return False
        if statuses and not any(
            lead["pipeline_id"] == p and (s is None or lead["status_id"] == s) for p, s in statuses
        ):
            return False
        return _base_matches(lead, params)

    candidates = _candidates(account.leads, params.ints("id"))
    unfiltered = not (
        pipelines
        or statuses
        or params.ranges
        or params.query
        or params.modified_since is not None
        or "responsible_user_id" in params.filters
    )
    if unfiltered and not only_deleted:
        # The common full scan (reconciliation, first sync): skip the general filter, read only up to the page.
        chosen: Iterable[Record] = (lead for lead in candidates if not lead["is_deleted"])
    else:
        chosen = (lead for lead in candidates if keep(lead))
    return page_of(_ordered(chosen, params, ("id", "created_at", "updated_at", "closed_at")), params)


def render_lead(lead: Record, with_: frozenset[str], base_url: str) -> Record:
    embedded = lead["_embedded"]
    rendered = {**lead, "_links": {"self": {"href": f"{base_url}/api/v4/leads/{lead['id']}"}}}
    shown: Record = {"tags": embedded["tags"], "companies": embedded["companies"]}
    if "contacts" in with_:
        shown["contacts"] = [
            {**c, "_links": {"self": {"href": f"{base_url}/api/v4/contacts/{c['id']}"}}}
            for c in embedded["contacts"]
        ]
    if "catalog_elements" in with_:
        shown["catalog_elements"] = embedded["catalog_elements"]
    rendered["_embedded"] = shown
    return rendered


# --- contacts ---------------------------------------------------------------------------------------------


def new_contact_record(account: Account, user_id: int, now: int) -> Record:
    return {
        "id": 0,
        "name": "",
        "first_name": "",
        "last_name": "",
        "responsible_user_id": user_id,
        "group_id": 0,
        "created_by": user_id,
        "updated_by": user_id,
        "created_at": now,
        "updated_at": now,
        "closest_task_at": None,
        "is_deleted": False,
        "is_unsorted": False,
        "custom_fields_values": None,
        "account_id": account.id,
        "_embedded": {"tags": [], "companies": [], "leads": []},
    }


def _apply_contact(state: SandboxState, account: Account, contact: Record, payload: Any) -> list[FieldError]:
    if not isinstance(payload, dict):
        return [FieldError("InvalidType", "", "An entity must be a JSON object")]
    errors: list[FieldError] = []
    _apply_name(contact, payload, ("name", "first_name", "last_name"), errors)
    if "name" not in payload and ("first_name" in payload or "last_name" in payload):
        contact["name"] = f"{contact['first_name']} {contact['last_name']}".strip()
    _apply_user(account, contact, payload, errors)
    _apply_times(contact, payload, ("created_at",), errors)
    _apply_field_values(account, "contacts", contact, payload, errors)
    _apply_tags(state, account, "contacts", contact, payload, errors)
    return errors


def create_contacts(
    state: SandboxState, account: Account, payload: Any, *, user_id: int
) -> tuple[list[Record], list[WebhookEvent]]:
    items = check_batch(state, payload)
    now = state.now()
    collector = ValidationCollector()
    drafts = []
    for index, item in enumerate(items):
        contact = new_contact_record(account, user_id, now)
        collector.add(request_id_of(item, index), _apply_contact(state, account, contact, item))
        drafts.append((contact, request_id_of(item, index)))
    collector.raise_if_any()
    created, events = [], []
    for contact, request_id in drafts:
        contact["id"] = state.ids.take("contact")
        contact["name"] = contact["name"] or f"Контакт #{contact['id']}"
        account.contacts[contact["id"]] = contact
        created.append({"id": contact["id"], "request_id": request_id})
        events.append(snapshot("contacts", "add", contact))
    return created, events


def update_contacts(
    state: SandboxState, account: Account, payload: Any, *, user_id: int
) -> tuple[list[Record], list[WebhookEvent]]:
    items = check_batch(state, payload)
    now = state.now()
    collector = ValidationCollector()
    drafts = []
    for index, item in enumerate(items):
        request_id = request_id_of(item, index)
        contact_id = item.get("id") if isinstance(item, dict) else None
        current = account.contacts.get(contact_id) if isinstance(contact_id, int) else None
        if current is None:
            collector.add(request_id, [FieldError("NotFound", "id", "Entity not found")])
            continue
        draft = draft_of(current)
        collector.add(request_id, _apply_contact(state, account, draft, item))
        drafts.append((draft, request_id))
    collector.raise_if_any()
    updated, events = [], []
    for contact, request_id in drafts:
        contact["updated_at"] = now
        contact["updated_by"] = user_id
        account.contacts[contact["id"]] = contact
        updated.append({"id": contact["id"], "updated_at": now, "request_id": request_id})
        events.append(snapshot("contacts", "update", contact))
    return updated, events


def contact(account: Account, contact_id: int) -> Record:
    found = account.contacts.get(contact_id)
    if found is None:
        raise Problem(404, f"Contact {contact_id} not found")
    return found


def list_contacts(account: Account, params: ListParams) -> tuple[list[Record], bool]:
    candidates = _candidates(account.contacts, params.ints("id"))
    ordered = _ordered((c for c in candidates if _base_matches(c, params)), params, ("id", "updated_at"))
    return page_of(ordered, params)


def render_contact(contact: Record, with_: frozenset[str], base_url: str) -> Record:
    embedded = contact["_embedded"]
    shown: Record = {"tags": embedded["tags"], "companies": embedded["companies"]}
    if "leads" in with_:
        shown["leads"] = embedded["leads"]
    return {
        **contact,
        "_links": {"self": {"href": f"{base_url}/api/v4/contacts/{contact['id']}"}},
        "_embedded": shown,
    }
