"""Speed to lead (#14): per manager, the median time from a lead's creation to a person's first action (a note,
call, task or stage move), and the open leads nobody has touched for longer than the threshold — on a
hand-built history, in the report in both languages, and read from the sandbox's events and tasks lists."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from integration.amocrm import AmoClient
from integration.db import session_scope
from integration.storage import touches as touch_store
from integration.storage.leads import LeadSnapshot
from sync.reports.model import ReportNames
from sync.reports.render import render_html, render_markdown
from sync.stats.backfill import backfill_account
from sync.stats.periods import Period
from sync.stats.speed import speed_to_lead
from sync.stats.touches import (
    delay_histograms,
    pull_first_touches,
    touch_rows_from_events,
    waiting_lead_timings,
)
from tests.integration.amocrm.sandbox import installed_api
from tests.unit.reports.sample import sample_report

ACCOUNT = 78
WEEK = Period(date(2026, 11, 16), date(2026, 11, 22))  # 2026-W47
ANNA, BORIS, CLARA = 11, 12, 13
HOUR, MINUTE = 3600, 60


def at(day: int, hour: int = 10, minute: int = 0) -> int:
    return int(datetime(2026, 11, day, hour, minute, tzinfo=UTC).timestamp())


AS_OF = at(22, 12)
# lead id: (responsible, created, first action or None, closed or None)
LEADS = {
    1: (ANNA, at(16, 10), at(16, 10, 20), None),  # 20 min
    2: (ANNA, at(17, 9), at(17, 10), None),  # 60 min
    3: (ANNA, at(18, 9), at(18, 12), None),  # 180 min → Anna's median 60 min
    4: (BORIS, at(16, 9), at(17, 9), None),  # 24 h
    5: (BORIS, at(19, 9), at(23, 9), None),  # touched only after the report's moment: untouched as of then
    6: (CLARA, at(22, 11), None, None),  # an hour old: under the 4 h threshold, not waiting yet
    7: (CLARA, at(21, 8), None, at(21, 9)),  # closed without a touch: not waiting
    8: (BORIS, at(12, 9), None, None),  # last week, still open, never touched: waiting 10 days
    9: (ANNA, at(1, 9), None, None),  # three weeks old: outside the 14-day window
}


@pytest.fixture
def history(engine: Engine) -> Engine:
    with session_scope(engine) as session:
        for lead_id, (responsible, created, _, closed) in LEADS.items():
            session.add(
                LeadSnapshot(
                    account_id=ACCOUNT,
                    lead_id=lead_id,
                    name=f"Lead {lead_id}",
                    responsible_user_id=responsible,
                    created_at=created,
                    updated_at=created,
                    closed_at=closed,
                )
            )
    rows = [
        {
            "account_id": ACCOUNT,
            "lead_id": lead_id,
            "touched_at": touched,
            "kind": "note",
            "user_id": responsible,
        }
        for lead_id, (responsible, _, touched, _) in LEADS.items()
        if touched is not None
    ]
    # A later action on lead 1 read afterwards does not replace its earlier first one; an earlier one on lead 3
    # arriving late (out of order) does.
    later = {**rows[0], "touched_at": at(16, 15), "kind": "task"}
    with session_scope(engine) as session:
        touch_store.record_first_touches(session=session, rows=rows)
    with session_scope(engine) as session:
        touch_store.record_first_touches(session=session, rows=[later])
    return engine


def compute(engine: Engine, threshold: int = 4 * HOUR):  # type: ignore[no-untyped-def]
    start, end = (at(16, 0), at(23, 0))
    with session_scope(engine) as session:
        return speed_to_lead(
            delay_histograms(session, account_id=ACCOUNT, created_from=start, created_until=end, as_of=AS_OF),
            waiting_lead_timings(session, account_id=ACCOUNT, as_of=AS_OF, threshold_seconds=threshold),
            as_of=AS_OF,
            threshold_seconds=threshold,
        )


def test_medians_per_manager_and_the_waiting_leads_by_hand(history: Engine) -> None:
    """Anna: 20, 60, 180 min → median 60 min over 3 of 3. Boris: lead 4 after 24 h; lead 5 was touched only
    after the report's moment, so 1 of 2 touched, median 24 h. Clara: nothing touched (median unknown, not 0).
    Waiting longer than 4 h at the report's moment: lead 8 (10 days 3 h) and lead 5 (3 days 3 h); lead 6 is
    an hour old, lead 7 closed, lead 9 is older than the 14-day window."""
    speed = compute(history)
    managers = {m.user_id: (m.leads, m.touched, m.median_seconds) for m in speed.managers}
    assert managers == {ANNA: (3, 3, 60 * MINUTE), BORIS: (2, 1, 24 * HOUR), CLARA: (2, 0, None)}
    assert [m.user_id for m in speed.managers] == [ANNA, BORIS, CLARA]
    assert [(w.lead_id, w.waiting_seconds) for w in speed.waiting] == [
        (8, AS_OF - at(12, 9)),
        (5, AS_OF - at(19, 9)),
    ]
    assert speed.waiting_total == 2
    # A 3-day threshold leaves only the lead that has waited 10 days.
    assert [w.lead_id for w in compute(history, threshold=4 * 86_400).waiting] == [8]


def test_the_first_action_kept_is_the_earliest_seen(history: Engine) -> None:
    with session_scope(history) as session:
        found = touch_store.first_touches(session=session, account_id=ACCOUNT, lead_ids=[1, 3])
        assert (found[1].touched_at, found[1].kind) == (at(16, 10, 20), "note")
        touch_store.record_first_touches(
            session=session,
            rows=[
                {
                    "account_id": ACCOUNT,
                    "lead_id": 3,
                    "touched_at": at(18, 9, 30),
                    "kind": "call",
                    "user_id": 11,
                }
            ],
        )
    with session_scope(history) as session:
        found = touch_store.first_touches(session=session, account_id=ACCOUNT, lead_ids=[3])
        assert (found[3].touched_at, found[3].kind) == (at(18, 9, 30), "call")


@pytest.mark.parametrize(
    ("lang", "heading", "anna", "clara", "waiting"),
    [
        ("en", "### Speed to lead", "| Anna | 1 h | 3 of 3 |", "| Clara | none touched yet | 0 of 2 |",
         "Open leads with no action for longer than 4 h: 2"),
        ("ru", "### Скорость реакции на новый лид", "| Anna | 1 ч | 3 из 3 |",
         "| Clara | пока никто не обработан | 0 из 2 |", "Открытые лиды без единого действия дольше 4 ч: 2"),
    ],
)  # fmt: skip
def test_the_report_names_managers_and_lists_the_waiting_leads(
    history: Engine, lang: str, heading: str, anna: str, clara: str, waiting: str
) -> None:
    report = sample_report(
        WEEK,
        account_id=ACCOUNT,
        names=ReportNames(people={ANNA: "Anna", BORIS: "Boris", CLARA: "Clara"}),
        speed=compute(history),
    )
    text = render_markdown(report, lang)  # type: ignore[arg-type]
    assert heading in text and anna in text and clara in text and waiting in text
    assert "| #8 Lead 8 | Boris |" in text
    assert ("| 10 d 3 h |" if lang == "en" else "| 10 дн 3 ч |") in text
    html = render_html(report, lang)  # type: ignore[arg-type]
    assert 'id="speed"' in html and "#8 Lead 8" in html and "Boris" in html


def test_only_peoples_actions_on_leads_count() -> None:
    """Robots (created_by 0), events of LeadPact's own integration, contacts' notes and other event types are
    not a person's first action."""
    events = [
        {"type": "common_note_added", "entity_type": "lead", "entity_id": 1, "created_by": 5, "created_at": 100},
        {"type": "outgoing_call", "entity_type": "lead", "entity_id": 2, "created_by": 5, "created_at": 100},
        {"type": "lead_status_changed", "entity_type": "lead", "entity_id": 3, "created_by": 0, "created_at": 100},
        {"type": "common_note_added", "entity_type": "contact", "entity_id": 4, "created_by": 5, "created_at": 1},
        {"type": "lead_added", "entity_type": "lead", "entity_id": 5, "created_by": 5, "created_at": 100},
        {"type": "common_note_added", "entity_type": "lead", "entity_id": 6, "created_by": 5, "created_at": 100,
         "oauth_client_uuid": "ours"},
    ]  # fmt: skip
    rows = touch_rows_from_events(ACCOUNT, events, own_client_id="ours")
    assert [(row["lead_id"], row["kind"]) for row in rows] == [(1, "note"), (2, "call")]


async def test_notes_tasks_and_stage_moves_are_read_from_the_sandbox(
    engine: Engine, client: AmoClient, sandbox_url: str
) -> None:
    """After a backfill (whose seeded stage moves count as first actions), a rep adds a note to one new lead
    and a task to another over the API; the next pull finds both, and a third new lead stays untouched. A
    second pull changes nothing."""
    api, _store, account_id = await installed_api(client, sandbox_url, "speed", leads=30)
    await backfill_account(api=api, engine=engine, account_id=account_id, since=None)
    noted, tasked, untouched = await api.create_leads(
        [{"name": "Noted"}, {"name": "Tasked"}, {"name": "Alone"}]
    )
    await api.add_notes(
        "leads", [{"entity_id": noted, "note_type": "common", "params": {"text": "called back"}}]
    )
    await api.create_tasks(
        [
            {
                "text": "Call",
                "entity_id": tasked,
                "entity_type": "leads",
                "complete_till": int(time.time()) + 3600,
            }
        ]
    )
    await pull_first_touches(api, engine, account_id, now=int(time.time()))
    with session_scope(engine) as session:
        found = touch_store.first_touches(
            session=session, account_id=account_id, lead_ids=[noted, tasked, untouched]
        )
        stored = session.exec(select(LeadSnapshot.lead_id).where(LeadSnapshot.account_id == account_id)).all()
        seeded = touch_store.first_touches(session=session, account_id=account_id, lead_ids=stored)
    assert found[noted].kind == "note" and found[tasked].kind == "task" and untouched not in found
    assert found[noted].user_id is not None and found[noted].user_id > 0
    assert any(touch.kind == "stage" for touch in seeded.values())
    again = await pull_first_touches(api, engine, account_id, now=int(time.time()))
    with session_scope(engine) as session:
        after = touch_store.first_touches(
            session=session, account_id=account_id, lead_ids=[*stored, noted, tasked, untouched]
        )
    # Re-reading the overlap changes nothing: each lead keeps the first action it had.
    assert again.events_api
    assert {k: (v.touched_at, v.kind) for k, v in after.items()} == {
        k: (v.touched_at, v.kind) for k, v in {**seeded, **found}.items()
    }
