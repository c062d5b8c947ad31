"""The sandbox's seeded realistic account (fields people made: Russian names, no codes, «ЛПР» as a Да/Нет
select) installed over real HTTP by OAuth and by the widget hook in both shapes: once an admin confirms the
proposed mapping on /admin and both departments sign off, every seeded lead in amoCRM carries the level and
«Целевой» its own field values give under the default pack."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from dateutil.relativedelta import relativedelta

from integration.db import session_scope
from integration.provisioning import LEVEL_LABELS, QUALIFIED_LABELS
from integration.settings import Settings
from integration.storage import field_mapping as mapping_store
from tests.e2e.test_field_mapping import _admin, _drain, _form_of, _sign_off_and_activate
from tests.live import Live, live_installation, own_services
from webhooks.reconcile import reconcile_account

SEEDED_LEADS = 40
# rules/defaults/default.yaml: timezone, params.decision_horizon and params.budget_min.
MOSCOW = ZoneInfo("Europe/Moscow")
HORIZON = relativedelta(months=6)
BUDGET_MIN = 100_000
REPLY_TAGS = {"ответ получен", "reply received"}


@pytest.fixture
def live(settings: Settings) -> Iterator[Live]:
    # A new install reads back a year of leads, so every seeded lead (up to 60 days old) is read at install.
    with live_installation(settings, overrides={"reconcile_first_run_lookback_seconds": 365 * 86400}) as live:
        yield live


def _install(live: Live, how: str, account_id: int) -> None:
    if how == "oauth":
        assert live.install("realistic", provision=False).status_code == 200
    else:
        hook = live.sandbox("POST", "/_sandbox/widget-install", json={"account_id": account_id, "shape": how})
        assert hook["status"] == 200
    (outcome,) = live.provision()
    assert outcome.error is None


def _api_leads(live: Live, account_id: int) -> list[dict[str, Any]]:
    """Every lead of the account as amoCRM's API v4 returns it, read with the account's own API token."""
    token = live.sandbox("POST", "/_sandbox/tokens/long-lived", json={"account_id": account_id})[
        "access_token"
    ]
    leads: list[dict[str, Any]] = []
    with httpx.Client(base_url=live.sandbox_url, headers={"Authorization": f"Bearer {token}"}) as api:
        for page in range(1, 100):
            answer = api.get("/api/v4/leads", params={"page": page, "limit": 250})
            if answer.status_code == 429:
                time.sleep(1)
                answer = api.get("/api/v4/leads", params={"page": page, "limit": 250})
            if answer.status_code == 204:
                break
            answer.raise_for_status()
            leads.extend(answer.json()["_embedded"]["leads"])
            if "next" not in answer.json().get("_links", {}):
                break
    return leads


def _values_by_name(lead: dict[str, Any]) -> dict[str, Any]:
    return {
        value["field_name"]: value["values"][0].get("value")
        for value in lead.get("custom_fields_values") or []
        if value.get("values")
    }


def _within_horizon(unix_seconds: Any, today: date) -> bool:
    if not isinstance(unix_seconds, int):
        return False
    day = datetime.fromtimestamp(unix_seconds, MOSCOW).date()
    last_day: date = today + HORIZON
    return today <= day <= last_day


def expected_verdict(lead: dict[str, Any], today: date) -> tuple[str, bool]:
    """Level and qualified flag the default pack gives these field values, worked out here on its own."""
    values = _values_by_name(lead)
    tags = {tag["name"] for tag in lead.get("_embedded", {}).get("tags", [])}
    dated = _within_horizon(values.get("Дата принятия решения"), today)
    need = bool(values.get("Потребность"))
    if dated:
        level = "hot"
    elif need or values.get("Продукт") or tags & REPLY_TAGS:
        level = "warm"
    else:
        level = "cold"
    # amoCRM returns a numeric field's value as a string ("450000").
    budget = float(values["Бюджет клиента"]) if values.get("Бюджет клиента") is not None else None
    met = [budget is not None and budget >= BUDGET_MIN, values.get("ЛПР") == "Да", need, dated]
    return level, sum(met) >= 3


def _label_to_key(labels: dict[str, Any], label: str | None) -> str | None:
    return next((key for key, text in labels.items() if label in (text.ru, text.en)), None)


def written_verdict(lead: dict[str, Any]) -> tuple[str | None, bool | None]:
    """What LeadPact wrote on the lead: its «Уровень лида» and «Целевой» (Да/Нет) values."""
    by_code = {
        value.get("field_code"): value["values"][0].get("value")
        for value in lead.get("custom_fields_values") or []
        if value.get("values")
    }
    qualified = _label_to_key(dict(QUALIFIED_LABELS), by_code.get("LEADPACT_QUALIFIED_YN"))
    return (
        _label_to_key(dict(LEVEL_LABELS), by_code.get("LEADPACT_LEVEL")),
        None if qualified is None else qualified == "yes",
    )


@pytest.mark.parametrize("how", ["oauth", "documented", "captured"])
async def test_every_seeded_lead_is_classified_from_its_real_fields(live: Live, how: str) -> None:
    """After install (OAuth, or the widget hook in either shape), the admin's confirmation of the proposed mapping
    on /admin and both sign-offs, every seeded lead in amoCRM carries the level and «Целевой» its budget, ЛПР,
    need and decision date give; before confirmation the explanation says «не сопоставлено», never «пустое»."""
    created = live.sandbox(
        "POST",
        "/_sandbox/accounts",
        json={"subdomain": "realistic", "shape": "realistic", "leads": SEEDED_LEADS},
    )
    account_id = int(created["id"])
    _install(live, how, account_id)
    assert live.services.token_store.load_sync(account_id) is not None
    names = {f["id"]: f["name"] for f in live.state(account_id)["fields"]["leads"]}
    assert {"LEADPACT_LEVEL", "LEADPACT_QUALIFIED_YN"} <= {
        f.get("code") for f in live.state(account_id)["fields"]["leads"]
    }
    with session_scope(live.services.engine) as session:
        proposal = mapping_store.get_proposal(session=session, account_id=account_id)
        assert proposal is not None
        proposed = {role: names[f.id] for role, f in mapping_store.proposed_mapping(proposal).items()}
    assert proposed["budget"] == "Бюджет клиента" and proposed["decision_maker"] == "ЛПР"

    # The scheduler's first reconciliation reads the seeded leads; the worker classifies them unmapped.
    async with own_services(live) as services:
        result = await reconcile_account(services, account_id)
    assert result is not None and result.enqueued == SEEDED_LEADS
    await _drain(live)
    # The webhooks our own writes caused come back and change nothing: the account is quiet before the admin acts.
    await _drain(live)
    before = _api_leads(live, account_id)
    assert all(written_verdict(lead)[0] is not None for lead in before)
    reasons = [
        value["values"][0]["value"]
        for lead in before
        for value in lead.get("custom_fields_values") or []
        if value.get("field_code") == "LEADPACT_REASON"
    ]
    assert reasons and all("пустое" not in reason for reason in reasons)
    assert any("поле не сопоставлено" in reason for reason in reasons)

    with _admin(live, account_id, 9001) as client, _admin(live, account_id, 9002) as second:
        page = client.get("/admin/mapping", params={"lang": "ru"})
        draft = client.post("/admin/mapping?lang=ru", data=_form_of(page.text))
        assert draft.status_code == 200 and "/admin/rules/versions/" in str(draft.url)
        activated = _sign_off_and_activate(client, second, draft.url.path)
        assert activated.status_code == 200, activated.text
    await _drain(live)

    today = datetime.now(UTC).astimezone(MOSCOW).date()
    leads = _api_leads(live, account_id)
    assert len(leads) == SEEDED_LEADS
    expected = {lead["id"]: expected_verdict(lead, today) for lead in leads}
    written = {lead["id"]: written_verdict(lead) for lead in leads}
    assert written == expected
    # Won and lost leads too: their verdicts were made before any field was mapped, so they were no verdicts.
    assert any(lead["status_id"] in (142, 143) for lead in leads)
    # Budget ≥ 100 000, ЛПР = Да and a decision date within six months: hot and qualified (3 of 4 met at least).
    full = [
        lead["id"]
        for lead in leads
        if float(_values_by_name(lead).get("Бюджет клиента") or 0) >= BUDGET_MIN
        and _values_by_name(lead).get("ЛПР") == "Да"
        and _within_horizon(_values_by_name(lead).get("Дата принятия решения"), today)
    ]
    assert full and all(written[lead_id] == ("hot", True) for lead_id in full)
    assert {level for level, _ in written.values()} >= {"hot", "warm", "cold"}
    assert {qualified for _, qualified in written.values()} == {True, False}
