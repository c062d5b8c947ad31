"""An account shaped like a real one (human lead fields, no codes, Russian names) over real HTTP: install
proposes the field mapping, an admin confirms it on /admin, and leads are classified from their real fields."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from integration.db import session_scope
from integration.settings import Settings
from integration.storage import field_mapping as mapping_store
from integration.storage.install_health import RulesState, get_health
from integration.storage.leads import LeadSnapshot
from tests.live import Live, live_installation, own_services
from tests.realistic_account import create_leads, realistic_account
from webhooks.worker import process_once

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SELECTED = re.compile(r'<select name="(role_\w+)"[^>]*>(.*?)</select>', re.S)
OPTION = re.compile(r'<option value="(\d*)"( selected)?>')


@pytest.fixture
def live(settings: Settings) -> Iterator[Live]:
    with live_installation(settings) as installation:
        yield installation


async def _drain(live: Live) -> None:
    live.sandbox("POST", "/_sandbox/webhooks/flush", params={"wait_seconds": 15})
    async with own_services(live) as services:
        for _ in range(200):
            if await process_once(services) == 0:
                return
    raise AssertionError("inbox did not drain")


def _classified(live: Live, account_id: int, ids: dict[str, int]) -> dict[str, LeadSnapshot]:
    with session_scope(live.services.engine) as session:
        rows = {name: session.get(LeadSnapshot, (account_id, lead_id)) for name, lead_id in ids.items()}
        for row in rows.values():
            assert row is not None and row.level is not None
            session.expunge(row)
    return {name: row for name, row in rows.items() if row is not None}


def _rules_health(live: Live, account_id: int) -> tuple[str, list[str]]:
    with session_scope(live.services.engine) as session:
        health = get_health(session=session, account_id=account_id)
        assert health is not None
        return health.rules_state, sorted(health.rules_missing_roles)


@contextmanager
def _admin(live: Live, account_id: int, user_id: int) -> Iterator[httpx.Client]:
    """A browser signed in to /admin with the token amoCRM gives an account admin's widget."""
    token = live.sandbox(
        "POST",
        "/_sandbox/widget-token",
        json={"account_id": account_id, "is_admin": True, "user_id": user_id},
    )["token"]
    with httpx.Client(base_url=live.public_url, timeout=30, follow_redirects=True) as client:
        assert client.get("/admin/login", params={"token": token}).status_code == 200
        yield client


def _form_of(page: str) -> dict[str, str]:
    """What the browser would post from the mapping page as shown: each select's selected option."""
    form = {}
    for name, options in SELECTED.findall(page):
        chosen = [value for value, selected in OPTION.findall(options) if selected]
        form[name] = chosen[0] if chosen else ""
    match = CSRF.search(page)
    assert match is not None
    form["csrf_token"] = match.group(1)
    return form


def _sign_off_and_activate(client: httpx.Client, second: httpx.Client, version_url: str) -> httpx.Response:
    for browser, role in ((client, "marketing"), (second, "sales")):
        page = browser.get(version_url)
        csrf = CSRF.search(page.text)
        assert csrf is not None
        answer = browser.post(f"{version_url}/approve", data={"csrf_token": csrf.group(1), "role": role})
        assert answer.status_code == 200, answer.text
    csrf = CSRF.search(client.get(version_url).text)
    assert csrf is not None
    return client.post(f"{version_url}/activate", data={"csrf_token": csrf.group(1)})


class TestRealisticAccount:
    async def test_mapping_is_proposed_confirmed_on_admin_and_leads_classified_from_real_fields(
        self, live: Live
    ) -> None:
        """Install proposes «Бюджет клиента», «ЛПР», … for the roles; until confirmed the explanation says «не
        сопоставлено» (never «пустое»); once an admin confirms on /admin and both departments sign off, the
        lead with budget, ЛПР and date is hot and qualified, and the partial ones are warm/cold, not qualified."""
        account_id, token, fields = realistic_account(live)
        assert live.install("realco").status_code == 200

        with session_scope(live.services.engine) as session:
            proposal = mapping_store.get_proposal(session=session, account_id=account_id)
            assert proposal is not None
            proposed = {role: f.id for role, f in mapping_store.proposed_mapping(proposal).items()}
        assert proposed["budget"] == fields["Бюджет клиента"]["id"]
        assert proposed["decision_maker"] == fields["ЛПР"]["id"]
        assert proposed["need"] == fields["Потребность"]["id"]
        assert proposed["decision_date"] == fields["Дата принятия решения"]["id"]
        assert proposed["product"] == fields["Продукт"]["id"]
        assert _rules_health(live, account_id) == (
            RulesState.FIELDS_MISSING,
            ["budget", "decision_date", "decision_maker", "need", "product"],
        )

        ids = create_leads(live, token, fields)
        await _drain(live)
        before = _classified(live, account_id, ids)
        assert before["full"].level == "cold" and not before["full"].qualified
        assert "поле не сопоставлено" in (before["full"].reason or "")
        assert "пустое" not in (before["full"].reason or "")

        with _admin(live, account_id, 9001) as client, _admin(live, account_id, 9002) as second:
            overview = client.get("/admin", params={"lang": "ru"})
            assert 'id="unmapped-warning"' in overview.text and "бюджет" in overview.text
            page = client.get("/admin/mapping", params={"lang": "ru"})
            assert page.status_code == 200
            assert "Бюджет клиента (numeric) — заполнено в" in page.text
            form = _form_of(page.text)
            assert form["role_budget"] == str(fields["Бюджет клиента"]["id"])
            assert form["role_decision_maker"] == str(fields["ЛПР"]["id"])
            draft = client.post("/admin/mapping?lang=ru", data=form)
            assert draft.status_code == 200 and "/admin/rules/versions/" in str(draft.url)
            assert "Бюджет клиента" in draft.text  # the mapping shows in the version's diff
            activated = _sign_off_and_activate(client, second, draft.url.path)
            assert activated.status_code == 200, activated.text
            assert 'id="unmapped-warning"' not in client.get("/admin", params={"lang": "ru"}).text

        assert _rules_health(live, account_id) == (RulesState.MAPPED, [])
        await _drain(live)
        after = _classified(live, account_id, ids)
        assert (after["full"].level, after["full"].qualified) == ("hot", True)
        assert (after["partial"].level, after["partial"].qualified) == ("warm", False)
        assert (after["not_dm"].level, after["not_dm"].qualified) == ("cold", False)
        assert "бюджет 300 000" in (after["full"].reason or "")
        assert "ЛПР = нет" in (after["not_dm"].reason or "")


class TestSandboxRealisticShape:
    def test_install_on_the_realistic_shape_proposes_its_human_fields(self, live: Live) -> None:
        """On the sandbox's seeded realistic account the proposal picks «Бюджет клиента», «ЛПР», «Потребность»,
        «Дата принятия решения», «Продукт» and the UTM fields, and never the distracting «Тип клиента»."""
        created = live.sandbox(
            "POST", "/_sandbox/accounts", json={"subdomain": "severny", "shape": "realistic", "leads": 5}
        )
        account_id = int(created["id"])
        assert live.install("severny").status_code == 200
        names = {f["id"]: f["name"] for f in live.state(account_id)["fields"]["leads"]}
        with session_scope(live.services.engine) as session:
            proposal = mapping_store.get_proposal(session=session, account_id=account_id)
            assert proposal is not None
            proposed = {role: names[f.id] for role, f in mapping_store.proposed_mapping(proposal).items()}
        assert proposed == {
            "budget": "Бюджет клиента",
            "decision_maker": "ЛПР",
            "need": "Потребность",
            "decision_date": "Дата принятия решения",
            "product": "Продукт",
            "utm_source": "utm_source",
            "utm_medium": "utm_medium",
            "utm_campaign": "utm_campaign",
            "referrer": "referrer",
        }
