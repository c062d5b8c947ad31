"""On /reports/weekly a hypothesis is recorded with an owner picked by name, measured, then closed into history."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.engine import Engine

from integration.db import session_scope
from integration.settings import Settings
from integration.storage import users as user_store
from tests.integration.admin.support import CSRF, admin_client, admin_settings, install_account, sign_in
from tests.integration.stats.conftest import ACCOUNT

WEEK = "2026-W45"


@pytest.fixture
def client(settings: Settings, engine: Engine) -> Iterator[httpx.Client]:
    configured = admin_settings(settings)
    install_account(configured, ACCOUNT, "acme", "https://acme.amocrm.ru")
    with session_scope(engine) as session:
        users = [{"id": 5, "name": "Анна Смирнова"}]
        user_store.replace_users(session=session, account_id=ACCOUNT, users=users, now=int(time.time()))
    with admin_client(configured) as client:
        sign_in(client, account_id=ACCOUNT)
        yield client


def test_a_hypothesis_is_recorded_shown_and_closed(client: httpx.Client) -> None:
    page = client.get("/reports/weekly", params={"week": WEEK, "lang": "en"})
    assert '<option value="5">Анна Смирнова</option>' in page.text
    match = CSRF.search(page.text)
    assert match is not None
    form = {"csrf_token": match.group(1), "week": WEEK, "owner": "5", "metric": "qualified_pct"}
    form |= {"direction": "up", "channel": "", "starts_on": "2026-11-01", "text": "Call within 5 minutes"}
    added = client.post("/reports/weekly/hypotheses?lang=en", data=form, follow_redirects=True)
    assert "The hypothesis was recorded." in added.text
    assert "Hypotheses under test" in added.text
    assert (
        "<td>Call within 5 minutes</td><td>Анна Смирнова</td><td>% qualified, should rise</td>" in added.text
    )
    assert "<td>all channels</td>" in added.text
    refused = client.post(
        "/reports/weekly/hypotheses?lang=en", data={**form, "owner": "99"}, follow_redirects=True
    )
    assert "Not recorded" in refused.text
    close = {"csrf_token": match.group(1), "week": WEEK, "id": "1", "note": "kept as the norm"}
    closed = client.post("/reports/weekly/hypotheses/close?lang=en", data=close, follow_redirects=True)
    assert "The hypothesis was closed." in closed.text
    assert "No open hypotheses" in closed.text
    assert "<td>kept as the norm</td>" in closed.text
