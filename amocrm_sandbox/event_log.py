"""amoCRM's events list, `GET /api/v4/events` [doc]: the account's history, here for leads.

Recorded: `lead_added` when a lead is created and `lead_status_changed` when its status or pipeline changes,
by an API write or in the seeded history; a note on a lead as `common_note_added`, a call note as
`incoming_call` / `outgoing_call` [seen: event type lists of public amoCRM clients], with `value_after`
`[{"note": {"id"}}]` [seen]. Tasks are not recorded here: their events name the task, not the lead [seen], so
a client reads tasks from `GET /api/v4/tasks`. An event is `{id, type, entity_id, entity_type: "lead", created_by,
created_at, value_after, value_before, account_id}`, a status value `[{"lead_status": {"id", "pipeline_id"}}]`
[doc: amocrm.ru/developers/content/crm_platform/events-and-notes]. Ids are strings [doc]. Lists are newest
first [assumed: the stricter order for a client paging while events arrive], at most `events_page_limit_max`
(100) per page [doc], 204 when nothing matches [doc].

Filters [doc]: `filter[type]`, `filter[entity]` (lead, contact, …), `filter[entity_id]` (with one entity),
`filter[created_at]` (one value: from then on; or `[from]`/`[to]`), `filter[created_by]`,
`filter[value_after|value_before][leads_statuses][i][pipeline_id|status_id]`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from amocrm_sandbox.problems import Problem
from amocrm_sandbox.query import ListParams, in_range
from amocrm_sandbox.records import page_of
from amocrm_sandbox.state import Account, Record, SandboxState

LEAD_ADDED = "lead_added"
LEAD_STATUS_CHANGED = "lead_status_changed"
# Which note types are written to the events list, and under which event type.
NOTE_EVENT_TYPES = {"common": "common_note_added", "call_in": "incoming_call", "call_out": "outgoing_call"}

_STATUS_FILTER = re.compile(
    r"^filter\[(value_after|value_before)\]\[leads_statuses\]\[([^\]]*)\]\[(pipeline_id|status_id)\]$"
)


def _status_value(status_id: int, pipeline_id: int) -> list[Record]:
    return [{"lead_status": {"id": status_id, "pipeline_id": pipeline_id}}]


def _record(
    state: SandboxState,
    account: Account,
    *,
    kind: str,
    lead_id: int,
    user_id: int,
    at: int,
    after: list[Record],
    before: list[Record],
) -> None:
    account.event_log.append(
        {
            "id": format(state.ids.take("event"), "026x"),
            "type": kind,
            "entity_id": lead_id,
            "entity_type": "lead",
            "created_by": user_id,
            "created_at": at,
            "value_after": after,
            "value_before": before,
            "account_id": account.id,
        }
    )


def record_lead_added(state: SandboxState, account: Account, lead: Record, *, user_id: int, at: int) -> None:
    _record(
        state,
        account,
        kind=LEAD_ADDED,
        lead_id=lead["id"],
        user_id=user_id,
        at=at,
        after=[],
        before=[],
    )


def record_note_added(state: SandboxState, account: Account, note: Record) -> None:
    """A note on a lead, as the events list shows it (other note types and other entities are not listed)."""
    kind = NOTE_EVENT_TYPES.get(note["note_type"])
    if kind is None or note["entity_type"] != "leads":
        return
    _record(
        state,
        account,
        kind=kind,
        lead_id=note["entity_id"],
        user_id=note["created_by"],
        at=note["created_at"],
        after=[{"note": {"id": note["id"]}}],
        before=[],
    )


def record_status_change(
    state: SandboxState,
    account: Account,
    *,
    lead_id: int,
    before: tuple[int, int],
    after: tuple[int, int],
    user_id: int,
    at: int,
) -> None:
    """A move from `before` to `after`, each (status_id, pipeline_id)."""
    _record(
        state,
        account,
        kind=LEAD_STATUS_CHANGED,
        lead_id=lead_id,
        user_id=user_id,
        at=at,
        after=_status_value(*after),
        before=_status_value(*before),
    )


@dataclass(frozen=True, slots=True)
class EventFilter:
    types: frozenset[str] | None = None
    entities: frozenset[str] | None = None
    entity_ids: frozenset[int] | None = None
    created_by: frozenset[int] | None = None
    created_at: tuple[int | None, int | None] | None = None
    # (which side, pipeline_id, status_id or None): any of them matching is enough.
    statuses: tuple[tuple[str, int, int | None], ...] = ()

    def keeps(self, event: Record) -> bool:
        if self.types is not None and event["type"] not in self.types:
            return False
        if self.entities is not None and event["entity_type"] not in self.entities:
            return False
        if self.entity_ids is not None and event["entity_id"] not in self.entity_ids:
            return False
        if self.created_by is not None and event["created_by"] not in self.created_by:
            return False
        if not in_range(event["created_at"], self.created_at):
            return False
        return not self.statuses or any(_has_status(event, *wanted) for wanted in self.statuses)


def _has_status(event: Record, side: str, pipeline_id: int, status_id: int | None) -> bool:
    for value in event[side]:
        status = value.get("lead_status")
        if status and status["pipeline_id"] == pipeline_id and status_id in (None, status["id"]):
            return True
    return False


def _words(params: ListParams, name: str) -> frozenset[str] | None:
    values = params.filters.get(name)
    return None if values is None else frozenset(v.strip() for v in values)


def event_filter(params: ListParams, raw: Iterable[tuple[str, str]]) -> EventFilter:
    """The events filter from the parsed list parameters plus the raw keys `ListParams` does not keep."""
    created_at = params.ranges.get("created_at")
    statuses: dict[tuple[str, str], dict[str, int]] = {}
    for key, value in raw:
        if key == "filter[created_at]":
            # One timestamp means "created after it" [doc]; the v2 form "from,to" is still accepted.
            bounds = [int(v) for v in value.split(",") if v.strip().lstrip("-").isdigit()]
            if not bounds:
                raise Problem(400, "filter[created_at] must hold unix timestamps")
            created_at = (bounds[0], bounds[1] if len(bounds) > 1 else None)
        matched = _STATUS_FILTER.match(key)
        if matched:
            side, index, name = matched.groups()
            try:
                statuses.setdefault((side, index), {})[name] = int(value)
            except ValueError:
                raise Problem(400, f"{key} must be an integer") from None
    entities = _words(params, "entity")
    entity_ids = params.ints("entity_id")
    if entity_ids is not None and (entities is None or len(entities) != 1):
        raise Problem(400, "filter[entity_id] needs exactly one filter[entity]")
    return EventFilter(
        types=_words(params, "type"),
        entities=entities,
        entity_ids=entity_ids,
        created_by=params.ints("created_by"),
        created_at=created_at,
        statuses=tuple(
            (side, ids["pipeline_id"], ids.get("status_id"))
            for (side, _), ids in statuses.items()
            if "pipeline_id" in ids
        ),
    )


def list_events(account: Account, params: ListParams, chosen: EventFilter) -> tuple[list[Record], bool]:
    newest_first = (event for event in reversed(account.event_log) if chosen.keeps(event))
    return page_of(newest_first, params)


def render_event(event: Record, base_url: str) -> Record:
    return {**event, "_links": {"self": {"href": f"{base_url}/api/v4/events/{event['id']}"}}}


def find_event(account: Account, event_id: str) -> Record:
    for event in account.event_log:
        if event["id"] == event_id:
            return event
    raise Problem(404, f"Event {event_id} not found")
