"""Importing an attendee list tags open leads in amoCRM, notes why, and shows the event in the lead card."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Engine

from integration.db import session_scope
from integration.storage import promos as store
from sync.promos.event_import import import_event_attendees
from sync.promos.events import read_attendee_csv

ACCOUNT = 33000001


class FakeAmo:
    """A tiny amoCRM: contacts with their leads; records every write."""

    def __init__(self, contacts: list[dict[str, Any]], leads: dict[int, dict[str, Any]]) -> None:
        self.contacts = contacts
        self.leads = leads
        self.updated: list[Mapping[str, Any]] = []
        self.notes: list[Mapping[str, Any]] = []
        self.contact_params: list[Any] = []

    async def iter_contacts(self, *, params: Any = None) -> AsyncIterator[Any]:
        self.contact_params.append(params)
        for contact in self.contacts:
            yield contact

    async def get_leads(self, ids: Iterable[int], *, with_: Sequence[str] = ()) -> list[Any]:
        return [self.leads[lead_id] for lead_id in ids if lead_id in self.leads]

    async def update_leads(self, leads: Sequence[Mapping[str, Any]]) -> None:
        self.updated.extend(leads)

    async def add_notes(self, entity: str, notes: Sequence[Mapping[str, Any]]) -> list[int]:
        assert entity == "leads"
        self.notes.extend(notes)
        return list(range(len(notes)))


def amo() -> FakeAmo:
    return FakeAmo(
        contacts=[
            {
                "id": 1,
                "name": "Иван",
                "custom_fields_values": [{"field_code": "PHONE", "values": [{"value": "+7 916 123-45-67"}]}],
                "_embedded": {"leads": [{"id": 100}, {"id": 101}]},
            },
            {
                "id": 2,
                "name": "Анна",
                "custom_fields_values": [{"field_code": "EMAIL", "values": [{"value": "anna@example.ru"}]}],
                "_embedded": {"leads": [{"id": 200}]},
            },
        ],
        leads={
            100: {"id": 100, "status_id": 10},
            101: {"id": 101, "status_id": 142},
            200: {"id": 200, "status_id": 11},
        },
    )


ATTENDEES = (
    "ФИО;Телефон;E-mail;Мероприятие;Дата\n"
    "Иван;8 (916) 123-45-67;;Expo 2026;10.05.2026\n"
    "Анна;;ANNA@example.ru;Expo 2026;10.05.2026\n"
    "Гость;+7 999 000-00-00;;Expo 2026;10.05.2026\n"
).encode("cp1251")


class TestEventImport:
    async def test_matched_attendees_tag_open_leads_and_the_rest_is_reported(self, engine: Engine) -> None:
        """Open leads of matched contacts get `event:Expo 2026` and a note; the stranger is reported unmatched."""
        fake = amo()
        stages: list[str] = []
        report = await import_event_attendees(
            api=fake,
            engine=engine,
            account_id=ACCOUNT,
            attendee_file=read_attendee_csv(ATTENDEES),
            now=1_778_400_000,
            progress=lambda stage, done, total: stages.append(stage),
        )
        assert (report.matched, report.ambiguous, report.unmatched) == (2, 0, 1)
        assert sorted(update["id"] for update in fake.updated) == [100, 200]
        assert all(update["tags_to_add"] == [{"name": "event:Expo 2026"}] for update in fake.updated)
        assert sorted(note["entity_id"] for note in fake.notes) == [100, 200]
        assert "Гость" in report.unmatched_csv and "Иван" not in report.unmatched_csv
        assert fake.contact_params == [{"with": "leads"}]
        assert {"contacts", "matching", "tags", "notes"} <= set(stages)
        with session_scope(engine) as session:
            events = store.events_of_contacts(session=session, account_id=ACCOUNT, contact_ids=[1, 2])
        assert sorted((e.contact_id, e.event_name) for e in events) == [(1, "Expo 2026"), (2, "Expo 2026")]

    async def test_reimporting_the_same_list_records_nothing_new(self, engine: Engine) -> None:
        """Running the same import twice keeps one attendance per contact and event."""
        for expected in (2, 0):
            report = await import_event_attendees(
                api=amo(),
                engine=engine,
                account_id=ACCOUNT,
                attendee_file=read_attendee_csv(ATTENDEES),
                now=1,
            )
            assert report.attendances_recorded == expected
