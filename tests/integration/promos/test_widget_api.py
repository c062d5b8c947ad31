"""The widget's backend answers only amoCRM's widget of the right account, and shows the lead's panel."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.engine import Engine

from integration.db import session_scope
from integration.settings import Settings
from integration.storage import promos as promo_store
from integration.storage.leads import LeadSnapshot
from sync.promos.service import promo_fields_for_lead
from tests.integration.promos.widget_support import (
    ACCOUNT_ID,
    ACCOUNT_ORIGIN,
    LEAD_ID,
    NOW,
    OTHER_ACCOUNT_ID,
    OTHER_LEAD_ID,
    OTHER_SUBDOMAIN,
    UNIX_NOW,
    Classification,
    lead_json,
    seed,
    token,
    widget_app,
)


@pytest.fixture
async def client(settings: Settings, engine: Engine) -> AsyncIterator[httpx.AsyncClient]:
    seed(engine)
    transport = httpx.ASGITransport(app=widget_app(settings, engine))
    async with httpx.AsyncClient(transport=transport, base_url="http://leadpact.test") as http:
        yield http


async def get_panel(
    client: httpx.AsyncClient, auth: str | None, lead_id: int = LEAD_ID, origin: str | None = ACCOUNT_ORIGIN
) -> httpx.Response:
    headers = {}
    if auth is not None:
        headers["X-Auth-Token"] = auth
    if origin is not None:
        headers["Origin"] = origin
    return await client.get(f"/api/widget/leads/{lead_id}", headers=headers)


class TestPanel:
    async def test_panel_shows_source_level_reason_promos_coupon_and_events(
        self, client: httpx.AsyncClient
    ) -> None:
        """A rep's widget gets the lead's channel, level with its reason, promos with codes, coupon and events."""
        response = await get_panel(client, token())
        assert response.status_code == 200
        body = response.json()
        assert (body["channel"], body["level"], body["reason"]) == (
            "ads",
            "hot",
            "Бюджет ≥ 100 000 ₽ и ЛПР на связи",
        )
        assert body["source"] == {"utm_source": "yandex", "utm_campaign": "spring"}
        assert [(p["name"], p["code"], p["coupon"]) for p in body["promos"]] == [
            ("Весна-2026", "SPRING10", None),
            ("Персональный купон", None, "VIP-001"),
        ]
        assert [e["name"] for e in body["events"]] == ["Выставка Expo-2026"]

    async def test_the_way_into_leadpact_is_offered_to_admins_and_named_heads_only(
        self, client: httpx.AsyncClient, engine: Engine
    ) -> None:
        """A rep's panel has no link to the rules; an admin's has, and so has a head named to sign off."""
        from integration.storage import rulesets as ruleset_store

        rep, head = 11, 12
        assert (await get_panel(client, token(user_id=rep))).json()["can_open_admin"] is False
        assert (await get_panel(client, token(user_id=rep, is_admin=True))).json()["can_open_admin"] is True
        with session_scope(engine) as session:
            ruleset_store.set_signers(
                session=session, account_id=ACCOUNT_ID, role="sales", users={head: "Иван"}
            )
        assert (await get_panel(client, token(user_id=head))).json()["can_open_admin"] is True
        assert (await get_panel(client, token(user_id=rep))).json()["can_open_admin"] is False

    async def test_cors_allows_only_the_accounts_own_domain(self, client: httpx.AsyncClient) -> None:
        """The answer to the account's page carries CORS for exactly that page's origin."""
        response = await get_panel(client, token())
        assert response.headers["access-control-allow-origin"] == ACCOUNT_ORIGIN

    async def test_lead_of_another_account_is_not_found(self, client: httpx.AsyncClient) -> None:
        """Asking for another account's lead id with a valid token of ours answers 404, as if it did not exist."""
        response = await get_panel(client, token(), lead_id=OTHER_LEAD_ID)
        assert response.status_code == 404
        assert "rival" not in response.text and "Заявка" not in response.text

    async def test_unknown_lead_is_not_found(self, client: httpx.AsyncClient) -> None:
        """A lead LeadPact has not synced yet answers 404."""
        assert (await get_panel(client, token(), lead_id=999)).status_code == 404


class TestRefusedTokens:
    @pytest.mark.parametrize(
        "bad_token",
        [
            pytest.param(token(secret="someone-elses-secret-0123456789abcdef0123"), id="forged signature"),
            pytest.param(token(issued=UNIX_NOW - 7200), id="expired"),
            pytest.param(token(issued=UNIX_NOW + 3600), id="not yet valid"),
            pytest.param(token(aud="https://evil.example.com"), id="other audience"),
            pytest.param(token(ttl=30 * 86400), id="lifetime far beyond amoCRM's"),
            pytest.param(token(subdomain="acme2"), id="subdomain not the account's"),
            pytest.param(token(iss="https://evil.example.com"), id="issuer not the account's domain"),
            pytest.param(token(account_id=123), id="account not installed"),
            pytest.param("not-a-jwt", id="garbage"),
            pytest.param("", id="empty"),
        ],
    )
    async def test_bad_token_is_401_with_nothing_disclosed(
        self, client: httpx.AsyncClient, bad_token: str
    ) -> None:
        """Forged, expired, foreign or malformed tokens all get the same bare 401."""
        response = await get_panel(client, bad_token)
        assert response.status_code == 401
        assert response.json() == {"detail": "Unauthorized"}
        assert "access-control-allow-origin" not in response.headers

    async def test_missing_token_is_401(self, client: httpx.AsyncClient) -> None:
        """A call without amoCRM's header is refused."""
        assert (await get_panel(client, None)).status_code == 401

    async def test_cross_account_token_is_401(self, client: httpx.AsyncClient) -> None:
        """A valid token of another account used from our account's page is refused."""
        other = token(account_id=OTHER_ACCOUNT_ID, subdomain=OTHER_SUBDOMAIN, iss="https://rival.amocrm.ru")
        assert (await get_panel(client, other)).status_code == 401

    async def test_token_for_another_account_than_asked_is_401(self, client: httpx.AsyncClient) -> None:
        """When the widget names the account, a token of a different account is refused."""
        response = await client.get(
            f"/api/widget/leads/{LEAD_ID}",
            params={"account_id": OTHER_ACCOUNT_ID},
            headers={"X-Auth-Token": token(), "Origin": ACCOUNT_ORIGIN},
        )
        assert response.status_code == 401

    async def test_call_from_a_foreign_origin_is_401(self, client: httpx.AsyncClient) -> None:
        """A good token replayed from another site's page is refused."""
        assert (await get_panel(client, token(), origin="https://evil.example.com")).status_code == 401


class TestPreflight:
    async def test_preflight_from_the_accounts_domain_is_allowed(self, client: httpx.AsyncClient) -> None:
        """The browser's CORS preflight from an installed account's page may send X-Auth-Token."""
        response = await client.options(
            f"/api/widget/leads/{LEAD_ID}",
            headers={"Origin": ACCOUNT_ORIGIN, "Access-Control-Request-Method": "GET"},
        )
        assert response.status_code == 204
        assert response.headers["access-control-allow-origin"] == ACCOUNT_ORIGIN
        assert "X-Auth-Token" in response.headers["access-control-allow-headers"]

    async def test_preflight_from_an_unknown_domain_is_refused(self, client: httpx.AsyncClient) -> None:
        """Pages of accounts that never installed LeadPact (or other sites) get no CORS permission."""
        response = await client.options(
            f"/api/widget/leads/{LEAD_ID}",
            headers={"Origin": "https://stranger.amocrm.ru", "Access-Control-Request-Method": "GET"},
        )
        assert response.status_code == 401
        assert "access-control-allow-origin" not in response.headers


class TestRepActions:
    async def test_rep_flags_a_lead_as_misqualified(self, client: httpx.AsyncClient, engine: Engine) -> None:
        """A dispute from the panel is stored with the rep, the reason and the disputed level, and shown back."""
        response = await client.post(
            f"/api/widget/leads/{LEAD_ID}/disputes",
            json={"reason": "Это конкурент, не клиент"},
            headers={"X-Auth-Token": token(user_id=42), "Origin": ACCOUNT_ORIGIN},
        )
        assert response.status_code == 201
        with session_scope(engine) as session:
            disputes = promo_store.list_disputes(session=session, account_id=ACCOUNT_ID)
        assert [(d.lead_id, d.user_id, d.level, d.reason) for d in disputes] == [
            (LEAD_ID, 42, "hot", "Это конкурент, не клиент")
        ]
        assert (await get_panel(client, token())).json()["disputes"][0][
            "reason"
        ] == "Это конкурент, не клиент"

    async def test_empty_dispute_reason_is_refused(self, client: httpx.AsyncClient) -> None:
        """A dispute needs a reason."""
        response = await client.post(
            f"/api/widget/leads/{LEAD_ID}/disputes",
            json={"reason": ""},
            headers={"X-Auth-Token": token(), "Origin": ACCOUNT_ORIGIN},
        )
        assert response.status_code == 422

    async def test_rep_marks_the_coupon_used(self, client: httpx.AsyncClient) -> None:
        """Marking the lead's coupon as used shows in the panel; someone else's code is not found."""
        headers = {"X-Auth-Token": token(), "Origin": ACCOUNT_ORIGIN}
        used = await client.post(
            f"/api/widget/leads/{LEAD_ID}/coupon-used", json={"code": "VIP-001"}, headers=headers
        )
        assert used.status_code == 200
        promos = (await get_panel(client, token())).json()["promos"]
        assert [p["coupon_used"] for p in promos] == [False, True]
        other = await client.post(
            f"/api/widget/leads/{LEAD_ID}/coupon-used", json={"code": "VIP-002"}, headers=headers
        )
        assert other.status_code == 404

    async def test_dispute_on_another_accounts_lead_is_not_found(self, client: httpx.AsyncClient) -> None:
        """A rep cannot flag another account's lead."""
        response = await client.post(
            f"/api/widget/leads/{OTHER_LEAD_ID}/disputes",
            json={"reason": "x"},
            headers={"X-Auth-Token": token(), "Origin": ACCOUNT_ORIGIN},
        )
        assert response.status_code == 404


class TestPromosApi:
    async def test_rep_lists_promos_with_free_coupons(self, client: httpx.AsyncClient) -> None:
        """Any rep of the account sees its promos and how many coupons are left."""
        response = await client.get(
            "/api/widget/promos", headers={"X-Auth-Token": token(), "Origin": ACCOUNT_ORIGIN}
        )
        assert response.status_code == 200
        promos = {p["key"]: p for p in response.json()}
        assert (promos["vip"]["coupons_total"], promos["vip"]["coupons_free"]) == (2, 1)
        assert promos["spring"]["code"] == "SPRING10"

    async def test_admin_saves_promos_all_or_nothing(self, client: httpx.AsyncClient) -> None:
        """An admin's save with one bad item stores nothing and names the item and field in both languages."""
        headers = {"X-Auth-Token": token(is_admin=True), "Origin": ACCOUNT_ORIGIN}
        bad = {"promos": [{"name": "Autumn", "code": "AUT"}, {"name": "Broken", "ends_on": "31.02.2026"}]}
        refused = await client.put("/api/widget/promos", json=bad, headers=headers)
        assert refused.status_code == 422
        (error,) = refused.json()["errors"]
        assert (error["item"], error["field"]) == (2, "ends_on") and "строка 2" in error["message"]["ru"]
        good = {"promos": [{"name": "Autumn", "code": "AUT", "coupons": ["A-1", "A-2"]}]}
        saved = await client.put("/api/widget/promos", json=good, headers=headers)
        assert saved.json() == {"promos_saved": 1, "coupons_added": 2}
        listed = await client.get("/api/widget/promos", headers=headers)
        assert [p["key"] for p in listed.json()] == ["spring", "vip", "Autumn"]

    async def test_non_admin_cannot_change_promos(self, client: httpx.AsyncClient) -> None:
        """A rep without admin rights is refused when saving promos."""
        headers = {"X-Auth-Token": token(), "Origin": ACCOUNT_ORIGIN}
        response = await client.put("/api/widget/promos", json={"promos": [{"name": "X"}]}, headers=headers)
        assert response.status_code == 403


class TestEmptyPool:
    async def test_panel_warns_when_the_lead_got_no_coupon_because_the_pool_ran_out(
        self, client: httpx.AsyncClient, engine: Engine
    ) -> None:
        """A lead matching a coupon promo after the pool ran out shows a warning instead of a coupon."""
        for lead_id in (8001, 8002):
            with session_scope(engine) as session:
                session.add(
                    LeadSnapshot(account_id=ACCOUNT_ID, lead_id=lead_id, data=lead_json(lead_id), level="hot")
                )
            promo_fields_for_lead(
                engine=engine,
                account_id=ACCOUNT_ID,
                lead_id=lead_id,
                classification=Classification(),
                lead=lead_json(lead_id),
                now=NOW,
            )
        vip = {p["key"]: p for p in (await get_panel(client, token(), lead_id=8002)).json()["promos"]}["vip"]
        assert (vip["coupon"], vip["coupon_pool_empty"]) == (None, True)
        ours = {p["key"]: p for p in (await get_panel(client, token())).json()["promos"]}["vip"]
        assert (ours["coupon"], ours["coupon_pool_empty"]) == ("VIP-001", False)


class TestUntouchedFlag:
    """Speed to lead in the card: an open lead nobody has acted on for longer than `untouched_after_hours`
    (4 h by default) says so; a first action by a person, or closing the lead, clears it."""

    def _age(self, engine: Engine, *, hours: float, closed: bool = False) -> None:
        with session_scope(engine) as session:
            lead = session.get(LeadSnapshot, (ACCOUNT_ID, LEAD_ID))
            assert lead is not None
            lead.created_at = UNIX_NOW - int(hours * 3600)
            lead.closed_at = UNIX_NOW if closed else None
            session.add(lead)

    async def test_a_lead_waiting_five_hours_is_flagged_until_someone_acts(
        self, client: httpx.AsyncClient, engine: Engine
    ) -> None:
        from integration.storage import touches as touch_store

        self._age(engine, hours=3)
        assert (await get_panel(client, token())).json()["untouched_seconds"] is None
        self._age(engine, hours=5)
        assert (await get_panel(client, token())).json()["untouched_seconds"] == 5 * 3600
        with session_scope(engine) as session:
            touch_store.record_first_touches(
                session=session,
                rows=[
                    {
                        "account_id": ACCOUNT_ID,
                        "lead_id": LEAD_ID,
                        "touched_at": UNIX_NOW - 60,
                        "kind": "note",
                        "user_id": 11,
                    }
                ],
            )
        assert (await get_panel(client, token())).json()["untouched_seconds"] is None

    async def test_a_closed_lead_is_not_flagged(self, client: httpx.AsyncClient, engine: Engine) -> None:
        self._age(engine, hours=30, closed=True)
        assert (await get_panel(client, token())).json()["untouched_seconds"] is None
