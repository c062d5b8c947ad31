"""Posting the weekly report to amoCRM: a note with the report on LeadPact's "LeadPact weekly" contact, and a
"LeadPact weekly" task on it for the heads of marketing and sales (amoCRM notes belong to leads and contacts,
not to tasks, so the task points at the contact that holds the notes; a contact does not skew lead figures)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from datetime import time as day_time
from typing import Any

from integration.amocrm import AccountApi, NotFound, ValidationFailed
from integration.db import session_scope
from integration.i18n import Language, Text
from integration.storage import accounts as account_store
from integration.users import refresh_users
from sync.reports.figures import load_weekly_report, try_fetch_meeting_tasks
from sync.reports.render import render_markdown
from sync.stats.periods import Period

REPORT_CONTACT_KEY = "contact.weekly_report"
REPORT_CONTACT_NAME = "LeadPact weekly"
TASK_TEXT = Text(
    ru="LeadPact weekly {week}: встреча маркетинга и продаж — отчёт в примечании контакта «LeadPact weekly»",
    en="LeadPact weekly {week}: marketing & sales meeting — the report is a note on the “LeadPact weekly” contact",
)
# amoCRM cuts very long notes; the page at /reports/weekly always has the whole report.
MAX_NOTE_CHARS = 60_000


async def post_weekly_report(
    services: Any, account_id: int, week: Period, *, heads: Sequence[int] = (), now: int | None = None
) -> int:
    """Post the report of `week` to amoCRM; the id of the note holding it.

    `heads` are the amoCRM user ids of the heads of marketing and sales: each gets the meeting task (without
    them one task goes to the integration's user).
    """
    moment = int(time.time()) if now is None else now
    api: AccountApi = services.connector.api_for(account_id)
    await refresh_users(
        engine=services.engine,
        connector=services.connector,
        account_id=account_id,
        max_age=services.settings.users_refresh_seconds,
    )
    tasks = await try_fetch_meeting_tasks(services.connector, account_id)
    with session_scope(services.engine) as session:
        report = load_weekly_report(
            session=session,
            account_id=account_id,
            week=week,
            as_of=moment,
            tasks=tasks,
            won_basis=services.settings.stats_won_basis,
            untouched_after_seconds=services.settings.untouched_after_seconds,
        )
        account = account_store.get_account(session=session, account_id=account_id)
        lang: Language = "en" if account is not None and account.language == "en" else "ru"
        known = {
            row.key: row.amo_id for row in account_store.list_fields(session=session, account_id=account_id)
        }
    text = render_markdown(report, lang)[:MAX_NOTE_CHARS]
    contact_id = known.get(REPORT_CONTACT_KEY)
    note_id: int | None = None
    if contact_id is not None:
        try:
            note_id = await _add_note(api, contact_id, text)
        except (NotFound, ValidationFailed):
            contact_id = None  # someone deleted the contact in amoCRM: make a new one
    if contact_id is None or note_id is None:
        contact_id = await _create_contact(api)
        with session_scope(services.engine) as session:
            account_store.save_field(
                session=session, account_id=account_id, key=REPORT_CONTACT_KEY, amo_id=contact_id, enums={}
            )
        note_id = await _add_note(api, contact_id, text)
    due = int(datetime.combine(week.end, day_time(23, 59), tzinfo=UTC).timestamp()) + 86_400
    task = {
        "text": TASK_TEXT(lang, week=report.week_label),
        "entity_id": contact_id,
        "entity_type": "contacts",
        "task_type_id": 1,
        "complete_till": max(due, moment + 3_600),
    }
    await api.create_tasks([{**task, "responsible_user_id": head} for head in heads] or [task])
    return note_id


async def _create_contact(api: AccountApi) -> int:
    answer = await api.request("POST", "contacts", json=[{"name": REPORT_CONTACT_NAME}])
    return int(answer["_embedded"]["contacts"][0]["id"])


async def _add_note(api: AccountApi, contact_id: int, text: str) -> int:
    ids = await api.add_notes(
        "contacts", [{"entity_id": contact_id, "note_type": "common", "params": {"text": text}}]
    )
    return ids[0]
