"""Event attendee lists reach the right contacts, whatever Excel did to the file."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from sync.promos.events import (
    MatchStatus,
    contact_keys,
    index_contacts,
    match_attendees,
    normalise_phone,
    plan_event_updates,
    read_attendee_csv,
    unmatched_csv,
)
from sync.promos.tabular import TableError


def contact(contact_id: int, phone: str | None = None, email: str | None = None, leads: tuple[int, ...] = ()):
    fields = []
    if phone:
        fields.append({"field_code": "PHONE", "values": [{"value": phone, "enum_code": "WORK"}]})
    if email:
        fields.append({"field_code": "EMAIL", "values": [{"value": email, "enum_code": "WORK"}]})
    return contact_keys(
        {
            "id": contact_id,
            "name": f"Contact {contact_id}",
            "custom_fields_values": fields,
            "_embedded": {"leads": [{"id": lead} for lead in leads]},
        }
    )


class TestReading:
    def test_cp1251_semicolon_export_with_russian_headers_is_read(self) -> None:
        """A list saved by Russian Excel (cp1251, `;`, Russian headers) is read with names intact."""
        data = "ФИО;Телефон;Почта;Мероприятие;Дата\nИван Петров;8 (916) 123-45-67;Ivan@Mail.ru;Выставка;10.05.2026\n"
        parsed = read_attendee_csv(data.encode("cp1251"))
        (attendee,) = parsed.attendees
        assert (parsed.encoding, parsed.delimiter) == ("cp1251", ";")
        assert attendee.name == "Иван Петров" and attendee.event == "Выставка"
        assert attendee.phone == "+79161234567" and attendee.email == "ivan@mail.ru"
        assert attendee.event_date == date(2026, 5, 10)

    def test_utf8_bom_comma_file_is_read(self) -> None:
        """A UTF-8 file with a BOM and commas, as web tools export, is read too."""
        data = "\ufeffname,phone,email,event,date\nAnna,+7 916 765 43 21,,Webinar,2026-05-11\n"
        (attendee,) = read_attendee_csv(data.encode("utf-8")).attendees
        assert attendee.phone == "+79167654321" and attendee.email is None

    def test_file_without_the_needed_columns_is_refused_clearly(self) -> None:
        """A file lacking event/date columns is refused with a message naming what is missing and found."""
        with pytest.raises(TableError) as raised:
            read_attendee_csv(b"name;phone\nA;1\n")
        assert "event, date" in raised.value.message("en") and "name, phone" in raised.value.message("en")
        assert "Нет колонок".lower() in raised.value.message("ru").lower()

    def test_binary_file_is_refused(self) -> None:
        """An .xlsx renamed to .csv is refused with advice, not read as garbage."""
        with pytest.raises(TableError):
            read_attendee_csv(b"PK\x03\x04\x00\x00binary")

    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("8 916 123-45-67", "+79161234567"),
            ("+7 (916) 123 45 67", "+79161234567"),
            ("9161234567", "+79161234567"),
            ("+44 20 7946 0958", "+442079460958"),
            ("12", None),
            ("", None),
        ],
    )
    def test_phones_are_compared_in_e164(self, raw: str, expected: str | None) -> None:
        """Different spellings of one Russian phone become the same E.164 number."""
        assert normalise_phone(raw) == expected


class TestMatching:
    def rows(self, *lines: str) -> list:
        data = "name,phone,email,event,date\n" + "\n".join(lines) + "\n"
        return list(read_attendee_csv(data.encode()).attendees)

    def test_attendee_matches_by_phone_or_email(self) -> None:
        """An attendee is matched by a phone typed differently, or by e-mail in another case."""
        index = index_contacts([contact(1, phone="+79161234567"), contact(2, email="anna@example.ru")])
        matches = match_attendees(
            self.rows("Ivan,8 916 123 45 67,,Expo,2026-05-10", "Anna,,ANNA@example.ru,Expo,2026-05-10"), index
        )
        assert [(m.status, m.contact_id) for m in matches] == [
            (MatchStatus.MATCHED, 1),
            (MatchStatus.MATCHED, 2),
        ]

    def test_phone_and_email_of_different_contacts_is_ambiguous(self) -> None:
        """When the phone points to one contact and the e-mail to another, we do not guess."""
        index = index_contacts([contact(1, phone="+79161234567"), contact(2, email="x@example.ru")])
        (match,) = match_attendees(self.rows("X,89161234567,x@example.ru,Expo,2026-05-10"), index)
        assert (match.status, match.contact_ids) == (MatchStatus.AMBIGUOUS, (1, 2))

    def test_unknown_attendee_and_bad_rows_are_unmatched_with_reasons(self) -> None:
        """Strangers, rows with no contact data and bad dates end up in the unmatched CSV with why."""
        index = index_contacts([contact(1, phone="+79161234567")])
        matches = match_attendees(
            self.rows(
                "Stranger,+79990000000,,Expo,2026-05-10",
                "Nobody,,,Expo,2026-05-10",
                "Late,89161234567,,Expo,someday",
            ),
            index,
        )
        assert [m.status for m in matches] == [MatchStatus.UNMATCHED] * 3
        rows = list(csv.DictReader(io.StringIO(unmatched_csv(matches, "en"))))
        assert [r["name"] for r in rows] == ["Stranger", "Nobody", "Late"]
        assert rows[1]["problem"] == "neither phone nor e-mail"
        assert "someday" in rows[2]["problem"]


class TestPlan:
    def test_open_leads_of_matched_contacts_get_the_event_tag_and_a_note(self) -> None:
        """Only open leads are tagged `event:<name>` (added, not replacing tags) and get one note per event."""
        index = index_contacts([contact(1, phone="+79161234567", leads=(10, 11))])
        rows = list(
            read_attendee_csv(
                b"name,phone,email,event,date\nIvan,89161234567,,Expo,2026-05-10\nIvan,89161234567,,Expo,2026-05-10\n"
            ).attendees
        )
        plan = plan_event_updates(match_attendees(rows, index), index, open_lead_ids=[10], lang="en")
        assert plan.lead_updates == ({"id": 10, "tags_to_add": [{"name": "event:Expo"}]},)
        assert len(plan.notes) == 1 and plan.notes[0]["entity_id"] == 10
        assert "Expo" in plan.notes[0]["params"]["text"] and "10.05.2026" in plan.notes[0]["params"]["text"]
