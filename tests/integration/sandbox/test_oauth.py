"""OAuth against the sandbox: consent, code exchange, refresh rotation, expiry and long-lived tokens."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.integration.sandbox.conftest import Sandbox


class TestConsent:
    def test_consent_redirects_back_with_code_referer_and_state(self, sandbox: Sandbox) -> None:
        """Approving access sends the browser to the redirect URI with a code, the account host and our state."""
        sandbox.new_account("acme")
        query = sandbox.consent("acme", oauth_state="csrf-42")
        assert query["referer"] == "acme.amocrm.ru"
        assert query["state"] == "csrf-42"
        assert query["client_id"] == sandbox.state.config.client_id
        assert query["code"]

    def test_unknown_client_is_refused(self, sandbox: Sandbox) -> None:
        """A consent link with someone else's client_id is answered with 400, not a redirect."""
        answer = sandbox.control.get("/oauth", params={"client_id": "intruder", "state": "x"})
        assert answer.status_code == 400
        assert answer.headers["content-type"].startswith("application/problem+json")

    def test_consent_without_account_creates_the_demo_account(self, sandbox: Sandbox) -> None:
        """With no account named and none existing, consent lands in a freshly made demo account."""
        answer = sandbox.control.get("/oauth", params={"client_id": sandbox.state.config.client_id})
        assert answer.status_code == 302
        assert "referer=demo.amocrm.ru" in answer.headers["location"]


class TestTokens:
    def test_code_flow_returns_a_bearer_pair_that_works(self, sandbox: Sandbox) -> None:
        """Trading the code gives a Bearer token pair whose access token reads the account."""
        account_id = sandbox.new_account("acme")
        code = sandbox.consent("acme")["code"]
        pair = sandbox.token_request(grant_type="authorization_code", code=code).json()
        assert pair["token_type"] == "Bearer"
        assert pair["expires_in"] == sandbox.state.config.access_token_ttl
        headers = {"Authorization": f"Bearer {pair['access_token']}"}
        account = sandbox.control.get("/api/v4/account", headers=headers)
        assert account.json()["id"] == account_id

    def test_token_endpoint_also_takes_a_form(self, sandbox: Sandbox) -> None:
        """A form-encoded token request, as OAuth libraries send it, works like the JSON one."""
        sandbox.new_account("acme")
        code = sandbox.consent("acme")["code"]
        config = sandbox.state.config
        form = {
            "client_id": config.client_id,
            "client_secret": config.client_secret,
            "grant_type": "authorization_code",
            "code": code,
        }
        answer = sandbox.control.post("/oauth2/access_token", data=form)
        assert answer.status_code == 200
        assert answer.json()["token_type"] == "Bearer"

    def test_code_is_single_use(self, sandbox: Sandbox) -> None:
        """An authorization code cannot be traded twice."""
        sandbox.new_account("acme")
        code = sandbox.consent("acme")["code"]
        assert sandbox.token_request(grant_type="authorization_code", code=code).status_code == 200
        assert sandbox.token_request(grant_type="authorization_code", code=code).status_code == 400

    def test_expired_code_is_refused(self, start_sandbox: Callable[..., Sandbox]) -> None:
        """A code older than its lifetime is refused."""
        sandbox = start_sandbox(code_ttl=-1)
        sandbox.new_account("acme")
        code = sandbox.consent("acme")["code"]
        assert sandbox.token_request(grant_type="authorization_code", code=code).status_code == 400

    def test_refresh_rotates_and_the_old_refresh_token_stops_working(self, sandbox: Sandbox) -> None:
        """Refreshing returns a new pair; presenting the old refresh token again fails."""
        sandbox.new_account("acme")
        code = sandbox.consent("acme")["code"]
        first = sandbox.token_request(grant_type="authorization_code", code=code).json()
        second = sandbox.token_request(grant_type="refresh_token", refresh_token=first["refresh_token"])
        assert second.status_code == 200
        assert second.json()["refresh_token"] != first["refresh_token"]
        reused = sandbox.token_request(grant_type="refresh_token", refresh_token=first["refresh_token"])
        assert reused.status_code in (400, 401)
        assert reused.json()["status"] == reused.status_code
        third = sandbox.token_request(
            grant_type="refresh_token", refresh_token=second.json()["refresh_token"]
        )
        assert third.status_code == 200

    def test_wrong_client_secret_is_unauthorised(self, sandbox: Sandbox) -> None:
        """A token request with the wrong client secret gets 401 and no tokens."""
        sandbox.new_account("acme")
        code = sandbox.consent("acme")["code"]
        answer = sandbox.token_request(grant_type="authorization_code", code=code, client_secret="guess")
        assert answer.status_code == 401
        assert "access_token" not in answer.json()

    def test_expired_access_token_is_unauthorised_until_refreshed(self, sandbox: Sandbox) -> None:
        """After the control endpoint expires tokens, API calls get 401; a refreshed token works again."""
        account_id = sandbox.new_account("acme")
        code = sandbox.consent("acme")["code"]
        pair = sandbox.token_request(grant_type="authorization_code", code=code).json()
        headers = {"Authorization": f"Bearer {pair['access_token']}"}
        assert sandbox.control.get("/api/v4/account", headers=headers).status_code == 200
        sandbox.control.post("/_sandbox/tokens/expire", json={"account_id": account_id})
        assert sandbox.control.get("/api/v4/account", headers=headers).status_code == 401
        fresh = sandbox.token_request(grant_type="refresh_token", refresh_token=pair["refresh_token"]).json()
        retry = sandbox.control.get(
            "/api/v4/account", headers={"Authorization": f"Bearer {fresh['access_token']}"}
        )
        assert retry.status_code == 200

    def test_missing_or_forged_bearer_is_unauthorised(self, sandbox: Sandbox) -> None:
        """Requests without a token, or with a made-up one, get 401 problems."""
        sandbox.new_account("acme")
        assert sandbox.control.get("/api/v4/leads").status_code == 401
        forged = sandbox.control.get("/api/v4/leads", headers={"Authorization": "Bearer eyJhbGciOi.fake.sig"})
        assert forged.status_code == 401

    def test_long_lived_token_reads_its_account(self, sandbox: Sandbox) -> None:
        """A long-lived token minted for an account works as a Bearer token without any OAuth flow."""
        account_id = sandbox.new_account("acme")
        minted = sandbox.control.post(
            "/_sandbox/tokens/long-lived", json={"account_id": account_id, "ttl": 3600}
        )
        token = minted.json()["access_token"]
        with httpx.Client(base_url=sandbox.base_url, headers={"Authorization": f"Bearer {token}"}) as api:
            assert api.get("/api/v4/account").json()["subdomain"] == "acme"
