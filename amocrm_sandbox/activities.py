"""Notes and tasks attached to leads (and contacts).

Facts: notes `[{"entity_id", "note_type": "common", "params": {"text"}}]` and tasks `[{"text",
"complete_till", "entity_id", "entity_type", "task_type_id", "responsible_user_id"}]` [seen]; a note on a lead
fires `note_lead` [doc]. Task filters `filter[entity_type]`, `filter[entity_id][]`, `filter[is_completed]`
[seen], `filter[updated_at][from|to]` [doc]; a new task may carry its `created_at` [doc].
"""

from __future__ import annotations

from typing import Any

from amocrm_sandbox.batch import check_batch, contains, request_id_of
from amocrm_sandbox.event_log import record_note_added
from amocrm_sandbox.events import WebhookEvent, snapshot
from amocrm_sandbox.problems import FieldError, Problem, ValidationCollector
from amocrm_sandbox.query import ListParams, in_range
from amocrm_sandbox.records import page_of
from amocrm_sandbox.state import Account, Record, SandboxState

NOTE_TYPES = frozenset(
    {
        "common",
        "call_in",
        "call_out",
        "service_message",
        "message_cashier",
        "geolocation",
        "sms_in",
        "sms_out",
        "extended_service_message",
        "attachment",
    }
)
NOTE_ENTITIES = {"leads": "leads", "contacts": "contacts"}


def _entity_store(account: Account, entity_type: str) -> dict[int, Record]:
    if entity_type == "leads":
        return account.leads
    if entity_type == "contacts":
        return account.contacts
    raise Problem(404, f"Unknown entity type {entity_type}")


def add_notes(
    state: SandboxState,
    account: Account,
    entity_type: str,
    payload: Any,
    *,
    user_id: int,
    entity_id: int | None = None,
) -> tuple[list[Record], list[WebhookEvent]]:
    items = check_batch(state, payload)
    store = _entity_store(account, entity_type)
    collector = ValidationCollector()
    for index, item in enumerate(items):
        errors = []
        if not isinstance(item, dict):
            errors.append(FieldError("InvalidType", "", "A note must be a JSON object"))
        else:
            target = entity_id if entity_id is not None else item.get("entity_id")
            if not isinstance(target, int) or target not in store:
                errors.append(FieldError("NotSupportedChoice", "entity_id", "Entity not found"))
            if not contains(NOTE_TYPES, item.get("note_type")):
                errors.append(FieldError("NotSupportedChoice", "note_type", "Unknown note type"))
            if not isinstance(item.get("params", {}), dict):
                errors.append(FieldError("InvalidType", "params", "This value should be of type object."))
        collector.add(request_id_of(item, index), errors)
    collector.raise_if_any()
    now = state.now()
    created, events = [], []
    for index, item in enumerate(items):
        note_id = state.ids.take("note")
        target = entity_id if entity_id is not None else item["entity_id"]
        note = {
            "id": note_id,
            "entity_id": target,
            "entity_type": entity_type,
            "created_by": user_id,
            "updated_by": user_id,
            "created_at": item.get("created_at", now),
            "updated_at": now,
            "responsible_user_id": item.get("responsible_user_id", user_id),
            "group_id": 0,
            "note_type": item["note_type"],
            "params": item.get("params", {}),
            "account_id": account.id,
            "_links": {"self": {"href": f"/api/v4/{entity_type}/{target}/notes/{note_id}"}},
        }
        account.notes[note_id] = note
        record_note_added(state, account, note)
        created.append({"id": note_id, "entity_id": target, "request_id": request_id_of(item, index)})
        events.append(snapshot(entity_type, "note", note))
    return created, events


def list_notes(
    account: Account, entity_type: str, params: ListParams, entity_id: int | None = None
) -> tuple[list[Record], bool]:
    ids = params.ints("id")
    entity_ids = params.ints("entity_id")
    types = params.filters.get("note_type")

    def keep(note: Record) -> bool:
        return (
            note["entity_type"] == entity_type
            and (entity_id is None or note["entity_id"] == entity_id)
            and (entity_ids is None or note["entity_id"] in entity_ids)
            and (ids is None or note["id"] in ids)
            and (types is None or note["note_type"] in types)
        )

    return page_of((n for n in account.notes.values() if keep(n)), params)


def _apply_task(account: Account, task: Record, item: Any, *, creating: bool) -> list[FieldError]:
    if not isinstance(item, dict):
        return [FieldError("InvalidType", "", "A task must be a JSON object")]
    errors = []
    if creating and not isinstance(item.get("text"), str):
        errors.append(FieldError("NotBlank", "text", "This value should not be blank."))
    if creating and not isinstance(item.get("complete_till"), int):
        errors.append(FieldError("NotBlank", "complete_till", "This value should not be blank."))
    if "entity_type" in item and not contains(NOTE_ENTITIES, item["entity_type"]):
        errors.append(FieldError("NotSupportedChoice", "entity_type", "Unknown entity type"))
    elif "entity_id" in item:
        store = _entity_store(account, str(item.get("entity_type") or task["entity_type"] or "leads"))
        if not contains(store, item["entity_id"]):
            errors.append(FieldError("NotSupportedChoice", "entity_id", "Entity not found"))
    if "responsible_user_id" in item and not contains(account.users, item["responsible_user_id"]):
        errors.append(FieldError("NotSupportedChoice", "responsible_user_id", "User not found"))
    if errors:
        return errors
    for key in (
        "text",
        "complete_till",
        "entity_id",
        "entity_type",
        "task_type_id",
        "responsible_user_id",
        "duration",
        "is_completed",
        "result",
    ):
        if key in item:
            task[key] = item[key]
    if task["entity_id"] is not None and task["entity_type"] is None:
        task["entity_type"] = "leads"
    return []


def create_tasks(state: SandboxState, account: Account, payload: Any, *, user_id: int) -> list[Record]:
    items = check_batch(state, payload)
    now = state.now()
    collector = ValidationCollector()
    drafts = []
    for index, item in enumerate(items):
        task: Record = {
            "id": 0,
            "created_by": user_id,
            "updated_by": user_id,
            "created_at": now,
            "updated_at": now,
            "responsible_user_id": user_id,
            "group_id": 0,
            "entity_id": None,
            "entity_type": None,
            "duration": 0,
            "is_completed": False,
            "task_type_id": 1,
            "text": "",
            "result": [],
            "complete_till": now,
            "account_id": account.id,
        }
        if isinstance(item, dict) and isinstance(item.get("created_at"), int):
            task["created_at"] = task["updated_at"] = item["created_at"]
        collector.add(request_id_of(item, index), _apply_task(account, task, item, creating=True))
        drafts.append((task, request_id_of(item, index)))
    collector.raise_if_any()
    created = []
    for task, request_id in drafts:
        task["id"] = state.ids.take("task")
        task["_links"] = {"self": {"href": f"/api/v4/tasks/{task['id']}"}}
        account.tasks[task["id"]] = task
        created.append({"id": task["id"], "request_id": request_id})
    return created


def update_tasks(state: SandboxState, account: Account, payload: Any, *, user_id: int) -> list[Record]:
    items = check_batch(state, payload)
    collector = ValidationCollector()
    drafts = []
    for index, item in enumerate(items):
        task_id = item.get("id") if isinstance(item, dict) else None
        current = account.tasks.get(task_id) if isinstance(task_id, int) else None
        if current is None:
            collector.add(request_id_of(item, index), [FieldError("NotFound", "id", "Entity not found")])
            continue
        draft = dict(current)
        collector.add(request_id_of(item, index), _apply_task(account, draft, item, creating=False))
        drafts.append((draft, request_id_of(item, index)))
    collector.raise_if_any()
    now = state.now()
    updated = []
    for task, request_id in drafts:
        task["updated_at"] = now
        task["updated_by"] = user_id
        account.tasks[task["id"]] = task
        updated.append({"id": task["id"], "updated_at": now, "request_id": request_id})
    return updated


def list_tasks(account: Account, params: ListParams) -> tuple[list[Record], bool]:
    ids = params.ints("id")
    entity_ids = params.ints("entity_id")
    entity_types = params.filters.get("entity_type")
    responsible = params.ints("responsible_user_id")
    completed = params.filters.get("is_completed")
    want_completed = None if not completed else completed[-1] in ("1", "true")
    updated_at = params.ranges.get("updated_at")

    def keep(task: Record) -> bool:
        return (
            (ids is None or task["id"] in ids)
            and (entity_ids is None or task["entity_id"] in entity_ids)
            and (entity_types is None or task["entity_type"] in entity_types)
            and (responsible is None or task["responsible_user_id"] in responsible)
            and (want_completed is None or task["is_completed"] == want_completed)
            and in_range(task["updated_at"], updated_at)
        )

    return page_of((t for t in account.tasks.values() if keep(t)), params)
