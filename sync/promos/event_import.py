"""Applying an attendee list to an amoCRM account: match contacts, tag their open leads, add notes, remember.

Contacts are read in one paginated pass (`with=leads`, 250 per page) rather than one search per attendee:
amoCRM allows 7 requests/s, and a list of 1 000 attendees would otherwise take minutes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.engine import Engine

from integration.db import session_scope
from integration.i18n import Language
from integration.storage import promos as store
from sync.promos.events import (
    AttendeeFile,
    MatchStatus,
    contact_keys,
    index_contacts,
    is_open,
    match_attendees,
    plan_event_updates,
    unmatched_csv,
)

# (stage, done, total) — total is None while it is not known yet (the contact scan).
Progress = Callable[[str, int, int | None], None]


class EventApi(Protocol):
    """The part of `integration.amocrm.AccountApi` the import uses."""

    def iter_contacts(self, *, params: Any = None) -> AsyncIterator[Any]: ...

    async def get_leads(self, ids: Iterable[int], *, with_: Sequence[str] = ...) -> list[Any]: ...

    async def update_leads(self, leads: Sequence[Mapping[str, Any]]) -> None: ...

    async def add_notes(self, entity: str, notes: Sequence[Mapping[str, Any]]) -> list[int]: ...


@dataclass(frozen=True, slots=True)
class EventImportReport:
    matched: int
    ambiguous: int
    unmatched: int
    leads_tagged: int
    notes_added: int
    attendances_recorded: int
    unmatched_csv: str


def as_json(item: Any) -> dict[str, Any]:
    """A v4 entity as JSON, whether the client gave a pydantic model or a dict."""
    if isinstance(item, Mapping):
        return dict(item)
    dumped: dict[str, Any] = item.model_dump(by_alias=True, mode="json")
    return dumped


def _no_progress(stage: str, done: int, total: int | None) -> None:
    return None


async def import_event_attendees(
    *,
    api: EventApi,
    engine: Engine,
    account_id: int,
    attendee_file: AttendeeFile,
    now: int,
    lang: Language = "ru",
    region: str = "RU",
    progress: Progress = _no_progress,
) -> EventImportReport:
    contacts = []
    async for contact in api.iter_contacts(params={"with": "leads"}):
        contacts.append(contact_keys(as_json(contact), region=region))
        progress("contacts", len(contacts), None)
    index = index_contacts(contacts)
    matches = match_attendees(attendee_file.attendees, index)
    progress("matching", len(matches), len(matches))

    candidate_leads = sorted(
        {
            lead_id
            for m in matches
            if m.contact_id is not None
            for lead_id in index.contacts[m.contact_id].lead_ids
        }
    )
    open_ids = [
        lead["id"] for lead in map(as_json, await api.get_leads(candidate_leads, with_=())) if is_open(lead)
    ]
    plan = plan_event_updates(matches, index, open_ids, lang)
    if plan.lead_updates:
        await api.update_leads(list(plan.lead_updates))
    progress("tags", len(plan.lead_updates), len(plan.lead_updates))
    if plan.notes:
        await api.add_notes("leads", list(plan.notes))
    progress("notes", len(plan.notes), len(plan.notes))

    recorded = 0
    with session_scope(engine) as session:
        for match in matches:
            contact_id = match.contact_id
            if contact_id is None or match.attendee.event_date is None:
                continue
            recorded += store.record_attendance(
                session=session,
                account_id=account_id,
                contact_id=contact_id,
                event_name=match.attendee.event,
                event_date=match.attendee.event_date,
                now=now,
            )
    counts = {
        status: sum(1 for m in matches if m.status == status)
        for status in (MatchStatus.MATCHED, MatchStatus.AMBIGUOUS, MatchStatus.UNMATCHED)
    }
    return EventImportReport(
        matched=counts.get(MatchStatus.MATCHED, 0),
        ambiguous=counts.get(MatchStatus.AMBIGUOUS, 0),
        unmatched=counts.get(MatchStatus.UNMATCHED, 0),
        leads_tagged=len(plan.tagged_lead_ids),
        notes_added=len(plan.notes),
        attendances_recorded=recorded,
        unmatched_csv=unmatched_csv(matches, lang),
    )
