"""The report and the admin pages against the amoCRM sandbox over real HTTP: sign-in with a token amoCRM minted,
meeting tasks created from the report page and read back next week, and the report posted as a note."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from integration.settings import Settings
from sync.reports.model import MEETING_TAG
from sync.reports.post import REPORT_CONTACT_NAME, post_weekly_report
from sync.reports.weeks import next_week, parse_week, week_label
from tests.integration.admin.support import admin_server
from tests.live import Live, live_installation, own_services

WEEK = parse_week("2026-W47")


@pytest.fixture
def live(settings: Settings) -> Iterator[Live]:
    with live_installation(settings) as installation:
        yield installation


@pytest.fixture
def account_id(live: Live) -> int:
    account_id = live.create_account("acme")
    assert live.install("acme").status_code == 200
    return account_id


def sandbox_token(live: Live, account_id: int, *, is_admin: bool) -> str:
    data: dict[str, Any] = live.sandbox(
        "POST", "/_sandbox/widget-token", json={"account_id": account_id, "is_admin": is_admin}
    )
    return str(data["token"])


class TestSignInWithAmoCrmToken:
    def test_an_admin_token_minted_by_amocrm_signs_in(self, live: Live, account_id: int) -> None:
        """The token amoCRM gives the widget for an account admin opens /admin; a manager's gets 403."""
        with admin_server(live.settings) as base_url, httpx.Client(base_url=base_url, timeout=30) as browser:
            refused = browser.get(
                "/admin/login", params={"token": sandbox_token(live, account_id, is_admin=False)}
            )
            assert refused.status_code == 403
            signed = browser.get(
                "/admin/login",
                params={"token": sandbox_token(live, account_id, is_admin=True)},
                follow_redirects=True,
            )
            assert signed.status_code == 200
            assert "Аккаунт acme, пользователь Администратор" in signed.text


class TestPeopleByName:
    def test_users_are_read_once_per_refresh_period_and_named_everywhere(
        self, live: Live, account_id: int
    ) -> None:
        """Signing in twice and opening the admin pages and the report reads amoCRM's user list once; the
        header names the account and the admin, and the task form offers the account's users by name."""
        live.sandbox("POST", f"/_sandbox/accounts/{account_id}/seed", json={"leads": 0})
        with (
            admin_server(live.settings) as base_url,
            httpx.Client(base_url=base_url, timeout=30, follow_redirects=True) as browser,
        ):
            for _ in range(2):
                token = sandbox_token(live, account_id, is_admin=True)
                signed = browser.get("/admin/login", params={"token": token, "lang": "en"})
                assert "Account acme, user Администратор" in signed.text
                assert f"{account_id}" not in signed.text.split("<main>")[0]
                browser.get("/admin", params={"lang": "en"})
            page = browser.get("/reports/weekly", params={"week": week_label(WEEK), "lang": "en"})
            history = browser.get("/admin/rules/history", params={"lang": "en"})
        assert history.status_code == 200
        picker = re.search(r'<select name="responsible" id="responsible">(.*?)</select>', page.text, re.S)
        assert picker is not None
        offered = re.findall(r'<option value="(\d+)">([^<]+)</option>', picker.group(1))
        names = {name for _, name in offered}
        assert {"Анна Смирнова", "Иван Петров", "Мария Козлова", "Дмитрий Волков", "Елена Новикова"} <= names
        reads = {
            route: count for route, count in live.stats(account_id)["by_route"].items() if "users" in route
        }
        assert sum(reads.values()) == 1, reads

    def test_a_task_is_given_to_a_user_picked_by_name(self, live: Live, account_id: int) -> None:
        """The picked user becomes the task's responsible user in amoCRM; an id not in the account is refused."""
        live.sandbox("POST", f"/_sandbox/accounts/{account_id}/seed", json={"leads": 0})
        with (
            admin_server(live.settings) as base_url,
            httpx.Client(base_url=base_url, timeout=30, follow_redirects=True) as browser,
        ):
            browser.get("/admin/login", params={"token": sandbox_token(live, account_id, is_admin=True)})
            page = browser.get("/reports/weekly", params={"week": week_label(WEEK), "lang": "en"})
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            anna = re.search(r'<option value="(\d+)">Анна Смирнова</option>', page.text)
            assert csrf is not None and anna is not None
            form = {"csrf_token": csrf.group(1), "week": week_label(WEEK), "text": "Call the lost deals"}
            created = browser.post(
                "/reports/weekly/tasks?lang=en", data={**form, "responsible": anna.group(1)}
            )
            assert "was created in amoCRM" in created.text
            refused = browser.post("/reports/weekly/tasks?lang=en", data={**form, "responsible": "99999999"})
            assert "No such user in the amoCRM account" in refused.text
        tasks = live.state(account_id)["tasks"]
        assert [task["responsible_user_id"] for task in tasks] == [int(anna.group(1))]


class TestMeetingTasks:
    def test_a_task_set_on_the_report_page_shows_in_next_weeks_report(
        self, live: Live, account_id: int
    ) -> None:
        """A task created from week 47's page lands in amoCRM tagged, is listed under week 47's next-week tasks,
        and week 48's report reads its status back: open before its deadline, overdue after it."""
        with (
            admin_server(live.settings) as base_url,
            httpx.Client(base_url=base_url, timeout=30, follow_redirects=True) as browser,
        ):
            browser.get("/admin/login", params={"token": sandbox_token(live, account_id, is_admin=True)})
            page = browser.get("/reports/weekly", params={"week": week_label(WEEK), "lang": "en"})
            assert "No tasks were set at the last meeting." in page.text
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert csrf is not None
            created = browser.post(
                "/reports/weekly/tasks?lang=en",
                data={"csrf_token": csrf.group(1), "week": week_label(WEEK), "text": "Review <vk> landing"},
            )
            assert "was created in amoCRM" in created.text
            tasks = live.state(account_id)["tasks"]
            assert [task["text"] for task in tasks] == [f"Review <vk> landing {MEETING_TAG}"]
            week_after = week_label(next_week(WEEK))
            # Due on Sunday 29 November at 18:00 UTC: open as of the 28th, overdue as of today.
            before_due = browser.get(
                "/reports/weekly", params={"week": week_after, "lang": "en", "as_of": "2026-11-28"}
            )
            assert "<td>Review &lt;vk&gt; landing</td>" in before_due.text
            assert '<td class="muted">open</td>' in before_due.text
            following = browser.get("/reports/weekly", params={"week": week_after, "lang": "en"})
            assert "<td>Review &lt;vk&gt; landing</td>" in following.text
            assert '<td class="bad">overdue</td>' in following.text
            this_week = browser.get("/reports/weekly", params={"week": week_label(WEEK), "lang": "en"})
            next_section = this_week.text.split('<section id="next-week-tasks">')[1]
            assert "<td>Review &lt;vk&gt; landing</td>" in next_section


class TestPostingToAmoCrm:
    async def test_the_report_is_posted_as_a_note_with_a_task_for_the_heads(
        self, live: Live, account_id: int
    ) -> None:
        """Posting puts the Markdown report on the "LeadPact weekly" contact and gives each head a task."""
        users = [user["id"] for user in live.state(account_id).get("users", [])][:2]
        async with own_services(live) as services:
            note_id = await post_weekly_report(services, account_id, WEEK, heads=users)
            again = await post_weekly_report(services, account_id, WEEK)
        state = live.state(account_id)
        contacts = [contact for contact in state["contacts"] if contact["name"] == REPORT_CONTACT_NAME]
        assert len(contacts) == 1  # the second post reuses the contact
        notes = {note["id"]: note for note in state["notes"]}
        assert {note_id, again} <= set(notes)
        text = notes[note_id]["params"]["text"]
        assert text.startswith("# Еженедельная встреча маркетинга и продаж — 2026-W47")
        assert notes[note_id]["entity_id"] == contacts[0]["id"]
        tasks = [task for task in state["tasks"] if "LeadPact weekly 2026-W47" in task["text"]]
        assert len(tasks) == max(len(users), 1) + 1
        assert all(task["entity_id"] == contacts[0]["id"] for task in tasks)
