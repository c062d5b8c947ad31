"""The admin page and the weekly report in a real Chromium against the amoCRM sandbox: sign in with the token
amoCRM mints, fix a rule file the editor flagged at its line, preview, sign off, activate, watch a sandbox lead
get re-classified by the worker; then the weekly report's charts render."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from integration.db import session_scope
from integration.settings import Settings
from integration.storage.leads import LeadSnapshot
from rules import default_rules_text
from sync.reports.weeks import week_label, week_of
from sync.stats.backfill import backfill_account
from tests.integration.admin.support import admin_server
from tests.live import Live, live_installation, own_services
from webhooks.worker import run_worker

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts"
DOCS_SCREENSHOTS = REPO / "docs" / "screenshots"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]

# A misspelt field name: the editor must point at line 50, column 19.
BROKEN_RULES = default_rules_text().replace(
    "{field: utm_source, in: [tiktok]}", "{field: utm_sorce, in: [tiktok]}"
)
# Lower bar for "qualified": two criteria of four instead of three.
CANDIDATE_RULES = default_rules_text().replace("min_met: 3", "min_met: 2")


@pytest.fixture
def live(settings: Settings) -> Iterator[Live]:
    with live_installation(settings, background=(run_worker,)) as installation:
        yield installation


def _token(live: Live, account_id: int, user_id: int | None) -> str:
    body: dict[str, Any] = {"account_id": account_id, "is_admin": True}
    if user_id is not None:
        body["user_id"] = user_id
    return str(live.sandbox("POST", "/_sandbox/widget-token", json=body)["token"])


async def _backfill(live: Live, account_id: int) -> None:
    """What `leadpact backfill` does after an install: stage order, leads classified by v0, status history."""
    async with own_services(live) as services:
        api = services.connector.api_for(account_id)
        await backfill_account(api=api, engine=services.engine, account_id=account_id, since=None)


def _installed_weeks_ago(engine: Engine, account_id: int, weeks: int) -> None:
    from integration.storage.accounts import Account

    with session_scope(engine) as session:
        account = session.get(Account, account_id)
        assert account is not None
        account.created_at = datetime.now(UTC) - timedelta(weeks=weeks)
        session.add(account)


def _rule_versions(engine: Engine, account_id: int, lead_ids: list[int]) -> dict[int, int | None]:
    with session_scope(engine) as session:
        rows = session.exec(
            select(LeadSnapshot.lead_id, LeadSnapshot.rule_version).where(
                LeadSnapshot.account_id == account_id
            )
        ).all()
    return {int(lead_id): version for lead_id, version in rows if lead_id in lead_ids}


def _shot(page: Any, name: str, docs_name: str | None = None) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / name
    page.screenshot(path=str(target), full_page=True)
    # The README's pictures change only when asked, so a test run leaves the working tree clean.
    if docs_name is not None and os.environ.get("LEADPACT_UPDATE_DOCS_SCREENSHOT"):
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(target, DOCS_SCREENSHOTS / docs_name)


class TestAdminInChromium:
    def test_fix_a_rule_preview_sign_off_activate_and_see_the_report(self, live: Live) -> None:
        """An admin fixes a flagged rule, two departments sign off, a sandbox lead is re-classified, charts render."""
        from playwright.sync_api import sync_playwright

        account_id = live.create_account("acme", leads=20)
        assert live.install("acme").status_code == 200
        state = live.state(account_id)
        leads = [lead for lead in state["leads"] if lead.get("status_id") not in (142, 143)]
        assert leads, "the sandbox seeds open demo leads"
        asyncio.run(_backfill(live, account_id))
        # Installed before the seeded leads came in, so the report of their busiest week (whichever week that is
        # on the day the test runs) has weeks since install to show.
        _installed_weeks_ago(live.services.engine, account_id, 26)
        lead_ids = [lead["id"] for lead in leads]
        users = [user["id"] for user in state.get("users", [])]
        marketing_user = users[0] if users else None
        sales_user = users[1] if len(users) > 1 else None

        with admin_server(live.settings) as base_url, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1200, "height": 900})
                page.goto(f"{base_url}/admin/login?lang=en&token={_token(live, account_id, marketing_user)}")
                page.locator("#inbox-health").wait_for()

                # 1. A rule file with an error: the error is shown at its line, nothing is stored.
                page.goto(f"{base_url}/admin/rules?lang=en")
                page.fill("textarea[name=text]", BROKEN_RULES)
                page.click("#check")
                issue = page.locator('.issue[data-line="50"][data-column="19"]')
                issue.wait_for()
                assert "line 50, column 19" in issue.inner_text()
                assert page.locator("#L50.bad").inner_text().strip().startswith("when: {field: utm_sorce")
                assert page.locator("#propose").count() == 0
                _shot(page, "admin-rule-error.png")

                # 2. Fixed: valid, with a backtest preview, then proposed.
                page.fill("textarea[name=text]", CANDIDATE_RULES)
                page.click("#check")
                page.locator("#preview").wait_for()
                assert "Leads checked:" in page.locator("#preview").inner_text()
                _shot(page, "admin-rule-preview.png")
                page.click("#propose")
                page.locator("#approvals").wait_for()
                version_url = page.url

                # 3. Marketing signs off here; sales in another admin's browser; then activation.
                page.check("input[name=role][value=marketing]")
                page.click("#approve")
                page.locator("#message").wait_for()
                if sales_user is not None:
                    sales = browser.new_context().new_page()
                    sales.goto(f"{base_url}/admin/login?lang=en&token={_token(live, account_id, sales_user)}")
                    sales.goto(version_url)
                    sales.check("input[name=role][value=sales]")
                    sales.click("#approve")
                    sales.locator("#message").wait_for()
                else:
                    page.check("#emergency")
                page.click("#activate")
                message = page.locator("#message")
                message.wait_for()
                assert "is now running" in message.inner_text()
                assert f"re-classification: {len(lead_ids)}" in message.inner_text()
                _shot(page, "admin-rule-activated.png")

                # 4. The worker re-classifies the sandbox leads with the new version.
                deadline = time.monotonic() + 15
                versions = _rule_versions(live.services.engine, account_id, lead_ids)
                while time.monotonic() < deadline and set(versions.values()) != {1}:
                    time.sleep(0.2)
                    versions = _rule_versions(live.services.engine, account_id, lead_ids)
                assert set(versions.values()) == {1}, versions
                page.goto(f"{base_url}/admin?lang=en")
                assert "Running rules: v1" in page.locator("main").inner_text()
                _shot(page, "admin-overview.png", "admin.png")

                # 5. A plan for the busiest week, entered on the plans page, then that week's report.
                busiest = Counter(
                    week_of(datetime.fromtimestamp(lead["created_at"], UTC).date()) for lead in leads
                )
                report_week = busiest.most_common(1)[0][0]
                page.goto(f"{base_url}/admin/plans?lang=en")
                page.fill("input[name=period]", f"{report_week.start}..{report_week.end}")
                page.fill("input[name=leads]", str(busiest[report_week] + 2))
                page.fill("input[name=qualified]", str(busiest[report_week]))
                page.click("form[action^='/admin/plans/plan'] button")
                assert "Saved." in page.locator("#message").inner_text()
                busiest = Counter(
                    week_of(datetime.fromtimestamp(lead["created_at"], UTC).date()) for lead in leads
                )
                week = week_label(busiest.most_common(1)[0][0])
                page.goto(f"{base_url}/reports/weekly?lang=en&week={week}")
                charts = page.locator("svg.chart:not([data-chart='sparkline'])")
                charts.first.wait_for()
                assert charts.count() >= 3
                for index in range(charts.count()):
                    chart = charts.nth(index)
                    box = chart.bounding_box()
                    assert box is not None and box["width"] > 100 and box["height"] > 40
                    assert chart.locator("rect, polyline").count() > 0
                # Six weekly trends, then five results since install, each row with its own line.
                assert page.locator("#trends + table svg[data-chart='sparkline']").count() == 6
                assert page.locator("#results ~ table svg[data-chart='sparkline']").count() == 5
                sparklines = page.locator("svg[data-chart='sparkline']")
                for index in range(sparklines.count()):
                    box = sparklines.nth(index).bounding_box()
                    assert box is not None and box["width"] > 100 and box["height"] > 20
                assert page.locator("svg[data-chart='funnel']").count() >= 1
                assert page.locator("svg[data-chart='qualified']").count() == 1
                assert page.locator("svg[data-chart='run-rate-leads'] polyline.plan").count() == 1
                _shot(page, "weekly-report.png", "weekly-report.png")
            finally:
                browser.close()


class TestTwoPeopleSignOff:
    def test_one_user_cannot_sign_both_roles_and_another_user_signs_sales(self, live: Live) -> None:
        """In Chromium: marketing signs; the same amoCRM user choosing sales is refused with a message naming
        the first sign-off (in English and Russian); a different user then signs sales and both are listed."""
        from playwright.sync_api import sync_playwright

        account_id = live.create_account("acme", leads=5)
        assert live.install("acme").status_code == 200
        names = {user["id"]: user["name"] for user in live.state(account_id)["users"]}
        users = list(names)
        assert len(users) >= 2, "the sandbox account has several users"
        marketing_user, sales_user = users[0], users[1]

        with admin_server(live.settings) as base_url, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1200, "height": 900})
                page.goto(f"{base_url}/admin/login?lang=en&token={_token(live, account_id, marketing_user)}")
                page.goto(f"{base_url}/admin/rules?lang=en")
                page.fill("textarea[name=text]", CANDIDATE_RULES)
                page.click("#check")
                page.locator("#preview").wait_for()
                page.click("#propose")
                page.locator("#approvals").wait_for()
                version_url = page.url
                page.check("input[name=role][value=marketing]")
                page.click("#approve")
                page.locator("#message").wait_for()

                page.check("input[name=role][value=sales]")
                page.click("#approve")
                error = page.locator("#error")
                error.wait_for()
                assert (
                    f"{names[marketing_user]} already signed version 1 off for marketing"
                    in error.inner_text()
                )
                assert "must come from another person" in error.inner_text()
                _shot(page, "admin-same-person-refused.png")
                page.goto(version_url.replace("lang=en", "lang=ru"))
                page.check("input[name=role][value=sales]")
                page.click("#approve")
                page.locator("#error").wait_for()
                assert (
                    "уже согласовал(а) версию 1 за отдел «маркетинг»" in page.locator("#error").inner_text()
                )
                assert "(sales)" not in page.locator("#approvals").inner_text()

                sales = browser.new_context().new_page()
                sales.goto(f"{base_url}/admin/login?lang=en&token={_token(live, account_id, sales_user)}")
                sales.goto(version_url)
                sales.check("input[name=role][value=sales]")
                sales.click("#approve")
                sales.locator("#message").wait_for()
                approvals = sales.locator("#approvals").inner_text()
                assert f"{names[marketing_user]} (marketing)" in approvals
                assert f"{names[sales_user]} (sales)" in approvals
            finally:
                browser.close()

    def test_heads_picked_by_name_get_a_task_and_only_the_sales_head_signs_sales(self, live: Live) -> None:
        """In Chromium: the admin ticks the marketing and the sales head by name; a proposal sets each of them an
        amoCRM task linking to the version; another user is refused the sales sign-off; the sales head signs and
        the approvals show both heads by name."""
        from playwright.sync_api import sync_playwright

        account_id = live.create_account("acme", leads=5)
        assert live.install("acme").status_code == 200
        users = {user["id"]: user["name"] for user in live.state(account_id)["users"]}
        assert len(users) >= 3, "the sandbox account has several users"
        marketing_head, sales_head, someone_else = list(users)[:3]

        with admin_server(live.settings) as base_url, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1200, "height": 900})
                page.goto(f"{base_url}/admin/login?lang=en&token={_token(live, account_id, marketing_head)}")
                page.goto(f"{base_url}/admin/rules?lang=en")
                page.click("#signers-link")
                page.locator(f"input[name=marketing][data-name='{users[marketing_head]}']").check()
                page.locator(f"input[name=sales][data-name='{users[sales_head]}']").check()
                page.click("#save-signers")
                page.locator("#message").wait_for()

                page.goto(f"{base_url}/admin/rules?lang=en")
                page.fill("textarea[name=text]", CANDIDATE_RULES)
                page.click("#check")
                page.locator("#preview").wait_for()
                page.click("#propose")
                page.locator("#approvals").wait_for()
                version_url = page.url
                notified = page.locator("#message").inner_text()
                assert users[marketing_head] in notified and users[sales_head] in notified
                tasks = [t for t in live.state(account_id)["tasks"] if "/admin/rules/versions/1" in t["text"]]
                assert sorted(t["responsible_user_id"] for t in tasks) == sorted([marketing_head, sales_head])
                assert all(f"{live.settings.public_url}/admin/rules/versions/1" in t["text"] for t in tasks)
                page.check("input[name=role][value=marketing]")
                page.click("#approve")
                page.locator("#message").wait_for()

                other = browser.new_context().new_page()
                other.goto(f"{base_url}/admin/login?lang=en&token={_token(live, account_id, someone_else)}")
                other.goto(version_url)
                other.check("input[name=role][value=sales]")
                other.click("#approve")
                other.locator("#error").wait_for()
                assert (
                    f"Only these people sign off for sales: {users[sales_head]}"
                    in other.locator("#error").inner_text()
                )

                sales = browser.new_context().new_page()
                sales.goto(f"{base_url}/admin/login?lang=en&token={_token(live, account_id, sales_head)}")
                sales.goto(version_url)
                sales.check("input[name=role][value=sales]")
                sales.click("#approve")
                sales.locator("#message").wait_for()
                approvals = sales.locator("#approvals").inner_text()
                assert f"{users[marketing_head]} (marketing)" in approvals
                assert f"{users[sales_head]} (sales)" in approvals
                _shot(sales, "admin-two-heads-signed.png")
            finally:
                browser.close()


def _qualified_ids_in_sandbox(live: Live, account_id: int) -> set[int]:
    """The sandbox leads that carry LeadPact's «Целевой» = Да."""
    return {
        lead["id"]
        for lead in live.state(account_id)["leads"]
        for value in lead.get("custom_fields_values") or ()
        if value.get("field_code") == "LEADPACT_QUALIFIED_YN"
        and any(v.get("value") == "Да" for v in value.get("values") or ())
    }


def _qualified_in_sandbox(live: Live, account_id: int) -> int:
    """How many sandbox leads carry LeadPact's «Целевой» = Да."""
    return len(_qualified_ids_in_sandbox(live, account_id))


class TestFormEditor:
    def test_marketing_lowers_budget_min_in_the_form_sales_signs_and_the_sandbox_leads_change(
        self, live: Live
    ) -> None:
        """In Chromium: the marketing head lowers budget_min in the form, adds a source to VK and marks it
        experimental, sees the YAML diff, the backtest preview and the plain-words sentence, proposes; the sales head signs; activation re-qualifies the sandbox's leads."""
        from playwright.sync_api import sync_playwright

        account_id = live.create_account("acme", leads=40)
        # A person leaves one open lead at the budget margin: need and a decision in two months, no decision
        # maker, a budget of 50 000 — two criteria of three under budget_min 100 000, three under 20 000.
        marginal = next(
            lead["id"] for lead in live.state(account_id)["leads"] if lead["status_id"] not in (142, 143)
        )
        in_two_months = int(time.time()) + 60 * 86400
        live.sandbox(
            "PATCH",
            f"/_sandbox/accounts/{account_id}/leads",
            json=[
                {
                    "id": marginal,
                    "custom_fields_values": [
                        {"field_code": "BUDGET", "values": [{"value": 50000}]},
                        {"field_code": "NEED", "values": [{"value": "CRM для отдела продаж"}]},
                        {"field_code": "DECISION_DATE", "values": [{"value": in_two_months}]},
                        {"field_code": "DECISION_MAKER", "values": [{"value": False}]},
                    ],
                }
            ],
        )
        assert live.install("acme").status_code == 200
        asyncio.run(_backfill(live, account_id))
        users = sorted(user["id"] for user in live.state(account_id)["users"])
        marketing_head, sales_head = users[0], users[1]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _qualified_in_sandbox(live, account_id) == 0:
            time.sleep(0.3)
        qualified_before = _qualified_in_sandbox(live, account_id)

        with admin_server(live.settings) as base_url, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1200, "height": 900})
                page.goto(f"{base_url}/admin/login?lang=en&token={_token(live, account_id, marketing_head)}")
                page.goto(f"{base_url}/admin/rules?lang=en")
                page.click("#form-link")
                assert page.locator("#param_budget_min").input_value() == "100000"
                page.fill("#param_budget_min", "20000")
                # VK's ads also arrive tagged `dzen`, and marketing tries VK as an experimental channel.
                vk_sources = page.locator("input[name=list_vk_0]")
                assert vk_sources.input_value() == "vk, vkontakte, vk_ads"
                vk_sources.fill("vk, vkontakte, vk_ads, dzen")
                page.check("input[name=experimental_vk]")
                page.click("#form-preview")
                page.locator("#preview").wait_for()
                diff = page.locator("#form-diff").inner_text()
                assert "-  budget_min: 100000" in diff and "+  budget_min: 20000" in diff
                assert "+    when: {field: utm_source, in: [vk, vkontakte, vk_ads, dzen]}" in diff
                assert "+    experimental: true" in diff
                assert "Leads checked:" in page.locator("#preview").inner_text()
                # In plain words: lowering the budget threshold only adds qualified leads, so the bonus base
                # grows by exactly the number named as becoming qualified.
                plain = page.locator("#plain-preview").inner_text()
                became = re.search(r"Would become qualified: (\d+) \(#\d+", plain)
                base = re.search(r"moves from (\d+) to (\d+)", plain)
                assert became and base and "stop being qualified" not in plain, plain
                assert int(became.group(1)) >= 1
                assert int(base.group(2)) - int(base.group(1)) == int(became.group(1))
                _shot(page, "admin-form-preview.png", "admin-form.png")
                page.click("#propose")
                page.locator("#approvals").wait_for()
                version_url = page.url
                page.check("input[name=role][value=marketing]")
                page.click("#approve")
                page.locator("#message").wait_for()

                sales = browser.new_context().new_page()
                sales.goto(f"{base_url}/admin/login?lang=en&token={_token(live, account_id, sales_head)}")
                sales.goto(version_url)
                sales.check("input[name=role][value=sales]")
                sales.click("#approve")
                sales.locator("#message").wait_for()
                sales.click("#activate")
                sales.locator("#message").wait_for()
                assert "is now running" in sales.locator("#message").inner_text()
            finally:
                browser.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _qualified_in_sandbox(live, account_id) <= qualified_before:
            time.sleep(0.3)
        assert _qualified_in_sandbox(live, account_id) > qualified_before
        assert marginal in _qualified_ids_in_sandbox(live, account_id)
