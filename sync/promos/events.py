"""Event attendee lists: read the CSV, normalise phones and e-mails, match attendees to amoCRM contacts (pure).

Event teams export lists from registration tools or Excel: UTF-8 or cp1251, `,` or `;`, headers in Russian
or English. Phones are compared in E.164 (`+79161234567`), so `8 (916) 123-45-67` and `+7 916 123 45 67` are
the same person; e-mails are compared case-insensitively. An attendee whose phone and e-mail point to more
than one contact is ambiguous: we never guess.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import phonenumbers

from integration.i18n import Language, Text
from rules.promo import LOST_STATUS_ID, WON_STATUS_ID
from sync.promos.importing import parse_date
from sync.promos.tabular import Table, TableError, read_table

COLUMN_ALIASES: Mapping[str, tuple[str, ...]] = {
    "name": ("name", "full_name", "имя", "фио", "участник"),
    "phone": ("phone", "phone_number", "mobile", "телефон", "тел", "тел.", "мобильный"),
    "email": ("email", "e_mail", "mail", "почта", "эл._почта", "электронная_почта"),
    "event": ("event", "event_name", "мероприятие", "событие"),
    "date": ("date", "event_date", "дата", "дата_мероприятия"),
}

MISSING_COLUMNS = Text(
    ru="В файле нет колонок: {columns}. Нужны: name, phone, email, event, date (или имя, телефон, почта, "
    "мероприятие, дата). Найдены: {found}. Если это Excel, сохраните как CSV (разделитель «;» или «,»).",
    en="The file lacks columns: {columns}. Needed: name, phone, email, event, date (or the Russian names). "
    "Found: {found}. From Excel, save as CSV (“;” or “,” separated).",
)
NO_CONTACT_DATA = Text(ru="нет ни телефона, ни e-mail", en="neither phone nor e-mail")
BAD_PHONE = Text(ru="телефон «{value}» не распознан", en="phone “{value}” not recognised")
BAD_DATE = Text(ru="дата «{value}» не распознана", en="date “{value}” not recognised")
NO_EVENT = Text(ru="не указано мероприятие", en="no event given")
NOTE_TEXT = Text(
    ru="LeadPact: контакт {name} посетил мероприятие «{event}» {date}.",
    en="LeadPact: contact {name} attended the event “{event}” on {date}.",
)


class MatchStatus:
    MATCHED = "matched"
    AMBIGUOUS = "ambiguous"
    UNMATCHED = "unmatched"


@dataclass(frozen=True, slots=True)
class Attendee:
    line: int
    name: str
    phone_raw: str
    email_raw: str
    event: str
    event_date: date | None
    phone: str | None
    email: str | None
    problems: tuple[Text, ...] = ()
    problem_params: tuple[Mapping[str, Any], ...] = ()

    def problem_text(self, lang: Language = "ru") -> str:
        return "; ".join(
            text(lang, **params) for text, params in zip(self.problems, self.problem_params, strict=True)
        )


@dataclass(frozen=True, slots=True)
class AttendeeFile:
    attendees: tuple[Attendee, ...]
    encoding: str
    delimiter: str


def normalise_phone(raw: str, region: str = "RU") -> str | None:
    """E.164 of a phone as people type it (`8 916…`, `+7 (916)…`); None when it is not a possible number."""
    text = raw.strip()
    if not text:
        return None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(raw: str) -> str | None:
    text = raw.strip().lower()
    if "@" not in text or text.startswith("@") or text.endswith("@") or " " in text:
        return None
    return text


def _columns(table: Table) -> dict[str, str]:
    found: dict[str, str] = {}
    for column, aliases in COLUMN_ALIASES.items():
        for header in table.headers:
            if header in aliases:
                found[column] = header
                break
    return found


def read_attendee_csv(data: bytes, *, region: str = "RU") -> AttendeeFile:
    """The attendees of a CSV; `TableError` (with a message in both languages) when the file is unusable."""
    table = read_table(data)
    columns = _columns(table)
    missing = [c for c in ("event", "date") if c not in columns]
    if "phone" not in columns and "email" not in columns:
        missing.append("phone/email")
    if missing:
        raise TableError(MISSING_COLUMNS, columns=", ".join(missing), found=", ".join(table.headers) or "—")
    attendees = []
    for line, record in table.rows:

        def cell(column: str, record: Mapping[str, str] = record) -> str:
            return record.get(columns[column], "") if column in columns else ""

        problems: list[tuple[Text, dict[str, Any]]] = []
        phone = normalise_phone(cell("phone"), region)
        email = normalise_email(cell("email"))
        if cell("phone") and phone is None:
            problems.append((BAD_PHONE, {"value": cell("phone")}))
        if phone is None and email is None and not cell("phone"):
            problems.append((NO_CONTACT_DATA, {}))
        event_date: date | None = None
        try:
            event_date = parse_date(cell("date"))
        except ValueError:
            problems.append((BAD_DATE, {"value": cell("date")}))
        if not cell("event"):
            problems.append((NO_EVENT, {}))
        attendees.append(
            Attendee(
                line=line,
                name=cell("name"),
                phone_raw=cell("phone"),
                email_raw=cell("email"),
                event=cell("event"),
                event_date=event_date,
                phone=phone,
                email=email,
                problems=tuple(text for text, _ in problems),
                problem_params=tuple(params for _, params in problems),
            )
        )
    return AttendeeFile(attendees=tuple(attendees), encoding=table.encoding, delimiter=table.delimiter)


@dataclass(frozen=True, slots=True)
class ContactKeys:
    """What identifies an amoCRM contact for matching, and its leads."""

    contact_id: int
    name: str
    phones: frozenset[str]
    emails: frozenset[str]
    lead_ids: tuple[int, ...] = ()


def contact_keys(contact: Mapping[str, Any], *, region: str = "RU") -> ContactKeys:
    """From a v4 contact JSON (`custom_fields_values` with codes PHONE/EMAIL, `_embedded.leads`)."""
    phones: set[str] = set()
    emails: set[str] = set()
    for custom_field in contact.get("custom_fields_values") or ():
        code = str(custom_field.get("field_code") or "").upper()
        for value in custom_field.get("values") or ():
            text = str(value.get("value") or "")
            if code == "PHONE" and (phone := normalise_phone(text, region)):
                phones.add(phone)
            elif code == "EMAIL" and (email := normalise_email(text)):
                emails.add(email)
    leads = (contact.get("_embedded") or {}).get("leads") or ()
    return ContactKeys(
        contact_id=int(contact["id"]),
        name=str(contact.get("name") or ""),
        phones=frozenset(phones),
        emails=frozenset(emails),
        lead_ids=tuple(int(lead["id"]) for lead in leads if lead.get("id") is not None),
    )


@dataclass(frozen=True, slots=True)
class ContactIndex:
    by_phone: Mapping[str, tuple[int, ...]]
    by_email: Mapping[str, tuple[int, ...]]
    contacts: Mapping[int, ContactKeys]


def index_contacts(contacts: Iterable[ContactKeys]) -> ContactIndex:
    by_phone: dict[str, list[int]] = {}
    by_email: dict[str, list[int]] = {}
    by_id: dict[int, ContactKeys] = {}
    for contact in contacts:
        by_id[contact.contact_id] = contact
        for phone in contact.phones:
            by_phone.setdefault(phone, []).append(contact.contact_id)
        for email in contact.emails:
            by_email.setdefault(email, []).append(contact.contact_id)
    return ContactIndex(
        by_phone={key: tuple(ids) for key, ids in by_phone.items()},
        by_email={key: tuple(ids) for key, ids in by_email.items()},
        contacts=by_id,
    )


@dataclass(frozen=True, slots=True)
class AttendeeMatch:
    attendee: Attendee
    status: str
    contact_ids: tuple[int, ...] = ()

    @property
    def contact_id(self) -> int | None:
        return self.contact_ids[0] if self.status == MatchStatus.MATCHED else None


def match_attendee(attendee: Attendee, index: ContactIndex) -> AttendeeMatch:
    """Matched when phone and e-mail lead to exactly one contact; ambiguous when to several; else unmatched."""
    if attendee.problems and attendee.phone is None and attendee.email is None:
        return AttendeeMatch(attendee, MatchStatus.UNMATCHED)
    if attendee.event_date is None or not attendee.event:
        return AttendeeMatch(attendee, MatchStatus.UNMATCHED)
    candidates: set[int] = set()
    if attendee.phone:
        candidates.update(index.by_phone.get(attendee.phone, ()))
    if attendee.email:
        candidates.update(index.by_email.get(attendee.email, ()))
    if not candidates:
        return AttendeeMatch(attendee, MatchStatus.UNMATCHED)
    status = MatchStatus.MATCHED if len(candidates) == 1 else MatchStatus.AMBIGUOUS
    return AttendeeMatch(attendee, status, tuple(sorted(candidates)))


def match_attendees(attendees: Sequence[Attendee], index: ContactIndex) -> list[AttendeeMatch]:
    return [match_attendee(attendee, index) for attendee in attendees]


def event_tag(event: str) -> str:
    return f"event:{event.strip()}"


def is_open(lead: Mapping[str, Any]) -> bool:
    return lead.get("status_id") not in (WON_STATUS_ID, LOST_STATUS_ID) and not lead.get("is_deleted")


@dataclass(frozen=True, slots=True)
class EventPlan:
    """What to write to amoCRM: tags on open leads and a note per tagged lead and event."""

    lead_updates: tuple[dict[str, Any], ...]
    notes: tuple[dict[str, Any], ...]
    tagged_lead_ids: tuple[int, ...] = field(default=())


def plan_event_updates(
    matches: Sequence[AttendeeMatch], index: ContactIndex, open_lead_ids: Iterable[int], lang: Language = "ru"
) -> EventPlan:
    """Tag each matched contact's open leads `event:<name>` (tags added, never replaced) and note why."""
    open_ids = set(open_lead_ids)
    tags_by_lead: dict[int, list[str]] = {}
    notes: list[dict[str, Any]] = []
    for match in matches:
        contact_id = match.contact_id
        if contact_id is None or match.attendee.event_date is None:
            continue
        contact = index.contacts[contact_id]
        for lead_id in contact.lead_ids:
            if lead_id not in open_ids:
                continue
            tag = event_tag(match.attendee.event)
            tags = tags_by_lead.setdefault(lead_id, [])
            if tag in tags:
                continue
            tags.append(tag)
            text = NOTE_TEXT(
                lang,
                name=match.attendee.name or contact.name,
                event=match.attendee.event,
                date=match.attendee.event_date.strftime("%d.%m.%Y"),
            )
            notes.append({"entity_id": lead_id, "note_type": "common", "params": {"text": text}})
    updates = tuple(
        {"id": lead_id, "tags_to_add": [{"name": tag} for tag in tags]}
        for lead_id, tags in tags_by_lead.items()
    )
    return EventPlan(lead_updates=updates, notes=tuple(notes), tagged_lead_ids=tuple(tags_by_lead))


def unmatched_csv(matches: Sequence[AttendeeMatch], lang: Language = "ru") -> str:
    """The attendees not matched (or ambiguous), with why, for the event team to fix by hand."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["line", "name", "phone", "email", "event", "date", "status", "contacts", "problem"])
    for match in matches:
        if match.status == MatchStatus.MATCHED:
            continue
        attendee = match.attendee
        writer.writerow(
            [
                attendee.line,
                attendee.name,
                attendee.phone_raw,
                attendee.email_raw,
                attendee.event,
                attendee.event_date.isoformat() if attendee.event_date else "",
                match.status,
                " ".join(str(contact_id) for contact_id in match.contact_ids),
                attendee.problem_text(lang),
            ]
        )
    return out.getvalue()
