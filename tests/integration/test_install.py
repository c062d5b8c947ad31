"""Installing LeadPact into an amoCRM account (the sandbox) over real HTTP: OAuth, provisioning, tokens."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx
import pytest
from sqlmodel import select

from integration.db import session_scope
from integration.install import revocation_signature
from integration.provisioning import (
    LEAD_FIELDS,
    LEGACY_QUALIFIED_CODE,
    load_provisioned_fields,
    provision_account,
    webhook_destination,
)
from integration.settings import Settings
from integration.storage.accounts import Account, AccountStatus, AccountToken, save_field
from integration.storage.inbox import InboxItem
from integration.storage.install_health import (
    InstallHealth,
    ProvisioningState,
    WebhookState,
    schedule_provisioning,
)
from integration.storage.leads import LeadSnapshot
from tests.live import CLIENT_ID, CLIENT_SECRET, Live, live_installation, own_services

# Every sandbox API call answers after this long: provisioning inline (six calls and more) could not answer
# amoCRM's hook within a second, while exchanging the code and reading the account can.
SLOW_API_MS = 300


@pytest.fixture
def live(settings: Settings) -> Any:
    with live_installation(settings) as installation:
        yield installation


def _account(live: Live, account_id: int) -> Account:
    with session_scope(live.services.engine) as session:
        account = session.get(Account, account_id)
        assert account is not None
        return account


def _token_version(live: Live, account_id: int) -> int:
    with session_scope(live.services.engine) as session:
        row = session.get(AccountToken, account_id)
        assert row is not None
        return row.version


class TestOAuthInstall:
    def test_install_creates_account_fields_and_webhook(self, live: Live) -> None:
        """After the consent screen the account is stored, our fields exist in amoCRM and the webhook points at us."""
        account_id = live.create_account("acme")
        page = live.install("acme")
        assert page.status_code == 200
        assert "acme" in page.text

        account = _account(live, account_id)
        assert account.status == AccountStatus.ACTIVE
        state = live.state(account_id)
        codes = {f.get("code") for f in state["fields"]["leads"]}
        assert {spec.code for spec in LEAD_FIELDS} <= codes
        destinations = [hook["destination"] for hook in state["webhooks"]]
        assert destinations == [webhook_destination(live.public_url, account.webhook_key)]

    def test_tokens_are_encrypted_at_rest(self, live: Live) -> None:
        """The database holds no usable token: a leaked backup does not leak access to the CRM."""
        account_id = live.create_account("acme")
        live.install("acme")
        with session_scope(live.services.engine) as session:
            row = session.get(AccountToken, account_id)
            assert row is not None
            pair = live.services.token_store.load_sync(account_id)
            assert pair is not None
            assert pair.access_token.get_secret_value() not in row.access_token_enc
            assert pair.refresh_token is not None
            assert pair.refresh_token.get_secret_value() not in (row.refresh_token_enc or "")

    def test_forged_state_is_refused_and_nothing_stored(self, live: Live) -> None:
        """A callback with a state we never issued gets a clear 400 and stores no account."""
        live.create_account("acme")
        response = httpx.get(
            f"{live.public_url}/oauth/callback",
            params={"code": "x", "referer": "acme.amocrm.ru", "state": "1.2.forged"},
        )
        assert response.status_code == 400
        assert "state" in response.text
        with session_scope(live.services.engine) as session:
            assert session.exec(select(Account)).all() == []

    def test_wrong_code_is_refused_clearly(self, live: Live) -> None:
        """An invalid or expired authorization code ends in a readable error page, not a crash."""
        live.create_account("acme")
        with httpx.Client() as browser:
            start = browser.get(f"{live.public_url}/oauth/start")
            state = httpx.URL(start.headers["location"]).params["state"]
            response = browser.get(
                f"{live.public_url}/oauth/callback",
                params={"code": "not-a-code", "referer": "acme.amocrm.ru", "state": state},
            )
        assert response.status_code == 400
        assert "amoCRM" in response.text


def _health(live: Live, account_id: int) -> InstallHealth:
    with session_scope(live.services.engine) as session:
        row = session.get(InstallHealth, account_id)
        assert row is not None
        return row


def _our_field_codes(live: Live, account_id: int) -> set[str]:
    return {str(f.get("code")) for f in live.state(account_id)["fields"]["leads"] if f.get("code")} & {
        spec.code for spec in LEAD_FIELDS
    }


def _assert_provisioned(live: Live, account_id: int) -> None:
    state = live.state(account_id)
    ours = [f for f in state["fields"]["leads"] if f.get("code") in {spec.code for spec in LEAD_FIELDS}]
    assert {f["code"] for f in ours} == {spec.code for spec in LEAD_FIELDS}
    assert all(f["is_api_only"] for f in ours)  # people cannot overwrite computed values by hand
    assert [hook["destination"] for hook in state["webhooks"]] == [
        webhook_destination(live.public_url, _account(live, account_id).webhook_key)
    ]
    assert [c["name"] for c in state["catalogs"]] == ["Акции LeadPact"]
    health = _health(live, account_id)
    assert health.provisioning_state == ProvisioningState.DONE and health.last_error_cause is None
    assert (health.fields_state, health.webhook_state) == ("ok", WebhookState.SUBSCRIBED)


class TestTwoStepInstall:
    def test_callback_stores_tokens_fast_and_leaves_provisioning_to_the_job(self, live: Live) -> None:
        """The OAuth callback answers within a second with tokens stored; fields, webhook and catalog appear
        once the provisioning job runs."""
        account_id = live.create_account("acme")
        live.sandbox("POST", "/_sandbox/faults", json={"latency_ms": SLOW_API_MS})
        started = time.perf_counter()
        page = live.install("acme", provision=False)
        elapsed = time.perf_counter() - started
        assert page.status_code == 200 and "acme" in page.text
        assert elapsed < 1.0
        assert live.services.token_store.load_sync(account_id) is not None
        assert _our_field_codes(live, account_id) == set()
        assert live.state(account_id)["webhooks"] == []
        assert _health(live, account_id).provisioning_state == ProvisioningState.PENDING

        live.sandbox("POST", "/_sandbox/faults", json={"latency_ms": 0})
        (outcome,) = live.provision()
        assert outcome.error is None
        _assert_provisioned(live, account_id)

    @pytest.mark.parametrize("shape", ["documented", "captured"])
    def test_widget_hook_in_either_shape_installs(self, live: Live, shape: str) -> None:
        """amoCRM's widget-install hook is accepted with `from_widget` and no client id (documented) and with our
        client id, `state=state` and no from_widget (seen on a real account); it answers within a second."""
        account_id = live.create_account("acme")
        live.sandbox("POST", "/_sandbox/faults", json={"latency_ms": SLOW_API_MS})
        hook = live.sandbox(
            "POST", "/_sandbox/widget-install", json={"account_id": account_id, "shape": shape}
        )
        assert hook["status"] == 200
        assert hook["elapsed_seconds"] < 1.0
        assert live.services.token_store.load_sync(account_id) is not None
        assert _our_field_codes(live, account_id) == set()

        live.sandbox("POST", "/_sandbox/faults", json={"latency_ms": 0})
        (outcome,) = live.provision()
        assert outcome.error is None
        _assert_provisioned(live, account_id)

    def test_a_realistic_hand_made_account_installs_the_same_way(self, live: Live) -> None:
        """On an account shaped like a real one (fields without codes, Russian names) the widget hook and one
        provisioning run end with LeadPact's API-only fields, the webhook and the catalog."""
        data = live.sandbox("POST", "/_sandbox/accounts", json={"subdomain": "real", "shape": "realistic"})
        account_id = int(data["id"])
        hook = live.sandbox("POST", "/_sandbox/widget-install", json={"account_id": account_id})
        assert hook["status"] == 200
        (outcome,) = live.provision()
        assert outcome.error is None
        _assert_provisioned(live, account_id)

    def test_hook_with_neither_widget_mark_nor_our_client_id_needs_a_state(self, live: Live) -> None:
        """A callback that is not the widget hook (no from_widget, someone else's client id) and has no state of
        ours is still refused, storing nothing."""
        live.create_account("acme")
        response = httpx.get(
            f"{live.public_url}/oauth/callback",
            params={
                "code": "x",
                "referer": "acme.amocrm.ru",
                "state": "state",
                "client_id": "not-" + CLIENT_ID,
            },
        )
        assert response.status_code == 400
        with session_scope(live.services.engine) as session:
            assert session.exec(select(Account)).all() == []


class TestQualifiedBecomesYesNo:
    def test_an_account_with_the_old_checkbox_switches_to_the_yes_no_select(self, live: Live) -> None:
        """An account installed when «Целевой» was a checkbox gets the Да/Нет select on its next provisioning:
        the old field is renamed as unused, nothing is written meanwhile, and its open leads are queued to
        get the new field written."""
        account_id = live.create_account("acme")
        live.install("acme")
        token = live.sandbox("POST", "/_sandbox/tokens/long-lived", json={"account_id": account_id})
        created = httpx.post(
            f"{live.sandbox_url}/api/v4/leads/custom_fields",
            json=[{"name": "Целевой (LeadPact)", "type": "checkbox", "code": LEGACY_QUALIFIED_CODE}],
            headers={"Authorization": f"Bearer {token['access_token']}"},
        )
        created.raise_for_status()
        legacy_id = int(created.json()["_embedded"]["custom_fields"][0]["id"])
        with session_scope(live.services.engine) as session:
            # What LeadPact stored before: «Целевой» is the checkbox, and one open lead was classified.
            save_field(session=session, account_id=account_id, key="qualified", amo_id=legacy_id, enums={})
            session.add(
                LeadSnapshot(account_id=account_id, lead_id=777, status_id=1, qualified=False, data={})
            )
            schedule_provisioning(session=session, account_id=account_id, now=time.time())
        with session_scope(live.services.engine) as session:
            assert load_provisioned_fields(session=session, account_id=account_id) is None

        (outcome,) = live.provision()
        assert outcome.error is None
        fields = {f["id"]: f for f in live.state(account_id)["fields"]["leads"]}
        assert fields[legacy_id]["name"] == "Целевой — старое поле, не используется (LeadPact)"
        new = next(f for f in fields.values() if f.get("code") == "LEADPACT_QUALIFIED_YN")
        assert new["type"] == "select" and [e["value"] for e in new["enums"]] == ["Да", "Нет"]
        with session_scope(live.services.engine) as session:
            provisioned = load_provisioned_fields(session=session, account_id=account_id)
            queued = session.exec(select(InboxItem).where(InboxItem.source == "provisioning")).all()
        assert provisioned is not None and provisioned.qualified == new["id"]
        assert set(provisioned.qualified_enums) == {"yes", "no"}
        assert [event["lead_id"] for item in queued for event in item.events] == [777]


class TestProvisioning:
    async def test_second_provisioning_changes_nothing(self, live: Live) -> None:
        """Running provisioning again makes no write call: fields and webhook are found by code and URL."""
        account_id = live.create_account("acme")
        live.install("acme")
        live.sandbox("POST", "/_sandbox/stats/reset")
        async with own_services(live) as services:
            api = services.connector.api_for(account_id)
            account = _account(live, account_id)
            result = await provision_account(
                api=api,
                engine=services.engine,
                account_id=account_id,
                webhook_url=webhook_destination(live.public_url, account.webhook_key),
                lang="ru",
            )
        assert result.created_fields == ()
        assert result.webhook_subscribed is False
        by_route = live.stats(account_id)["by_route"]
        writes = {route: n for route, n in by_route.items() if not route.startswith("GET")}
        assert writes == {}
        with session_scope(live.services.engine) as session:
            fields = load_provisioned_fields(session=session, account_id=account_id)
        assert fields is not None
        assert set(fields.level_enums) == {"hot", "warm", "cold", "unknown"}


class TestTokenRefresh:
    async def test_twenty_concurrent_calls_after_expiry_refresh_once(self, live: Live) -> None:
        """When the access token expires, 20 parallel requests cause exactly one refresh, and all succeed."""
        account_id = live.create_account("acme", leads=5)
        live.install("acme")
        before = live.services.token_store.load_sync(account_id)
        version_before = _token_version(live, account_id)
        live.sandbox("POST", "/_sandbox/tokens/expire", json={"account_id": account_id})
        async with own_services(live) as services:
            api = services.connector.api_for(account_id)
            infos = await asyncio.gather(*(api.get_account() for _ in range(20)))
        assert {info.id for info in infos} == {account_id}
        # Each refresh stores a new pair (version + 1): exactly one refresh happened.
        assert _token_version(live, account_id) == version_before + 1

        after = live.services.token_store.load_sync(account_id)
        assert before is not None and after is not None and before.refresh_token and after.refresh_token
        assert after.refresh_token.get_secret_value() != before.refresh_token.get_secret_value()
        # The old refresh token was rotated away: only the persisted one works now.
        reused = httpx.post(
            f"{live.sandbox_url}/oauth2/access_token",
            json={
                "client_id": live.settings.amocrm_client_id,
                "client_secret": CLIENT_SECRET,
                "grant_type": "refresh_token",
                "refresh_token": before.refresh_token.get_secret_value(),
                "redirect_uri": live.settings.amocrm_redirect_uri,
            },
        )
        assert reused.status_code in (400, 401)

    async def test_revoked_refresh_token_marks_account_for_reauth(self, live: Live) -> None:
        """A refresh token amoCRM no longer accepts flags the account `needs_reauth` (counted in /readyz)."""
        account_id = live.create_account("acme")
        live.install("acme")
        pair = live.services.token_store.load_sync(account_id)
        assert pair is not None and pair.refresh_token is not None
        # Someone else uses our refresh token (e.g. a restored old backup): ours stops working.
        stolen = httpx.post(
            f"{live.sandbox_url}/oauth2/access_token",
            json={
                "client_id": live.settings.amocrm_client_id,
                "client_secret": CLIENT_SECRET,
                "grant_type": "refresh_token",
                "refresh_token": pair.refresh_token.get_secret_value(),
                "redirect_uri": live.settings.amocrm_redirect_uri,
            },
        )
        assert stolen.status_code == 200
        live.sandbox("POST", "/_sandbox/tokens/expire", json={"account_id": account_id})
        async with own_services(live) as services:
            api = services.connector.api_for(account_id)
            with pytest.raises(Exception) as caught:
                await api.get_account()
            assert (
                "token" in type(caught.value).__name__.lower()
                or "auth" in type(caught.value).__name__.lower()
            )
        assert _account(live, account_id).status == AccountStatus.NEEDS_REAUTH
        ready = httpx.get(f"{live.public_url}/readyz")
        assert ready.json()["accounts_needing_reauth"] == 1


class TestAccountsIsolated:
    async def test_two_accounts_never_see_each_other(self, live: Live) -> None:
        """Two installed accounts have their own tokens, fields and webhook keys; API calls stay in their account."""
        alpha = live.create_account("alpha", leads=3)
        beta = live.create_account("beta", leads=4)
        assert live.install("alpha").status_code == 200
        assert live.install("beta").status_code == 200
        a, b = _account(live, alpha), _account(live, beta)
        assert a.webhook_key != b.webhook_key
        async with own_services(live) as services:
            alpha_leads = [lead.id async for lead in services.connector.api_for(alpha).iter_leads()]
            beta_leads = [lead.id async for lead in services.connector.api_for(beta).iter_leads()]
        assert len(alpha_leads) == 3 and len(beta_leads) == 4
        assert not set(alpha_leads) & set(beta_leads)
        with session_scope(live.services.engine) as session:
            fa = load_provisioned_fields(session=session, account_id=alpha)
            fb = load_provisioned_fields(session=session, account_id=beta)
        assert fa is not None and fb is not None and fa.account_id != fb.account_id


class TestUninstall:
    def test_access_revoked_hook_forgets_tokens(self, live: Live) -> None:
        """amoCRM's signed 'access revoked' hook deletes the account's tokens; a forged one is refused."""
        account_id = live.create_account("acme")
        live.install("acme")
        forged = httpx.get(
            f"{live.public_url}/oauth/revoked",
            params={"account_id": account_id, "client_uuid": "leadpact-test", "signature": "0" * 64},
        )
        assert forged.status_code == 403
        signature = revocation_signature(
            CLIENT_SECRET, account_id=str(account_id), client_uuid="leadpact-test"
        )
        ok = httpx.get(
            f"{live.public_url}/oauth/revoked",
            params={"account_id": account_id, "client_uuid": "leadpact-test", "signature": signature},
        )
        assert ok.status_code == 200
        assert _account(live, account_id).status == AccountStatus.REMOVED
        with session_scope(live.services.engine) as session:
            assert session.get(AccountToken, account_id) is None


class TestNoSecretsInLogs:
    async def test_full_install_and_refresh_log_no_secret(
        self, live: Live, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Client secret, access and refresh tokens never appear in any log line or object repr."""
        caplog.set_level(logging.DEBUG)
        account_id = live.create_account("acme")
        live.install("acme")
        first = live.services.token_store.load_sync(account_id)
        live.sandbox("POST", "/_sandbox/tokens/expire", json={"account_id": account_id})
        async with own_services(live) as services:
            await services.connector.api_for(account_id).get_account()
            reprs = [
                repr(services),
                repr(services.connector),
                repr(services.token_store),
                repr(services.settings),
            ]
            reprs.append(repr(services.oauth_app))
        second = live.services.token_store.load_sync(account_id)
        assert first is not None and second is not None
        secrets = {CLIENT_SECRET}
        for pair in (first, second):
            secrets.add(pair.access_token.get_secret_value())
            if pair.refresh_token:
                secrets.add(pair.refresh_token.get_secret_value())
        logged = "\n".join(record.getMessage() + repr(record.__dict__) for record in caplog.records)
        for secret in secrets:
            assert secret not in logged
            for text in reprs:
                assert secret not in text
