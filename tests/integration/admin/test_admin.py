"""The /admin pages over a real database: sign-in through amoCRM's token, CSRF, the rule editor and sign-off,
promos, plans, the inbox, and escaping of whatever people typed into amoCRM."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from integration.db import session_scope
from integration.settings import Settings
from integration.storage import inbox as inbox_store
from integration.storage import rulesets as ruleset_store
from integration.storage import users as user_store
from integration.storage.leads import LeadSnapshot
from leadpact.admin.session import SESSION_COOKIE
from rules import default_rules_text
from tests.integration.admin.support import (
    ACCOUNT_ID,
    ADMIN_USER,
    MANAGER_USER,
    OTHER_ACCOUNT_ID,
    SECOND_ADMIN,
    admin_client,
    admin_server,
    admin_settings,
    csrf_of,
    install_accounts,
    sign_in,
    widget_token,
)

# The default pack with a misspelt field name: line 50, column 19.
BROKEN_RULES = default_rules_text().replace(
    "{field: utm_source, in: [tiktok]}", "{field: utm_sorce, in: [tiktok]}"
)
# A stricter pack: TikTok leads are no longer experimental, and two criteria qualify a lead.
CANDIDATE_RULES = default_rules_text().replace("min_met: 3", "min_met: 2")


@pytest.fixture
def configured(settings: Settings) -> Settings:
    configured = admin_settings(settings)
    install_accounts(configured)
    return configured


@pytest.fixture
def server(configured: Settings) -> Iterator[str]:
    with admin_server(configured) as base_url:
        yield base_url


@pytest.fixture
def client(configured: Settings, server: str) -> Iterator[httpx.Client]:
    with admin_client(configured, server) as client:
        yield client


@pytest.fixture
def signed_in(client: httpx.Client) -> httpx.Client:
    sign_in(client)
    return client


def _add_lead(
    engine: Engine, lead_id: int, name: str, *, status_id: int = 10, account_id: int = ACCOUNT_ID
) -> None:
    data = {
        "id": lead_id,
        "name": name,
        "status_id": status_id,
        "custom_fields_values": [
            {"field_code": "BUDGET", "values": [{"value": 500000}]},
            {"field_code": "NEED", "values": [{"value": "CRM for 40 seats"}]},
            {"field_code": "UTM_SOURCE", "values": [{"value": "tiktok"}]},
        ],
    }
    with session_scope(engine) as session:
        session.add(
            LeadSnapshot(
                account_id=account_id,
                lead_id=lead_id,
                name=name,
                status_id=status_id,
                pipeline_id=7,
                created_at=1_763_000_000,
                updated_at=1_763_000_000 + lead_id,
                data=data,
                channel="tiktok",
                qualified=False,
                rule_version=0,
            )
        )


class TestSignIn:
    def test_pages_without_a_session_answer_401_and_show_no_data(self, client: httpx.Client) -> None:
        """Someone who has not signed in through amoCRM gets 401 on every page and sees no account data."""
        for path in (
            "/admin",
            "/admin/rules",
            "/admin/promos",
            "/admin/plans",
            "/admin/inbox",
            "/reports/weekly",
        ):
            page = client.get(path)
            assert page.status_code == 401, path
            assert str(ACCOUNT_ID) not in page.text
            assert "csrf_token" not in page.text

    def test_an_account_admin_signs_in_with_the_widget_token(self, client: httpx.Client) -> None:
        """An amoCRM admin's widget token opens the admin pages and sets an HttpOnly, SameSite cookie."""
        response = client.get("/admin/login", params={"token": widget_token()}, follow_redirects=False)
        assert response.status_code == 303
        cookie = response.headers["set-cookie"]
        assert SESSION_COOKIE in cookie and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
        page = client.get("/admin")
        assert page.status_code == 200
        assert "acme" in page.text

    def test_a_user_who_is_not_an_admin_gets_403(self, client: httpx.Client) -> None:
        """A manager's valid token is refused with 403 and no session is created."""
        response = client.get(
            "/admin/login",
            params={"token": widget_token(user_id=MANAGER_USER, is_admin=False)},
            follow_redirects=False,
        )
        assert response.status_code == 403
        assert "set-cookie" not in response.headers
        assert client.get("/admin").status_code == 401

    @pytest.mark.parametrize(
        "token",
        [
            {"secret": "someone-elses-secret-0123456789abcdef0123"},
            {"audience": "https://evil.example.com"},
            {"now": 1_600_000_000},
            {"issuer": "https://evil.amocrm.ru"},
        ],
        ids=["wrong-signature", "wrong-audience", "expired", "other-issuer"],
    )
    def test_a_forged_or_stale_token_gets_401(self, client: httpx.Client, token: dict[str, object]) -> None:
        """A token not signed by amoCRM for us, or out of its time window, signs nobody in."""
        response = client.get("/admin/login", params={"token": widget_token(**token)}, follow_redirects=False)  # type: ignore[arg-type]
        assert response.status_code == 401
        assert "set-cookie" not in response.headers

    def test_a_tampered_session_cookie_is_refused(self, signed_in: httpx.Client, server: str) -> None:
        """A session cookie edited by hand (e.g. to another account) opens nothing."""
        cookie = signed_in.cookies.get(SESSION_COOKIE)
        assert cookie is not None
        body, mac = cookie.split(".")
        tampered = body[:-2] + ("xx" if not body.endswith("xx") else "yy") + "." + mac
        assert httpx.get(f"{server}/admin", cookies={SESSION_COOKIE: cookie}).status_code == 200
        assert httpx.get(f"{server}/admin", cookies={SESSION_COOKIE: tampered}).status_code == 401

    def test_a_widget_token_signs_in_once(self, client: httpx.Client, server: str) -> None:
        """A sign-in link copied from a browser history or a proxy log opens no second session."""
        token = widget_token()
        assert client.get("/admin/login", params={"token": token}, follow_redirects=False).status_code == 303
        with httpx.Client(base_url=server) as stranger:
            replayed = stranger.get("/admin/login", params={"token": token}, follow_redirects=False)
            assert replayed.status_code == 401
            assert "set-cookie" not in replayed.headers
            assert "acme" not in replayed.text
            assert stranger.get("/admin").status_code == 401
        assert client.get("/admin").status_code == 200

    def test_the_widget_gives_an_admin_a_one_time_link_to_the_admin_pages(
        self, client: httpx.Client, server: str
    ) -> None:
        """The widget asks with amoCRM's token; the link it gets signs its admin in once, in the language asked."""
        answer = httpx.post(
            f"{server}/api/widget/admin-link",
            params={"lang": "en"},
            headers={"X-Auth-Token": widget_token(), "Origin": "https://acme.amocrm.ru"},
        )
        assert answer.status_code == 200
        assert answer.headers["access-control-allow-origin"] == "https://acme.amocrm.ru"
        path = answer.json()["path"]
        assert path.startswith("/admin/login?ticket=") and "lang=en" in path
        signed = client.get(path)
        assert signed.status_code == 200 and "Webhook inbox" in signed.text
        with httpx.Client(base_url=server) as stranger:
            assert stranger.get(path, follow_redirects=False).status_code == 401
            assert stranger.get("/admin").status_code == 401

    def test_a_manager_gets_no_admin_link(self, server: str) -> None:
        """The link is for account admins only; a manager's widget gets 403 and no ticket."""
        answer = httpx.post(
            f"{server}/api/widget/admin-link",
            headers={"X-Auth-Token": widget_token(user_id=MANAGER_USER, is_admin=False)},
        )
        assert answer.status_code == 403
        assert "ticket" not in answer.text

    def test_a_forged_ticket_opens_nothing(self, client: httpx.Client) -> None:
        """A ticket not signed by this LeadPact (or cut short) is a 401 like a forged token."""
        for ticket in ("eyJhIjozMTAwMDAwMX0.forged", "garbage", "a.b.c"):
            response = client.get("/admin/login", params={"ticket": ticket}, follow_redirects=False)
            assert response.status_code == 401, ticket
            assert "set-cookie" not in response.headers

    def test_removing_leadpact_from_the_account_ends_its_sessions(
        self, signed_in: httpx.Client, engine: Engine
    ) -> None:
        """Once amoCRM tells us the account removed the integration, its admins' open sessions show nothing."""
        from integration.storage import accounts as account_store

        assert signed_in.get("/admin").status_code == 200
        with session_scope(engine) as session:
            account_store.set_account_status(
                session=session,
                account_id=ACCOUNT_ID,
                status=account_store.AccountStatus.REMOVED,
                reason="uninstalled",
            )
        page = signed_in.get("/admin")
        assert page.status_code == 401
        assert "acme" not in page.text

    def test_signing_out_ends_the_session(self, signed_in: httpx.Client) -> None:
        """After "sign out" the pages answer 401 again."""
        csrf = csrf_of(signed_in)
        response = signed_in.post("/admin/logout", data={"csrf_token": csrf}, follow_redirects=False)
        assert response.status_code == 303
        assert signed_in.get("/admin").status_code == 401

    def test_pages_speak_english_and_russian(self, signed_in: httpx.Client) -> None:
        """?lang=en and Accept-Language give English; Russian is the default."""
        assert "Webhook inbox" in signed_in.get("/admin?lang=en").text
        assert "Webhook inbox" in signed_in.get("/admin", headers={"Accept-Language": "en-US"}).text
        assert "Очередь вебхуков" in signed_in.get("/admin").text


class TestCsrf:
    def test_a_form_without_its_token_changes_nothing(self, signed_in: httpx.Client, engine: Engine) -> None:
        """A POST without the page's CSRF token is refused with 403 and stores no rule version."""
        response = signed_in.post("/admin/rules/propose", data={"text": CANDIDATE_RULES})
        assert response.status_code == 403
        with session_scope(engine) as session:
            assert ruleset_store.history(session=session, account_id=ACCOUNT_ID) == []

    def test_a_token_from_another_session_is_refused(
        self, signed_in: httpx.Client, configured: Settings
    ) -> None:
        """A CSRF token lifted from another admin's page does not work in this session."""
        with admin_client(configured) as other:
            sign_in(other, user_id=SECOND_ADMIN)
            foreign = csrf_of(other)
        response = signed_in.post(
            "/admin/rules/propose", data={"text": CANDIDATE_RULES, "csrf_token": foreign}
        )
        assert response.status_code == 403


class TestRuleEditor:
    def test_an_error_is_shown_at_its_line_and_column(self, signed_in: httpx.Client) -> None:
        """Checking a file with a misspelt field shows the problem at line 50, column 19, and highlights the line."""
        csrf = csrf_of(signed_in, "/admin/rules")
        page = signed_in.post(
            "/admin/rules/check?lang=en", data={"text": BROKEN_RULES, "csrf_token": csrf, "base": "0"}
        )
        assert page.status_code == 422
        assert 'data-line="50" data-column="19"' in page.text
        assert "line 50, column 19" in page.text
        assert '<li id="L50" class="bad">' in page.text
        assert 'id="propose"' not in page.text

    def test_a_file_with_errors_is_never_stored(self, signed_in: httpx.Client, engine: Engine) -> None:
        """Proposing a broken file directly answers 422 and stores no version."""
        csrf = csrf_of(signed_in, "/admin/rules")
        page = signed_in.post("/admin/rules/propose", data={"text": BROKEN_RULES, "csrf_token": csrf})
        assert page.status_code == 422
        with session_scope(engine) as session:
            assert ruleset_store.history(session=session, account_id=ACCOUNT_ID) == []
            assert ruleset_store.active_version(session=session, account_id=ACCOUNT_ID) == 0

    def test_a_valid_file_gets_a_backtest_preview(self, signed_in: httpx.Client, engine: Engine) -> None:
        """Checking a valid file shows how many stored leads would change, with the lead names escaped."""
        _add_lead(engine, 1, "<script>alert('x')</script> ООО Ромашка")
        _add_lead(engine, 2, "Plain lead")
        csrf = csrf_of(signed_in, "/admin/rules")
        page = signed_in.post(
            "/admin/rules/check?lang=en", data={"text": CANDIDATE_RULES, "csrf_token": csrf, "base": "0"}
        )
        assert page.status_code == 200
        assert "Leads checked: 2" in page.text
        assert 'id="propose"' in page.text
        assert "<script>alert" not in page.text
        assert "&lt;script&gt;alert(" in page.text

    def test_sign_off_by_both_departments_then_activation_requeues_open_leads(
        self, signed_in: httpx.Client, configured: Settings, server: str, engine: Engine
    ) -> None:
        """Marketing and sales sign off (two admins), the version runs and open leads are queued for the worker;
        the history names the author and both approvers by their amoCRM names, not by ids."""
        with session_scope(engine) as session:
            user_store.replace_users(
                session=session,
                account_id=ACCOUNT_ID,
                users=[
                    {"id": ADMIN_USER, "name": "Елена Новикова"},
                    {"id": SECOND_ADMIN, "name": "Иван Петров"},
                ],
                now=int(time.time()),
            )
        _add_lead(engine, 1, "open lead")
        _add_lead(engine, 2, "won lead", status_id=142)
        _add_lead(engine, 3, "other account's lead", account_id=OTHER_ACCOUNT_ID)
        csrf = csrf_of(signed_in, "/admin/rules")
        proposed = signed_in.post(
            "/admin/rules/propose", data={"text": CANDIDATE_RULES, "csrf_token": csrf}, follow_redirects=False
        )
        assert proposed.status_code == 303
        version_page = proposed.headers["location"]
        assert version_page.startswith("/admin/rules/versions/1")
        refused = signed_in.post("/admin/rules/versions/1/activate?lang=en", data={"csrf_token": csrf})
        assert refused.status_code == 409
        assert "missing approval" in refused.text
        signed_in.post("/admin/rules/versions/1/approve", data={"csrf_token": csrf, "role": "marketing"})
        with admin_client(configured, server) as sales:
            sign_in(sales, user_id=SECOND_ADMIN)
            sales_csrf = csrf_of(sales)
            sales.post("/admin/rules/versions/1/approve", data={"csrf_token": sales_csrf, "role": "sales"})
        activated = signed_in.post("/admin/rules/versions/1/activate?lang=en", data={"csrf_token": csrf})
        assert activated.status_code == 200
        assert "Version v1 is now running. Leads queued for re-classification: 1." in activated.text
        with session_scope(engine) as session:
            assert ruleset_store.active_version(session=session, account_id=ACCOUNT_ID) == 1
            items = session.exec(select(inbox_store.InboxItem)).all()
        assert [(item.account_id, [event["lead_id"] for event in item.events]) for item in items] == [
            (ACCOUNT_ID, [1])
        ]
        history = signed_in.get("/admin/rules/history?lang=en").text
        assert "Елена Новикова (marketing)" in history and "Иван Петров (sales)" in history
        assert "amo-user-" not in history and f"{ADMIN_USER}" not in history.split("<main>")[1]

    def test_a_named_head_who_is_no_admin_signs_off_but_cannot_change_the_setup(
        self, signed_in: httpx.Client, configured: Settings, server: str, engine: Engine
    ) -> None:
        """The sales head is often no amoCRM admin: once named to sign for sales, their widget opens LeadPact and
        their sign-off counts; the account's setup (who signs, field mapping, webhook inbox) stays with admins."""
        with session_scope(engine) as session:
            ruleset_store.set_signers(
                session=session, account_id=ACCOUNT_ID, role="sales", users={MANAGER_USER: "Иван Петров"}
            )
        csrf = csrf_of(signed_in, "/admin/rules")
        signed_in.post("/admin/rules/propose", data={"text": CANDIDATE_RULES, "csrf_token": csrf})
        link = httpx.post(
            f"{server}/api/widget/admin-link",
            headers={"X-Auth-Token": widget_token(user_id=MANAGER_USER, is_admin=False)},
        )
        assert link.status_code == 200
        with admin_client(configured, server) as head:
            overview = head.get(link.json()["path"] + "&lang=en")
            assert overview.status_code == 200
            assert 'href="/admin/inbox' not in overview.text and 'href="/admin/mapping' not in overview.text
            head_csrf = csrf_of(head, "/admin/rules")
            approved = head.post(
                "/admin/rules/versions/1/approve?lang=en", data={"csrf_token": head_csrf, "role": "sales"}
            )
            assert approved.status_code == 200
            for path in ("/admin/inbox", "/admin/mapping", "/admin/rules/signers"):
                refused = head.get(path + "?lang=en")
                assert refused.status_code == 403, path
                assert "for the amoCRM account&#39;s administrators only" in refused.text
            changed = head.post(
                "/admin/rules/signers",
                data={"csrf_token": head_csrf, "role": "sales", "users": str(ADMIN_USER)},
            )
            assert changed.status_code == 403
        with session_scope(engine) as session:
            approvals = ruleset_store.approvals_of(session=session, account_id=ACCOUNT_ID, version=1)
            assert ruleset_store.signers(session=session, account_id=ACCOUNT_ID)["sales"] == {
                MANAGER_USER: "Иван Петров"
            }
        assert [(a.role, a.approver) for a in approvals] == [("sales", "Иван Петров")]

    def test_emergency_activation_with_one_sign_off_is_marked(self, signed_in: httpx.Client) -> None:
        """An admin may activate with a single sign-off only explicitly, and the history shows it as an emergency."""
        csrf = csrf_of(signed_in, "/admin/rules")
        signed_in.post("/admin/rules/propose", data={"text": CANDIDATE_RULES, "csrf_token": csrf})
        signed_in.post("/admin/rules/versions/1/approve", data={"csrf_token": csrf, "role": "sales"})
        page = signed_in.post(
            "/admin/rules/versions/1/activate?lang=en", data={"csrf_token": csrf, "emergency": "yes"}
        )
        assert page.status_code == 200
        history = signed_in.get("/admin/rules/history?lang=en")
        assert "running (emergency)" in history.text

    def test_history_and_diff_show_what_changed(self, signed_in: httpx.Client) -> None:
        """The diff of a draft against the running rules shows the changed line."""
        csrf = csrf_of(signed_in, "/admin/rules")
        signed_in.post(
            "/admin/rules/propose", data={"text": CANDIDATE_RULES, "csrf_token": csrf, "comment": "2 of 4"}
        )
        history = signed_in.get("/admin/rules/history")
        assert "v1" in history.text and "2 of 4" in history.text
        diff = signed_in.get("/admin/rules/diff", params={"old": 0, "new": 1})
        assert '<span class="diff-del">-  min_met: 3</span>' in diff.text
        assert '<span class="diff-add">+  min_met: 2</span>' in diff.text


class TestPromosPlansInbox:
    def test_promo_texts_are_escaped(self, signed_in: httpx.Client) -> None:
        """A promo whose description holds HTML is listed as text, never as markup."""
        csrf = csrf_of(signed_in, "/admin/promos")
        content = "key,name,description,condition,code,coupons,ends_on\nxss,<b>Bold</b>,<script>steal()</script>,,SAVE5,,\n"
        page = signed_in.post(
            "/admin/promos/import?lang=en", data={"csrf_token": csrf, "content": content, "format": "csv"}
        )
        assert page.status_code == 200, page.text
        assert "Imported promos: 1" in page.text
        assert "<script>steal()" not in page.text and "&lt;script&gt;steal()" in page.text
        assert "&lt;b&gt;Bold&lt;/b&gt;" in page.text

    def test_a_bad_promo_file_stores_nothing_and_lists_problems(self, signed_in: httpx.Client) -> None:
        """A promo file with a broken row is refused as a whole with the row named."""
        csrf = csrf_of(signed_in, "/admin/promos")
        content = (
            "key,name,description,condition,code,coupons,ends_on\nok,Ok,,,OK1,,\nbad,Bad,,,,,not-a-date\n"
        )
        page = signed_in.post(
            "/admin/promos/import?lang=en", data={"csrf_token": csrf, "content": content, "format": "csv"}
        )
        assert page.status_code == 422
        assert "row 3" in page.text
        assert "No promos." in page.text

    def test_a_plan_is_set_and_listed(self, signed_in: httpx.Client) -> None:
        """A monthly plan entered on the page is stored and shown; a bad period is explained."""
        csrf = csrf_of(signed_in, "/admin/plans")
        saved = signed_in.post(
            "/admin/plans/plan?lang=en",
            data={"csrf_token": csrf, "period": "2026-11", "leads": "400", "qualified": "200"},
        )
        assert saved.status_code == 200 and "Saved." in saved.text
        assert "2026-11-01 — 2026-11-30" in saved.text and "<td>400</td>" in saved.text
        bad = signed_in.post(
            "/admin/plans/plan?lang=en", data={"csrf_token": csrf, "period": "November", "leads": "1"}
        )
        assert bad.status_code == 422 and "Cannot read the period" in bad.text

    def test_spend_is_uploaded_for_known_channels_only(self, signed_in: httpx.Client) -> None:
        """A spend CSV for the rules' channels is stored and listed; an unknown channel refuses the whole file."""
        csrf = csrf_of(signed_in, "/admin/plans")
        good = "period,channel,amount\n2026-11,vk,12500.50\n"
        saved = signed_in.post("/admin/plans/spend?lang=en", data={"csrf_token": csrf, "content": good})
        assert saved.status_code == 200 and "<td>vk</td><td>12500.50</td>" in saved.text
        bad = "period,channel,amount\n2026-11,google_ads,10\n2026-11,myspace,5\n"
        refused = signed_in.post("/admin/plans/spend?lang=en", data={"csrf_token": csrf, "content": bad})
        assert refused.status_code == 422 and "unknown channel “myspace”" in refused.text
        assert "google_ads" not in refused.text.split('id="spend"')[1].split("</table>")[0]

    def test_meeting_tasks_need_the_forms_token(self, signed_in: httpx.Client) -> None:
        """Creating an amoCRM task from the report page without the CSRF token is refused with 403."""
        response = signed_in.post("/reports/weekly/tasks", data={"week": "2026-W47", "text": "anything"})
        assert response.status_code == 403

    def test_failed_deliveries_are_listed_and_retried(self, signed_in: httpx.Client, engine: Engine) -> None:
        """A dead-lettered webhook of the account shows in the inbox and goes back to the queue on retry."""
        with session_scope(engine) as session:
            item = inbox_store.add_item(session=session, account_id=ACCOUNT_ID, body="", events=[])
            item.status, item.attempts, item.last_error = inbox_store.InboxStatus.DEAD, 8, "<b>bad</b> answer"
            other = inbox_store.add_item(
                session=session, account_id=OTHER_ACCOUNT_ID, body="", events=[], parse_error="secret"
            )
            item_id, other_id = item.id, other.id
        page = signed_in.get("/admin/inbox?lang=en")
        assert f"<td>{item_id}</td>" in page.text and "&lt;b&gt;bad&lt;/b&gt;" in page.text
        assert "secret" not in page.text
        csrf = csrf_of(signed_in, "/admin/inbox")
        assert signed_in.post(f"/admin/inbox/{other_id}/retry", data={"csrf_token": csrf}).status_code == 404
        retried = signed_in.post(f"/admin/inbox/{item_id}/retry?lang=en", data={"csrf_token": csrf})
        assert f"Delivery #{item_id} is queued again." in retried.text
        with session_scope(engine) as session:
            statuses = dict(
                session.exec(select(col(inbox_store.InboxItem.id), col(inbox_store.InboxItem.status))).all()
            )
        assert statuses[other_id] == inbox_store.InboxStatus.FAILED
        assert statuses[item_id] == inbox_store.InboxStatus.PENDING

    def test_deliveries_with_unreadable_fields_are_shown_as_delivered_in_part(
        self, signed_in: httpx.Client, engine: Engine
    ) -> None:
        """A delivery applied without the parts it could not read says so on the inbox page, in ru and en."""
        with session_scope(engine) as session:
            session.add(
                inbox_store.InboxItem(
                    account_id=ACCOUNT_ID, body="", events=[], event_count=3, unreadable_count=2
                )
            )
            session.add(
                inbox_store.InboxItem(account_id=OTHER_ACCOUNT_ID, body="", events=[], unreadable_count=7)
            )
        english = signed_in.get("/admin/inbox?lang=en").text
        assert "delivered, 2 fields unreadable" in english
        assert "7 fields" not in english
        assert "доставлен, нечитаемых полей: 2" in signed_in.get("/admin/inbox?lang=ru").text

    def test_an_account_needing_reauth_is_flagged(self, signed_in: httpx.Client, engine: Engine) -> None:
        """When amoCRM refused our tokens, the overview says so and links to re-authorisation."""
        from integration.storage import accounts as account_store

        with session_scope(engine) as session:
            account_store.set_account_status(
                session=session,
                account_id=ACCOUNT_ID,
                status=account_store.AccountStatus.NEEDS_REAUTH,
                reason="revoked",
            )
        page = signed_in.get("/admin?lang=en")
        assert "needs re-authorisation" in page.text and 'href="/oauth/start"' in page.text
