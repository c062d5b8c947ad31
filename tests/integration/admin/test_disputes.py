"""A rep's dispute from the widget reaches the owner of the disputed criterion: an amoCRM task on the lead, a row
on /admin/disputes, and an answer that can open a draft of the rules at that criterion."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from integration.db import session_scope
from integration.settings import Settings
from integration.storage import promos as promo_store
from integration.storage import rulesets as ruleset_store
from integration.storage.leads import LeadSnapshot
from tests.live import Live, live_installation


@pytest.fixture
def live(settings: Settings) -> Iterator[Live]:
    with live_installation(settings) as installation:
        yield installation


def _widget_token(live: Live, account_id: int, user_id: int, *, admin: bool = False) -> str:
    body: dict[str, Any] = {"account_id": account_id, "user_id": user_id, "is_admin": admin}
    return str(live.sandbox("POST", "/_sandbox/widget-token", json=body)["token"])


def _csrf(page: str) -> str:
    marker = 'name="csrf_token" value="'
    return page.split(marker, 1)[1].split('"', 1)[0]


class TestDisputeReachesOwner:
    def test_dispute_becomes_a_task_for_the_marketing_head_and_a_row_with_two_answers(
        self, live: Live
    ) -> None:
        """A level dispute sets the marketing head a task on the lead; /admin/disputes lists the lead, the
        criterion and the rep's words; "needs a change" opens the rules at the levels section and closes it."""
        account_id = live.create_account("acme", leads=3)
        assert live.install("acme").status_code == 200
        state = live.state(account_id)
        users = [user["id"] for user in state["users"]]
        marketing_head, rep = users[0], users[1]
        lead_id = int(state["leads"][0]["id"])
        with session_scope(live.services.engine) as session:
            session.add(
                LeadSnapshot(
                    account_id=account_id, lead_id=lead_id, name="Сделка спора", channel="vk", level="hot"
                )
            )
            ruleset_store.set_signers(
                session=session, account_id=account_id, role="marketing", users={marketing_head: "Марина"}
            )
        answer = httpx.post(
            f"{live.public_url}/api/widget/leads/{lead_id}/disputes",
            json={"reason": "Клиент не решает до весны", "criterion": "level"},
            headers={"X-Auth-Token": _widget_token(live, account_id, rep)},
            params={"account_id": account_id},
        )
        assert answer.status_code == 201, answer.text
        tasks = [t for t in live.state(account_id)["tasks"] if "Клиент не решает до весны" in t["text"]]
        assert len(tasks) == 1
        assert tasks[0]["responsible_user_id"] == marketing_head
        assert tasks[0]["entity_id"] == lead_id and tasks[0]["entity_type"] == "leads"
        assert f"{live.public_url}/admin/disputes" in tasks[0]["text"] and "уровень" in tasks[0]["text"]

        with httpx.Client(base_url=live.public_url, follow_redirects=True, timeout=30) as browser:
            token = _widget_token(live, account_id, marketing_head, admin=True)
            browser.get("/admin/login", params={"token": token, "lang": "en"})
            page = browser.get("/admin/disputes", params={"lang": "en"})
            assert page.status_code == 200
            assert f"#{lead_id} Сделка спора" in page.text and "Клиент не решает до весны" in page.text
            assert '<td class="criterion">level</td>' in page.text
            with session_scope(live.services.engine) as session:
                (dispute,) = promo_store.open_disputes(session=session, account_id=account_id)
            assert dispute.criterion == "level" and dispute.task_id == tasks[0]["id"]
            changed = browser.post(
                f"/admin/disputes/{dispute.id}/answer",
                params={"lang": "en"},
                data={"answer": "rule_change", "csrf_token": _csrf(page.text)},
            )
            assert changed.status_code == 200 and "criterion=level" in str(changed.url)
            assert 'id="criterion-focus" data-criterion="level"' in changed.text
            assert "the “level” section" in changed.text
            assert "No open disputes." in browser.get("/admin/disputes", params={"lang": "en"}).text

    def test_amocrm_failing_keeps_the_dispute(self, live: Live) -> None:
        """When amoCRM refuses the task, the rep's dispute is still stored and listed (nothing is lost)."""
        account_id = live.create_account("acme", leads=1)
        assert live.install("acme").status_code == 200
        state = live.state(account_id)
        lead_id = int(state["leads"][0]["id"])
        with session_scope(live.services.engine) as session:
            session.add(LeadSnapshot(account_id=account_id, lead_id=lead_id, name="x", level="warm"))
        live.sandbox("POST", "/_sandbox/faults", json={"rate_5xx": 1.0})
        answer = httpx.post(
            f"{live.public_url}/api/widget/leads/{lead_id}/disputes",
            json={"reason": "не тёплый"},
            headers={"X-Auth-Token": _widget_token(live, account_id, state["users"][0]["id"])},
            params={"account_id": account_id},
            timeout=60,
        )
        live.sandbox("POST", "/_sandbox/faults", json={"rate_5xx": 0.0})
        assert answer.status_code == 201
        with session_scope(live.services.engine) as session:
            (dispute,) = promo_store.open_disputes(session=session, account_id=account_id)
        assert dispute.reason == "не тёплый" and dispute.task_id is None
