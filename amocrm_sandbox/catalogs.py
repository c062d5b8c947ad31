"""Catalogs ("lists"), their elements and linking elements to leads [seen]:
`POST /api/v4/leads/{id}/link` with `[{"to_entity_id", "to_entity_type": "catalog_elements",
"metadata": {"catalog_id", "quantity"}}]`.
"""

from __future__ import annotations

from typing import Any

from amocrm_sandbox.batch import check_batch, contains, request_id_of
from amocrm_sandbox.custom_fields import merge_field_values, normalise_field_values
from amocrm_sandbox.problems import FieldError, Problem, ValidationCollector
from amocrm_sandbox.query import ListParams
from amocrm_sandbox.records import link_contact, page_of
from amocrm_sandbox.state import Account, Record, SandboxState, clone

CATALOG_KEYS = ("name", "sort", "can_add_elements", "can_show_in_cards", "can_link_multiple", "type")


def catalog(account: Account, catalog_id: int) -> Record:
    found = account.catalogs.get(catalog_id)
    if found is None:
        raise Problem(404, f"Catalog {catalog_id} not found")
    return found


def create_catalogs(state: SandboxState, account: Account, payload: Any, *, user_id: int) -> list[Record]:
    items = check_batch(state, payload)
    collector = ValidationCollector()
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            collector.add(request_id_of(item, index), [FieldError("NotBlank", "name", "Name is required")])
    collector.raise_if_any()
    now = state.now()
    created = []
    for index, item in enumerate(items):
        catalog_id = state.ids.take("catalog")
        record: Record = {
            "id": catalog_id,
            "name": item["name"],
            "created_by": user_id,
            "updated_by": user_id,
            "created_at": now,
            "updated_at": now,
            "sort": 10,
            "type": "regular",
            "can_add_elements": True,
            "can_show_in_cards": False,
            "can_link_multiple": True,
            "can_be_deleted": True,
            "sdk_widget_code": None,
            "account_id": account.id,
            "_links": {"self": {"href": f"/api/v4/catalogs/{catalog_id}"}},
        }
        record.update({k: item[k] for k in CATALOG_KEYS if k in item})
        account.catalogs[catalog_id] = record
        account.catalog_elements[catalog_id] = {}
        created.append({**record, "request_id": request_id_of(item, index)})
    return created


def update_catalogs(state: SandboxState, account: Account, payload: Any, *, user_id: int) -> list[Record]:
    items = check_batch(state, payload)
    collector = ValidationCollector()
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not contains(account.catalogs, item.get("id")):
            collector.add(request_id_of(item, index), [FieldError("NotFound", "id", "Entity not found")])
    collector.raise_if_any()
    updated = []
    for item in items:
        record = account.catalogs[item["id"]]
        record.update({k: item[k] for k in CATALOG_KEYS if k in item})
        record.update(updated_at=state.now(), updated_by=user_id)
        updated.append(record)
    return updated


def _apply_element(account: Account, catalog_id: int, element: Record, item: Any) -> list[FieldError]:
    if not isinstance(item, dict):
        return [FieldError("InvalidType", "", "An element must be a JSON object")]
    errors: list[FieldError] = []
    if "name" in item:
        if not isinstance(item["name"], str):
            errors.append(FieldError("InvalidType", "name", "This value should be of type string."))
        else:
            element["name"] = item["name"]
    if item.get("custom_fields_values") is not None:
        written, field_errors = normalise_field_values(
            account.fields_of(f"catalogs/{catalog_id}"), item["custom_fields_values"]
        )
        errors.extend(field_errors)
        element["custom_fields_values"] = merge_field_values(element["custom_fields_values"], written)
    return errors


def create_elements(
    state: SandboxState, account: Account, catalog_id: int, payload: Any, *, user_id: int
) -> list[Record]:
    catalog(account, catalog_id)
    items = check_batch(state, payload)
    now = state.now()
    collector = ValidationCollector()
    drafts = []
    for index, item in enumerate(items):
        element: Record = {
            "id": 0,
            "catalog_id": catalog_id,
            "name": "",
            "created_by": user_id,
            "updated_by": user_id,
            "created_at": now,
            "updated_at": now,
            "is_deleted": False,
            "custom_fields_values": None,
            "account_id": account.id,
        }
        errors = _apply_element(account, catalog_id, element, item)
        if not element["name"]:
            errors.append(FieldError("NotBlank", "name", "This value should not be blank."))
        collector.add(request_id_of(item, index), errors)
        drafts.append((element, request_id_of(item, index)))
    collector.raise_if_any()
    created = []
    for element, request_id in drafts:
        element["id"] = state.ids.take("catalog_element")
        element["_links"] = {"self": {"href": f"/api/v4/catalogs/{catalog_id}/elements/{element['id']}"}}
        account.catalog_elements[catalog_id][element["id"]] = element
        created.append({**element, "request_id": request_id})
    return created


def update_elements(
    state: SandboxState, account: Account, catalog_id: int, payload: Any, *, user_id: int
) -> list[Record]:
    catalog(account, catalog_id)
    elements = account.catalog_elements[catalog_id]
    items = check_batch(state, payload)
    collector = ValidationCollector()
    drafts = []
    for index, item in enumerate(items):
        element_id = item.get("id") if isinstance(item, dict) else None
        current = elements.get(element_id) if isinstance(element_id, int) else None
        if current is None:
            collector.add(request_id_of(item, index), [FieldError("NotFound", "id", "Entity not found")])
            continue
        draft = clone(current)
        collector.add(request_id_of(item, index), _apply_element(account, catalog_id, draft, item))
        drafts.append(draft)
    collector.raise_if_any()
    for draft in drafts:
        draft.update(updated_at=state.now(), updated_by=user_id)
        elements[draft["id"]] = draft
    return drafts


def list_elements(account: Account, catalog_id: int, params: ListParams) -> tuple[list[Record], bool]:
    catalog(account, catalog_id)
    ids = params.ints("id")
    needle = (params.query or "").lower()
    elements = account.catalog_elements[catalog_id].values()
    return page_of(
        (e for e in elements if (ids is None or e["id"] in ids) and needle in e["name"].lower()), params
    )


def link_lead(account: Account, lead: Record, payload: Any) -> list[Record]:
    if not isinstance(payload, list) or not payload:
        raise Problem(400, "Request body must be a non-empty JSON array")
    links = []
    for item in payload:
        if not isinstance(item, dict):
            raise Problem(400, "A link must be a JSON object")
        to_type, to_id = item.get("to_entity_type"), item.get("to_entity_id")
        metadata = item.get("metadata") or {}
        if to_type == "catalog_elements":
            catalog_id = metadata.get("catalog_id")
            elements = account.catalog_elements.get(catalog_id) if isinstance(catalog_id, int) else None
            if elements is None or not contains(elements, to_id):
                raise Problem(400, "Catalog element not found")
            embedded: list[Record] = lead["_embedded"]["catalog_elements"]
            embedded[:] = [e for e in embedded if e["id"] != to_id]
            embedded.append({"id": to_id, "metadata": {"catalog_id": catalog_id, **metadata}})
        elif to_type == "contacts":
            if not isinstance(to_id, int) or to_id not in account.contacts:
                raise Problem(400, "Contact not found")
            link_contact(account, lead, to_id, bool(metadata.get("is_main", False)))
        else:
            raise Problem(400, f"Linking to {to_type} is not supported")
        links.append(
            {
                "entity_id": lead["id"],
                "entity_type": "leads",
                "to_entity_id": to_id,
                "to_entity_type": to_type,
                "metadata": metadata,
            }
        )
    return links
