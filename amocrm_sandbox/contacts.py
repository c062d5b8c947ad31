"""Contacts [doc]: name parts, a responsible user, tags and custom fields — phones and emails are the
predefined multitext fields PHONE and EMAIL [seen]; leads link to them (`_embedded.contacts`, `is_main`)."""

from __future__ import annotations

from typing import Any

from amocrm_sandbox.batch import check_batch, request_id_of
from amocrm_sandbox.events import WebhookEvent, snapshot
from amocrm_sandbox.problems import FieldError, Problem, ValidationCollector
from amocrm_sandbox.query import ListParams
from amocrm_sandbox.records import (
    apply_field_values,
    apply_name,
    apply_times,
    apply_user,
    base_matches,
    candidates,
    draft_of,
    ordered,
    page_of,
)
from amocrm_sandbox.state import Account, Record, SandboxState
from amocrm_sandbox.tags import apply_tags


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
    apply_name(contact, payload, ("name", "first_name", "last_name"), errors)
    if "name" not in payload and ("first_name" in payload or "last_name" in payload):
        contact["name"] = f"{contact['first_name']} {contact['last_name']}".strip()
    apply_user(account, contact, payload, errors)
    apply_times(contact, payload, ("created_at",), errors)
    apply_field_values(account, "contacts", contact, payload, errors)
    apply_tags(state, account, "contacts", contact, payload, errors)
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
    chosen = (c for c in candidates(account.contacts, params.ints("id")) if base_matches(c, params))
    return page_of(ordered(chosen, params, ("id", "updated_at")), params)


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
