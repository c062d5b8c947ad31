"""OAuth: single-flight refresh, rotation saved before use, 401 handling, revoked tokens, hidden secrets."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
from pydantic import SecretStr

from integration.amocrm import (
    AmoClient,
    AmoTransportError,
    InMemoryTokenStore,
    LongLivedAuth,
    TokenBucket,
    TokenPair,
    TokenRefreshFailed,
    Unauthorized,
)
from tests.unit.amocrm.fakes import (
    ACCOUNT_ID,
    APP,
    BASE_URL,
    CLIENT_SECRET,
    FakeAmo,
    Handler,
    Harness,
    NoLimit,
    make_harness,
    pair,
)


def tokens_sent(server: FakeAmo) -> list[str]:
    return [token for kind, token in server.events if kind == "api"]


class TestSingleFlightRefresh:
    async def test_twenty_concurrent_calls_after_expiry_refresh_exactly_once(self, harness: Harness) -> None:
        """Twenty requests that all find the token expired cause one refresh, and all of them succeed."""
        harness.server.leads[1] = {"id": 1, "name": "Lead"}
        harness.clock.advance(7200)
        api = harness.api()

        leads = await asyncio.gather(*(api.get_lead(1) for _ in range(20)))

        assert [lead.id for lead in leads] == [1] * 20
        assert len(harness.server.refresh_requests()) == 1
        assert set(tokens_sent(harness.server)) == {"access-1"}

    async def test_token_about_to_expire_is_refreshed_before_use(self, harness: Harness) -> None:
        """A token with under a minute left is renewed before the request, so amoCRM never sees it expire."""
        harness.server.leads[1] = {"id": 1}
        harness.clock.advance(3600 - 30)

        await harness.api().get_lead(1)

        assert len(harness.server.refresh_requests()) == 1
        assert tokens_sent(harness.server) == ["access-1"]

    async def test_token_valid_for_longer_is_used_as_is(self, harness: Harness) -> None:
        """A token with more than a minute left is sent without refreshing."""
        harness.server.leads[1] = {"id": 1}
        harness.clock.advance(3600 - 120)

        await harness.api().get_lead(1)

        assert harness.server.refresh_requests() == []
        assert tokens_sent(harness.server) == ["access-0"]

    async def test_accounts_refresh_independently(self) -> None:
        """One account refreshing does not make another account's requests wait for or reuse its tokens."""
        harness = make_harness()
        other_server = FakeAmo(access_tokens={"other-access"}, refresh_token="other-refresh")
        other_server.leads[5] = {"id": 5}
        harness.server.leads[1] = {"id": 1}

        async def route(request: httpx.Request) -> httpx.Response:
            server = other_server if request.url.host == "other.kommo.com" else harness.server
            return await server(request)

        http = httpx.AsyncClient(transport=httpx.MockTransport(route))
        client = AmoClient(http, limiter=NoLimit(), sleep=harness.sleep)
        await harness.store.save(2, pair("other-access", "other-refresh", expires_in=10**6))
        harness.clock.advance(7200)  # only account 1's token is expired
        other_url = "https://other.kommo.com"
        acme_auth = client.oauth(ACCOUNT_ID, BASE_URL, APP, harness.store, clock=harness.clock)
        other_auth = client.oauth(2, other_url, APP, harness.store, clock=harness.clock)
        acme = client.account(ACCOUNT_ID, BASE_URL, acme_auth)
        other = client.account(2, other_url, other_auth)

        first, second = await asyncio.gather(acme.get_lead(1), other.get_lead(5))

        assert (first.id, second.id) == (1, 5)
        assert len(harness.server.refresh_requests()) == 1
        assert other_server.refresh_requests() == []
        assert client.refresh_lock(ACCOUNT_ID) is not client.refresh_lock(2)
        await http.aclose()


class RecordingStore(InMemoryTokenStore):
    """Writes each save into the server's event log, so saves and API calls share one timeline."""

    def __init__(self, server: FakeAmo, pairs: dict[int, TokenPair]) -> None:
        super().__init__(pairs)
        self.server = server

    async def save(self, account_id: int, pair: TokenPair) -> None:
        self.server.events.append(("save", pair.access_token.get_secret_value()))
        await super().save(account_id, pair)


class TestRotation:
    async def test_new_pair_is_persisted_before_its_access_token_is_used(self, harness: Harness) -> None:
        """The rotated pair is saved before any request carries its access token (a crash cannot lose it)."""
        harness.store = RecordingStore(harness.server, {ACCOUNT_ID: await _loaded(harness)})
        harness.server.leads[1] = {"id": 1}
        harness.clock.advance(7200)

        await harness.api().get_lead(1)

        assert harness.server.events == [("refresh", "refresh-0"), ("save", "access-1"), ("api", "access-1")]

    async def test_each_refresh_spends_the_newest_refresh_token(self, harness: Harness) -> None:
        """Each refresh spends the newest refresh token, so the account keeps working day after day."""
        harness.server.leads[1] = {"id": 1}
        api = harness.api()
        for _ in range(3):
            harness.clock.advance(90_000)
            await api.get_lead(1)

        refreshes = [token for kind, token in harness.server.events if kind == "refresh"]
        assert refreshes == ["refresh-0", "refresh-1", "refresh-2"]
        stored = await harness.store.load(ACCOUNT_ID)
        assert stored is not None and stored.refresh_token == SecretStr("refresh-3")

    async def test_refresh_sends_the_documented_json_body(self, harness: Harness) -> None:
        """The refresh is a JSON POST to the account's /oauth2/access_token with the app's credentials."""
        harness.server.leads[1] = {"id": 1}
        harness.clock.advance(7200)

        await harness.api().get_lead(1)

        request = harness.server.refresh_requests()[0]
        assert str(request.url) == f"{BASE_URL}/oauth2/access_token"
        assert request.headers["Content-Type"] == "application/json"
        assert httpx.Response(200, content=request.content).json() == {
            "client_id": "client-id",
            "client_secret": CLIENT_SECRET,
            "grant_type": "refresh_token",
            "refresh_token": "refresh-0",
            "redirect_uri": "https://lp.test/oauth",
        }


async def _loaded(harness: Harness) -> TokenPair:
    stored = await harness.store.load(ACCOUNT_ID)
    assert stored is not None
    return stored


class TestUnauthorized:
    async def test_rejected_token_is_refreshed_and_the_request_retried_once(self, harness: Harness) -> None:
        """When amoCRM rejects a token that looked valid, the client refreshes and the call still succeeds."""
        harness.server.leads[1] = {"id": 1}
        harness.server.access_tokens = set()  # revoked early, e.g. the user re-installed elsewhere

        lead = await harness.api().get_lead(1)

        assert lead.id == 1
        assert tokens_sent(harness.server) == ["access-0", "access-1"]
        assert len(harness.server.refresh_requests()) == 1

    async def test_second_rejection_is_final(self, harness: Harness) -> None:
        """If the fresh token is rejected too, the call fails with Unauthorized instead of looping."""
        harness.server.reject_every_token = True

        with pytest.raises(Unauthorized):
            await harness.api().get_lead(1)

        assert len(harness.server.api_requests()) == 2
        assert len(harness.server.refresh_requests()) == 1

    async def test_concurrent_rejections_share_one_refresh(self, harness: Harness) -> None:
        """Ten calls rejected with the same old token cause one refresh between them."""
        harness.server.leads[1] = {"id": 1}
        harness.server.access_tokens = set()

        await asyncio.gather(*(harness.api().get_lead(1) for _ in range(10)))

        assert len(harness.server.refresh_requests()) == 1


class TestRevokedRefreshToken:
    async def test_refused_refresh_marks_the_account_for_reauth(self, harness: Harness) -> None:
        """A revoked refresh token raises TokenRefreshFailed and flags the account for re-installation."""
        harness.server.refresh_refused = True
        harness.clock.advance(7200)

        with pytest.raises(TokenRefreshFailed) as raised:
            await harness.api().get_lead(1)

        assert raised.value.account_id == ACCOUNT_ID
        assert "Invalid grant" in harness.store.needs_reauth[ACCOUNT_ID]
        assert harness.server.api_requests() == []

    async def test_later_calls_fail_fast_without_touching_amocrm(self, harness: Harness) -> None:
        """Once an account needs re-auth, further calls fail at once: no refresh storm against amoCRM."""
        harness.server.refresh_refused = True
        harness.clock.advance(7200)
        api = harness.api()
        with pytest.raises(TokenRefreshFailed):
            await api.get_lead(1)
        sent_before = len(harness.server.requests)

        for _ in range(5):
            with pytest.raises(TokenRefreshFailed):
                await api.get_lead(1)

        assert len(harness.server.requests) == sent_before

    async def test_reauth_message_exists_in_both_languages(self) -> None:
        """The message shown to the account's people exists in Russian and English and names the account."""
        message = TokenRefreshFailed(ACCOUNT_ID, "refused").user_message()

        assert set(message) == {"ru", "en"}
        assert all(str(ACCOUNT_ID) in text for text in message.values())

    async def test_expired_token_without_refresh_token_needs_reauth(self, harness: Harness) -> None:
        """A stored pair without a refresh token cannot be renewed, so the account is flagged, not retried."""
        await harness.store.save(ACCOUNT_ID, TokenPair(access_token=SecretStr("x"), refresh_token=None,
                                                       expires_at=harness.clock.now))  # fmt: skip

        with pytest.raises(TokenRefreshFailed):
            await harness.api().get_lead(1)

        assert ACCOUNT_ID in harness.store.needs_reauth


class TestExchangeCode:
    async def test_code_is_traded_for_a_pair_expiring_in_a_day(self, harness: Harness) -> None:
        """Installing the integration turns the consent code into tokens valid for expires_in seconds."""
        harness.server.refresh_token = None

        def token_endpoint(request: httpx.Request) -> httpx.Response | None:
            body = httpx.Response(200, content=request.content).json()
            if body.get("grant_type") != "authorization_code" or body.get("code") != "the-code":
                return None
            payload = {"access_token": "first", "refresh_token": "first-r", "expires_in": 86400}
            return httpx.Response(200, json=payload)

        harness.server.script.append(token_endpoint)

        pair = await APP.exchange_code(harness.http, BASE_URL, "the-code", now=harness.clock)

        assert pair.access_token == SecretStr("first")
        assert (pair.expires_at - harness.clock.now).total_seconds() == 86400


class TestLongLivedToken:
    async def test_long_lived_token_is_sent_as_bearer_and_a_401_is_final(self, harness: Harness) -> None:
        """A private integration's token is used as is; if amoCRM rejects it, nothing tries to refresh it."""
        harness.server.access_tokens = {"long-lived"}
        harness.server.leads[1] = {"id": 1}
        api = harness.client.account(ACCOUNT_ID, BASE_URL, LongLivedAuth(SecretStr("long-lived")))

        assert (await api.get_lead(1)).id == 1
        harness.server.access_tokens = set()
        with pytest.raises(Unauthorized):
            await api.get_lead(1)
        assert harness.server.refresh_requests() == []


SECRETS = (CLIENT_SECRET, "access-0", "refresh-0", "access-1", "refresh-1", "long-lived-secret")


class TestSecretsStayHidden:
    async def test_logs_and_errors_never_show_tokens_or_the_client_secret(
        self, harness: Harness, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Logs of a refresh, a retry and a revoked token, and the errors raised, contain no secret."""
        caplog.set_level(logging.DEBUG)
        harness.server.leads[1] = {"id": 1}
        harness.clock.advance(7200)
        api = harness.api()
        await api.get_lead(1)
        harness.server.script.append(
            lambda request: httpx.Response(503) if "/api/" in request.url.path else None
        )
        await api.get_lead(1)
        harness.server.refresh_refused = True
        harness.clock.advance(90_000)
        with pytest.raises(TokenRefreshFailed) as raised:
            await api.get_lead(1)

        shown = caplog.text + str(raised.value) + repr(raised.value) + str(harness.store.needs_reauth)
        assert "refreshed" in caplog.text  # the flow really logged something
        assert not [secret for secret in SECRETS if secret in shown]

    async def test_reprs_never_show_tokens_or_the_client_secret(self, harness: Harness) -> None:
        """Printing any client object (as a debugger or error tracker would) shows no secret."""
        stored = await _loaded(harness)
        auth = harness.client.oauth(ACCOUNT_ID, BASE_URL, APP, harness.store)
        objects = [
            APP,
            stored,
            harness.store,
            auth,
            harness.client,
            harness.client.account(ACCOUNT_ID, BASE_URL, auth),
            LongLivedAuth(SecretStr("long-lived-secret")),
            TokenBucket(7),
        ]

        shown = " ".join(repr(item) + str(item) for item in objects)

        assert not [secret for secret in SECRETS if secret in shown]


class FailingStore(InMemoryTokenStore):
    """A store whose writes fail, like a database that went away mid-refresh."""

    async def save(self, account_id: int, pair: TokenPair) -> None:
        raise OSError("database unavailable")


class TestPersistenceFailures:
    async def test_unsaved_pair_is_never_used(self, harness: Harness) -> None:
        """If the new pair cannot be saved, the call fails and the unsaved access token never reaches amoCRM."""
        harness.store = FailingStore({ACCOUNT_ID: pair()})
        harness.clock.advance(7200)

        with pytest.raises(OSError, match="database unavailable"):
            await harness.api().get_lead(1)

        assert harness.server.api_requests() == []

    async def test_pair_saved_by_another_replica_is_adopted_after_a_refused_refresh(
        self, harness: Harness
    ) -> None:
        """When another replica spent the refresh token first and saved its pair, this one uses that pair."""
        harness.server.leads[1] = {"id": 1}
        harness.clock.advance(7200)
        # The other replica refreshes first, so this replica's refresh with refresh-0 will be refused.
        winner = await APP.refresh(harness.http, BASE_URL, SecretStr("refresh-0"), now=harness.clock)

        class RacingStore(InMemoryTokenStore):
            """Returns the old pair first (the read before the race), the winner's pair afterwards."""

            reads = 0

            async def load(self, account_id: int) -> TokenPair | None:
                self.reads += 1
                return pair() if self.reads <= 2 else winner

        harness.store = RacingStore()
        lead = await harness.api().get_lead(1)

        assert lead.id == 1
        assert harness.store.needs_reauth == {}
        assert tokens_sent(harness.server) == ["access-1"]


def token_endpoint_fault(kind: type[httpx.TransportError]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response | None:
        if request.url.path != "/oauth2/access_token":
            return None
        raise kind("simulated", request=request)

    return handler


class TestTokenEndpointOutage:
    async def test_unreachable_token_endpoint_is_retried(self, harness: Harness) -> None:
        """If the refresh could not even connect, the call backs off and refreshes on the next attempt."""
        harness.server.leads[1] = {"id": 1}
        harness.clock.advance(7200)
        harness.server.script.append(token_endpoint_fault(httpx.ConnectError))

        assert (await harness.api().get_lead(1)).id == 1
        assert len(harness.sleep.delays) == 1

    async def test_refresh_lost_in_flight_is_not_repeated(self, harness: Harness) -> None:
        """A refresh that timed out after sending is not resent blindly: its token may already be spent."""
        harness.clock.advance(7200)
        harness.server.script.append(token_endpoint_fault(httpx.ReadTimeout))

        with pytest.raises(AmoTransportError) as raised:
            await harness.api().get_lead(1)

        assert raised.value.request_sent
        assert harness.sleep.delays == []
        assert ACCOUNT_ID not in harness.store.needs_reauth
