"""Leads, as amoCRM API v4 keeps them [doc]: create, change (batch or one), delete/restore, list and render.

Every write — a PATCH that changes nothing included — bumps `updated_at` and fires `update_lead`; a status
change fires `status_lead` too, a new responsible `responsible_lead` [doc]/[assumed]; creations and status
changes are also written to the events list (`event_log.py`). Status 142 = won,
143 = lost in every pipeline; reaching either sets `closed_at` [doc]/[seen].
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from amocrm_sandbox.batch import check_batch, request_id_of
from amocrm_sandbox.event_log import record_lead_added, record_status_change
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
    link_contact,
    ordered,
    page_of,
    pending_contact_links,
)
from amocrm_sandbox.state import LOST_STATUS_ID, WON_STATUS_ID, Account, Record, SandboxState
from amocrm_sandbox.tags import apply_tags


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
    state: SandboxState, account: Account, lead: Record, payload: Any, *, by_person: bool = False
) -> tuple[list[FieldError], list[tuple[int, bool]]]:
    if not isinstance(payload, dict):
        return [FieldError("InvalidType", "", "An entity must be a JSON object")], []
    errors: list[FieldError] = []
    apply_name(lead, payload, ("name",), errors)
    if "price" in payload:
        price = payload["price"]
        if isinstance(price, bool) or not isinstance(price, int) or price < 0:
            errors.append(FieldError("InvalidType", "price", "This value should be a non-negative integer."))
        else:
            lead["price"] = price
    apply_user(account, lead, payload, errors)
    _apply_status(account, lead, payload, errors)
    apply_times(
        lead, payload, ("created_at", "updated_at", "closed_at", "loss_reason_id", "source_id"), errors
    )
    apply_field_values(account, "leads", lead, payload, errors, by_person=by_person)
    apply_tags(state, account, "leads", lead, payload, errors)
    return errors, pending_contact_links(account, payload, errors)


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
        record_lead_added(state, account, lead, user_id=user_id, at=now)
        created.append({"id": lead["id"], "request_id": request_id})
        events.append(snapshot("leads", "add", lead))
    return created, events


def update_leads(
    state: SandboxState, account: Account, payload: Any, *, user_id: int, by_person: bool = False
) -> tuple[list[Record], list[WebhookEvent]]:
    """Applies a batch of changes; `by_person` is an edit in amoCRM's UI, where API-only fields are read-only."""
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
        errors, links = _apply_lead(state, account, draft, item, by_person=by_person)
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
        if (lead["status_id"], lead["pipeline_id"]) != (before["status_id"], before["pipeline_id"]):
            record_status_change(
                state,
                account,
                lead_id=lead["id"],
                before=(before["status_id"], before["pipeline_id"]),
                after=(lead["status_id"], lead["pipeline_id"]),
                user_id=user_id,
                at=now,
            )
        updated.append({"id": lead["id"], "updated_at": lead["updated_at"], "request_id": request_id})
        events.extend(_lead_change_events(before, lead, same_status_named="status_id" in item))
    return updated, events


def _lead_change_events(
    before: Record, lead: Record, *, same_status_named: bool = False
) -> list[WebhookEvent]:
    events = []
    moved = lead["status_id"] != before["status_id"] or lead["pipeline_id"] != before["pipeline_id"]
    # [seen] amoCRM sends status events whose old and new status are equal; [assumed] a write naming the
    # lead's current status is where they come from.
    if moved or same_status_named:
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
        return base_matches(lead, params)

    stored = candidates(account.leads, params.ints("id"))
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
        chosen: Iterable[Record] = (lead for lead in stored if not lead["is_deleted"])
    else:
        chosen = (lead for lead in stored if keep(lead))
    return page_of(ordered(chosen, params, ("id", "created_at", "updated_at", "closed_at")), params)


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
