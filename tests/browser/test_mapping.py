"""The field mapping page in a real Chromium against an account shaped like a real one: the proposed fields
are preselected with their fill rates, a missing field is created in amoCRM from the page, the change is
previewed as a backtest and proposed for sign-off."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import func
from sqlmodel import col, select

from integration.db import session_scope
from integration.settings import Settings
from integration.storage.leads import LeadSnapshot
from tests.browser.test_admin import CHROMIUM, CHROMIUM_ARGS, _shot, _token
from tests.live import Live, live_installation
from tests.realistic_account import amo, field_value, realistic_account
from webhooks.worker import run_worker

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]


@pytest.fixture
def live(settings: Settings) -> Iterator[Live]:
    with live_installation(settings, background=(run_worker,)) as installation:
        yield installation


def _stored_leads(live: Live, account_id: int, count: int) -> None:
    """Wait until the worker has stored `count` leads of the account (what fill rates are computed over)."""
    live.sandbox("POST", "/_sandbox/webhooks/flush", params={"wait_seconds": 15})
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with session_scope(live.services.engine) as session:
            stored = session.exec(
                select(func.count()).where(col(LeadSnapshot.account_id) == account_id)
            ).one()
        if stored >= count:
            return
        time.sleep(0.2)
    raise AssertionError(f"the worker stored fewer than {count} leads")


class TestMappingInChromium:
    def test_confirm_mapping_create_missing_field_preview_and_propose(self, live: Live) -> None:
        """An admin sees «Бюджет клиента» proposed for the budget, creates the missing decision-date field,
        previews the backtest and proposes the mapping; the version page then waits for both sign-offs."""
        from playwright.sync_api import sync_playwright

        account_id, token, fields = realistic_account(live, without=("Дата принятия решения",))
        assert live.install("realco").status_code == 200
        budget_field, dm_field = fields["Бюджет клиента"], fields["ЛПР"]
        leads = [
            {
                "name": "ООО Ромашка",
                "custom_fields_values": [field_value(budget_field, 250000), field_value(dm_field, "Да")],
            },
            {"name": "ИП Сидоров", "custom_fields_values": [field_value(budget_field, 90000)]},
            {
                "name": "Заявка с сайта",
                "custom_fields_values": [field_value(fields["Потребность"], "CRM на 10 мест")],
            },
            {"name": "Звонок", "custom_fields_values": []},
        ]
        amo(live, token, "POST", "leads", leads)
        _stored_leads(live, account_id, len(leads))
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1200, "height": 900})
                page.goto(f"{live.public_url}/admin/login?lang=ru&token={_token(live, account_id, None)}")
                page.locator("#unmapped-warning").wait_for()

                page.goto(f"{live.public_url}/admin/mapping?lang=ru")
                budget = page.locator("#role_budget")
                assert budget.input_value() == str(fields["Бюджет клиента"]["id"])
                assert "Бюджет клиента (numeric) — заполнено в 50 % сделок" in budget.inner_text()
                assert page.locator("#role_decision_maker").input_value() == str(fields["ЛПР"]["id"])
                assert page.locator("tr[data-role=decision_date]").inner_text().count("нет подходящего") == 1

                page.click("#create_decision_date")
                page.locator("#message").wait_for()
                assert "создано в amoCRM" in page.locator("#message").inner_text()
                created = [
                    f
                    for f in live.state(account_id)["fields"]["leads"]
                    if f["name"] == "Дата принятия решения"
                ]
                assert len(created) == 1 and created[0]["type"] == "date"
                assert page.locator("#role_decision_date").input_value() == str(created[0]["id"])

                page.click("#preview-mapping")
                page.locator("#preview").wait_for()
                _shot(page, "admin-mapping.png", "admin-mapping.png")

                page.click("#propose-mapping")
                page.locator("#approvals").wait_for()
                assert "/admin/rules/versions/1" in page.url
                assert "Бюджет клиента" in page.locator("main").inner_text()
            finally:
                browser.close()
