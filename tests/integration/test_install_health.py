"""Install health over real HTTP against the sandbox: provisioning retried after amoCRM errors with its cause
shown meanwhile, plans without the webhooks API installed in polling mode, and health on /admin, the CLI and
/readyz."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlmodel import select
from typer.testing import CliRunner

from integration.db import session_scope
from integration.install import provision_due_accounts
from integration.provisioning import ProvisioningContext, ProvisioningStep
from integration.settings import Settings
from integration.storage.install_health import InstallHealth, WebhookState, record_rules_mapping
from integration.storage.leads import LeadSnapshot
from leadpact.cli.accounts import app as accounts_cli
from leadpact.scheduler import JOBS, PROVISIONING_STEPS, poll_refused_accounts, run_jobs_once, run_polling
from tests.live import Live, live_installation, own_services
from webhooks.reconcile import run_reconciler
from webhooks.worker import run_worker

POLL_SECONDS = 2.0


@pytest.fixture
def live(settings: Settings) -> Iterator[Live]:
    with live_installation(settings) as installation:
        yield installation


@pytest.fixture
def impatient(settings: Settings) -> Iterator[Live]:
    """One retry per call: an attempt against a failing amoCRM gives up in about a second."""
    with live_installation(settings, overrides={"max_retries": 1}) as installation:
        yield installation


def health(live: Live, account_id: int) -> InstallHealth:
    with session_scope(live.services.engine) as session:
        row = session.get(InstallHealth, account_id)
        assert row is not None
        return row


def admin_overview(live: Live, account_id: int, lang: str) -> str:
    token = live.sandbox("POST", "/_sandbox/widget-token", json={"account_id": account_id, "is_admin": True})
    with httpx.Client(base_url=live.public_url, timeout=30) as browser:
        signed = browser.get("/admin/login", params={"token": token["token"]}, follow_redirects=True)
        assert signed.status_code == 200, signed.text
        page = browser.get("/admin", params={"lang": lang})
    assert page.status_code == 200
    return page.text


def cli(live: Live, *args: str, lang: str = "ru") -> Any:
    env = {
        "DATABASE_URL": live.settings.database_url,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "DATA_DIR": str(live.settings.data_dir),
        "LEADPACT_LANGUAGE": lang,
        "POLLING_INTERVAL_SECONDS": str(live.settings.polling_interval_seconds),
    }
    return CliRunner().invoke(accounts_cli, list(args), env=env)


class TestProvisioningRetried:
    def test_fields_call_failing_twice_is_retried_with_backoff_and_completes(self, impatient: Live) -> None:
        """amoCRM answering 5xx to the fields call fails two attempts, each shown with its cause on /admin and in
        `accounts status`; the job waits longer after each, and the third attempt provisions everything."""
        live = impatient
        account_id = live.create_account("acme")
        assert live.install("acme", provision=False).status_code == 200
        live.sandbox("POST", "/_sandbox/faults", json={"rate_5xx": 1.0})

        base = live.settings.provisioning_retry_base_seconds
        failed_at = time.time()
        (first,) = live.provision()
        assert first.failed_step == "fields"
        row = health(live, account_id)
        assert (row.provisioning_attempts, row.last_error_cause) == (1, "amocrm_unavailable")
        assert "custom_fields" in (row.last_error_detail or "")
        first_retry_at = row.provisioning_next_at
        assert first_retry_at == pytest.approx(failed_at + base, abs=5)

        page = admin_overview(live, account_id, "en")
        assert "amoCRM answers with a server error (5xx)" in page and "step “fields”" in page
        status = cli(live, "status", "acme.amocrm.ru")
        assert status.exit_code == 0, status.output
        assert "amoCRM отвечает ошибкой сервера (5xx)" in status.output and "шаг «поля»" in status.output

        assert live.provision() == []  # not due yet: the backoff holds

        (second,) = live.provision(now=first_retry_at + 1)
        assert second.failed_step == "fields"
        row = health(live, account_id)
        assert row.provisioning_attempts == 2
        assert row.provisioning_next_at == pytest.approx(first_retry_at + 1 + 2 * base)  # waits twice as long

        live.sandbox("POST", "/_sandbox/faults", json={"rate_5xx": 0.0})
        (third,) = live.provision(now=row.provisioning_next_at + 1)
        assert third.error is None
        row = health(live, account_id)
        assert (row.fields_state, row.webhook_state, row.last_error_cause) == (
            "ok",
            WebhookState.SUBSCRIBED,
            None,
        )
        assert "server error" not in admin_overview(live, account_id, "en")
        assert "Ошибок установки нет." in cli(live, "status", "acme").output

    async def test_two_replicas_provision_an_account_once(self, live: Live) -> None:
        """Two replicas ticking at the same moment: only one provisions the account (one fields POST)."""
        account_id = live.create_account("acme")
        live.install("acme", provision=False)
        live.sandbox("POST", "/_sandbox/stats/reset")
        async with own_services(live) as first, own_services(live) as second:
            results = await asyncio.gather(
                provision_due_accounts(first, PROVISIONING_STEPS),
                provision_due_accounts(second, PROVISIONING_STEPS),
            )
        assert sorted(len(r) for r in results) == [0, 1]
        assert live.stats(account_id)["by_route"].get("POST /api/v4/leads/custom_fields") == 1

    async def test_a_later_step_gets_the_fields_and_its_mapping_check_shows_in_health(
        self, live: Live
    ) -> None:
        """A step appended to provisioning (as the field mapping's is) runs after the fields, sees their ids, and
        what it records about unmapped roles shows on /admin."""
        account_id = live.create_account("acme")
        live.install("acme", provision=False)
        seen: list[int] = []

        async def propose_mapping(context: ProvisioningContext) -> None:
            seen.append(context.found["fields"].level)
            with session_scope(context.engine) as session:
                record_rules_mapping(
                    session=session, account_id=context.account_id, missing_roles=["budget"], now=time.time()
                )

        steps = (*PROVISIONING_STEPS, ProvisioningStep("mapping", propose_mapping))
        async with own_services(live) as services:
            (outcome,) = await provision_due_accounts(services, steps)
        assert outcome.error is None and len(seen) == 1 and seen[0] > 0
        assert "no field mapped for: Budget" in admin_overview(live, account_id, "en")
        assert "не сопоставлены поля для: Бюджет" in admin_overview(live, account_id, "ru")


class TestPollingMode:
    @pytest.fixture
    def polling(self, settings: Settings) -> Iterator[Live]:
        overrides = {
            "polling_interval_seconds": POLL_SECONDS,
            # The general reconciliation (the safety net for lost webhooks) runs once at start, then not again
            # during the test: the polling alone must bring the edits.
            "reconcile_interval_seconds": 3600,
            "worker_poll_seconds": 0.05,
            "reconcile_first_run_lookback_seconds": 3600,
            # The polling interval is under test, not the write-back window: a short window leaves the slack for
            # the read and the write themselves (with the 3 s default they alone could cross the bound).
            "writeback_latency_seconds": 0.5,
        }
        with live_installation(
            settings, background=(run_worker, run_reconciler, run_polling), overrides=overrides
        ) as live:
            yield live

    def test_plan_without_webhooks_installs_in_polling_mode_and_a_human_edit_is_classified(
        self, polling: Live
    ) -> None:
        """On a plan refusing the webhooks API the install completes without an error page; a lead a person
        creates, then edits, is classified (Нет, then Да) within the polling interval."""
        live = polling
        account_id = live.create_account("small", plan="base")
        page = live.install("small")
        assert page.status_code == 200 and "did not grant access" not in page.text
        row = health(live, account_id)
        assert (row.webhook_state, row.fields_state, row.last_error_cause) == (
            WebhookState.REFUSED,
            "ok",
            None,
        )
        assert live.state(account_id)["webhooks"] == []
        assert f"changes arrive within {int(POLL_SECONDS)} s" in admin_overview(live, account_id, "en")
        assert f"изменения приходят в течение {int(POLL_SECONDS)} с" in admin_overview(live, account_id, "ru")

        person = Person(live, account_id)
        lead_id = person.create_lead("Заявка с сайта")
        created = time.monotonic()
        assert wait_for(lambda: person.field(lead_id, "LEADPACT_QUALIFIED_YN") == "Нет")
        assert time.monotonic() - created < POLL_SECONDS + SLACK_SECONDS

        decision_date = int(time.time()) + 30 * 86400
        person.edit_lead(
            lead_id, BUDGET=500_000, DECISION_MAKER=True, NEED="CRM на 20 мест", DECISION_DATE=decision_date
        )
        edited = time.monotonic()
        assert wait_for(lambda: person.field(lead_id, "LEADPACT_QUALIFIED_YN") == "Да")
        assert time.monotonic() - edited < POLL_SECONDS + SLACK_SECONDS
        assert person.field(lead_id, "LEADPACT_LEVEL") == "Горячий"
        with session_scope(live.services.engine) as session:
            snapshot = session.exec(select(LeadSnapshot).where(LeadSnapshot.lead_id == lead_id)).one()
        assert (snapshot.level, snapshot.qualified) == ("hot", True)

    async def test_a_polling_round_with_nothing_changed_costs_one_call(self, settings: Settings) -> None:
        """By default accounts without webhooks are polled every 60 s (said so on /admin); a round that finds
        nothing new makes one call to amoCRM, and accounts with webhooks are not polled."""
        assert Settings.model_fields["polling_interval_seconds"].default == 60
        with live_installation(settings, overrides={"reconcile_first_run_lookback_seconds": 3600}) as live:
            small = live.create_account("small", plan="base")
            other = live.create_account("other")
            live.install("small")
            live.install("other")
            assert "changes arrive within 60 s" in admin_overview(live, small, "en")
            async with own_services(live) as services:
                assert await poll_refused_accounts(services) == 1  # the first round reads the watermark in
                live.sandbox("POST", "/_sandbox/stats/reset")
                assert await poll_refused_accounts(services) == 1
            assert live.stats(small)["requests_total"] == 1
            assert live.stats(other)["requests_total"] == 0


# What the worker needs after a round found the lead: claim, read the lead, classify, write back.
SLACK_SECONDS = 3.0


def wait_for(condition: Any, timeout: float = POLL_SECONDS + 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


class Person:
    """Someone working in the account: creates a lead (through the API, as a web form's integration would) and
    edits it in amoCRM's UI."""

    def __init__(self, live: Live, account_id: int) -> None:
        self.live = live
        self.account_id = account_id
        token = live.sandbox("POST", "/_sandbox/tokens/long-lived", json={"account_id": account_id})
        self.headers = {"Authorization": f"Bearer {token['access_token']}"}
        fields = live.state(account_id)["fields"]["leads"]
        self.field_ids = {str(f["code"]): int(f["id"]) for f in fields if f.get("code")}

    def create_lead(self, name: str) -> int:
        response = httpx.post(
            f"{self.live.sandbox_url}/api/v4/leads", json=[{"name": name}], headers=self.headers, timeout=30
        )
        response.raise_for_status()
        return int(response.json()["_embedded"]["leads"][0]["id"])

    def edit_lead(self, lead_id: int, **values: Any) -> None:
        """Sets the fields named by code, in one edit in amoCRM's UI (the sandbox's person edit)."""
        body = [
            {
                "id": lead_id,
                "custom_fields_values": [
                    {"field_id": self.field_ids[code], "values": [{"value": value}]}
                    for code, value in values.items()
                ],
            }
        ]
        self.live.sandbox("PATCH", f"/_sandbox/accounts/{self.account_id}/leads", json=body)

    def field(self, lead_id: int, code: str) -> Any:
        lead = next(lead for lead in self.live.state(self.account_id)["leads"] if lead["id"] == lead_id)
        for value in lead.get("custom_fields_values") or ():
            if value.get("field_code") == code or value.get("field_id") == self.field_ids.get(code):
                return value["values"][0].get("value")
        return None


class TestPlanUpgrade:
    async def test_the_daily_recheck_subscribes_once_the_plan_allows_webhooks(self, live: Live) -> None:
        """An account polling because of its plan gets its webhook after an upgrade, on the daily recheck; an
        account already subscribed costs that job no call."""
        small = live.create_account("small", plan="base")
        other = live.create_account("other")
        live.install("small")
        live.install("other")
        assert health(live, small).webhook_state == WebhookState.REFUSED
        live.sandbox("POST", f"/_sandbox/accounts/{small}/plan", json={"plan": "advanced"})
        live.sandbox("POST", "/_sandbox/stats/reset")
        recheck = tuple(job for job in JOBS if job.name == "webhook_plan_recheck")
        async with own_services(live) as services:
            assert await run_jobs_once(services, recheck) == 2
        assert health(live, small).webhook_state == WebhookState.SUBSCRIBED
        assert len(live.state(small)["webhooks"]) == 1
        assert live.stats(other)["requests_total"] == 0


class TestHealthEverywhere:
    def test_readyz_counts_states_and_names_no_account(self, live: Live) -> None:
        """/readyz reports how many accounts are provisioned, polling or failing, without any account's name."""
        live.create_account("alpha")
        live.create_account("beta", plan="base")
        live.install("alpha")
        live.install("beta")
        ready = httpx.get(f"{live.public_url}/readyz")
        assert ready.status_code == 200
        install = ready.json()["install"]
        assert install["accounts"] == 2 and install["fields_ok"] == 2
        assert (install["webhook_subscribed"], install["webhook_refused"]) == (1, 1)
        assert install["provisioning_pending"] == 0 and install["provisioning_failing"] == 0
        assert "alpha" not in ready.text and "beta" not in ready.text

    def test_accounts_list_and_status_show_health_in_both_languages(self, live: Live) -> None:
        """`leadpact accounts list` shows each account's fields, webhook and rule-field state; `accounts status`
        explains one account line by line, in Russian and English."""
        live.create_account("alpha")
        live.create_account("beta", plan="base")
        live.install("alpha")
        live.install("beta")
        listed = cli(live, "list", lang="en")
        assert listed.exit_code == 0, listed.output
        assert "subscribed" in listed.output and "webhooks unavailable on this plan" in listed.output
        status = cli(live, "status", "beta", lang="en")
        assert "changes arrive within" in status.output and "LeadPact fields" in status.output
        status_ru = cli(live, "status", "beta")
        assert "вебхуки недоступны на этом тарифе" in status_ru.output and "Поля LeadPact" in status_ru.output
        missing = cli(live, "status", "nobody.amocrm.ru")
        assert missing.exit_code == 1
