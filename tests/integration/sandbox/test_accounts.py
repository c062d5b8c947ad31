"""Accounts in the sandbox: isolation, account data, notes/tasks/catalogs, counters and widget tokens."""

from __future__ import annotations

from collections.abc import Callable

import jwt

from tests.integration.sandbox.conftest import Sandbox


class TestIsolation:
    def test_token_of_one_account_cannot_see_another(self, sandbox: Sandbox) -> None:
        """Account A's token lists only A's leads and gets 404 for B's lead ids."""
        sandbox.new_account("alpha", leads=3)
        sandbox.new_account("beta", leads=3)
        alpha, beta = sandbox.api("alpha"), sandbox.api("beta")
        alpha_ids = {lead["id"] for lead in alpha.get("/api/v4/leads").json()["_embedded"]["leads"]}
        beta_ids = {lead["id"] for lead in beta.get("/api/v4/leads").json()["_embedded"]["leads"]}
        assert alpha_ids.isdisjoint(beta_ids)
        assert alpha.get(f"/api/v4/leads/{min(beta_ids)}").status_code == 404
        assert alpha.patch("/api/v4/leads", json=[{"id": min(beta_ids), "name": "x"}]).status_code == 400
        assert alpha.get("/api/v4/account").json()["subdomain"] == "alpha"


class TestAccountData:
    def test_demo_account_has_managers_pipelines_and_fields(self, sandbox: Sandbox) -> None:
        """A seeded account has 5 managers, 2 pipelines ending in 142/143 and the demo fields by code."""
        sandbox.new_account("acme", leads=5)
        api = sandbox.api("acme")
        users = api.get("/api/v4/users").json()["_embedded"]["users"]
        assert len(users) == 6
        pipelines = api.get("/api/v4/leads/pipelines").json()["_embedded"]["pipelines"]
        assert len(pipelines) == 2
        for pipeline in pipelines:
            ids = [s["id"] for s in pipeline["_embedded"]["statuses"]]
            assert ids[-2:] == [142, 143]
        fields = api.get("/api/v4/leads/custom_fields").json()["_embedded"]["custom_fields"]
        types = {field["code"]: field["type"] for field in fields}
        assert types["BUDGET"] == "numeric"
        assert types["DECISION_DATE"] == "date"
        assert types["UTM_SOURCE"] == types["REFERRER"] == "tracking_data"
        account = api.get("/api/v4/account", params={"with": "users_groups,datetime_settings"}).json()
        assert "users_groups" in account["_embedded"]
        assert account["_embedded"]["datetime_settings"]["timezone"] == "Europe/Moscow"

    def test_notes_and_tasks(self, sandbox: Sandbox) -> None:
        """Notes attach to leads; tasks are created, filtered by lead and completion, and completed by PATCH."""
        sandbox.new_account("acme", leads=2)
        api = sandbox.api("acme")
        lead_id = api.get("/api/v4/leads").json()["_embedded"]["leads"][0]["id"]
        api.post(
            "/api/v4/leads/notes",
            json=[{"entity_id": lead_id, "note_type": "common", "params": {"text": "hi"}}],
        )
        notes = api.get(f"/api/v4/leads/{lead_id}/notes").json()["_embedded"]["notes"]
        assert notes[0]["params"]["text"] == "hi"
        created = api.post(
            "/api/v4/tasks",
            json=[
                {
                    "text": "Позвонить",
                    "complete_till": 1900000000,
                    "entity_id": lead_id,
                    "entity_type": "leads",
                }
            ],
        ).json()
        task_id = created["_embedded"]["tasks"][0]["id"]
        open_tasks = api.get(
            "/api/v4/tasks", params={"filter[entity_id][]": lead_id, "filter[is_completed]": 0}
        )
        assert [t["id"] for t in open_tasks.json()["_embedded"]["tasks"]] == [task_id]
        api.patch("/api/v4/tasks", json=[{"id": task_id, "is_completed": True, "result": {"text": "ok"}}])
        assert api.get("/api/v4/tasks", params={"filter[is_completed]": 0}).status_code == 204

    def test_catalog_elements_link_to_leads(self, sandbox: Sandbox) -> None:
        """A catalog element with field values can be linked to a lead and shows up with=catalog_elements."""
        sandbox.new_account("acme", leads=1)
        api = sandbox.api("acme")
        lead_id = api.get("/api/v4/leads").json()["_embedded"]["leads"][0]["id"]
        catalog_id = api.post("/api/v4/catalogs", json=[{"name": "Промокоды"}]).json()["_embedded"][
            "catalogs"
        ][0]["id"]
        api.post(
            f"/api/v4/catalogs/{catalog_id}/custom_fields",
            json=[{"name": "Код", "type": "text", "code": "CODE"}],
        )
        element = api.post(
            f"/api/v4/catalogs/{catalog_id}/elements",
            json=[
                {
                    "name": "SALE10",
                    "custom_fields_values": [{"field_code": "CODE", "values": [{"value": "SALE10"}]}],
                }
            ],
        ).json()["_embedded"]["elements"][0]
        assert element["custom_fields_values"][0]["values"][0]["value"] == "SALE10"
        linked = api.post(
            f"/api/v4/leads/{lead_id}/link",
            json=[
                {
                    "to_entity_id": element["id"],
                    "to_entity_type": "catalog_elements",
                    "metadata": {"catalog_id": catalog_id, "quantity": 1},
                }
            ],
        )
        assert linked.status_code == 200
        lead = api.get(f"/api/v4/leads/{lead_id}", params={"with": "catalog_elements"}).json()
        assert lead["_embedded"]["catalog_elements"][0]["id"] == element["id"]
        listed = api.get(f"/api/v4/catalogs/{catalog_id}/elements", params={"query": "sale"}).json()
        assert [e["id"] for e in listed["_embedded"]["elements"]] == [element["id"]]


class TestControl:
    def test_stats_count_requests_by_route_and_reset(self, sandbox: Sandbox) -> None:
        """Request counters name each route with its method (the token exchange too) and restart after a reset."""
        account_id = sandbox.new_account("acme", leads=1)
        api = sandbox.api("acme")
        lead_id = api.get("/api/v4/leads").json()["_embedded"]["leads"][0]["id"]
        api.patch("/api/v4/leads", json=[{"id": lead_id, "name": "x"}])
        api.patch(f"/api/v4/leads/{lead_id}", json={"name": "y"})
        api.get("/api/v4/leads/custom_fields")
        stats = sandbox.control.get("/_sandbox/stats", params={"account_id": account_id}).json()
        assert stats["by_route"] == {
            "POST /oauth2/access_token": 1,
            "GET /api/v4/leads": 1,
            "PATCH /api/v4/leads": 1,
            "PATCH /api/v4/leads/{lead_id}": 1,
            "GET /api/v4/leads/custom_fields": 1,
        }
        sandbox.control.post("/_sandbox/stats/reset")
        assert (
            sandbox.control.get("/_sandbox/stats", params={"account_id": account_id}).json()["requests_total"]
            == 0
        )

    def test_reset_starts_an_empty_world_with_new_settings(self, sandbox: Sandbox) -> None:
        """Reset forgets every account and token and applies the given settings; unknown settings are refused."""
        sandbox.new_account("acme")
        api = sandbox.api("acme")
        answer = sandbox.control.post("/_sandbox/reset", json={"rate_limit_per_second": 1, "seed_demo": True})
        assert answer.json()["accounts"] == 1
        assert api.get("/api/v4/account").status_code == 401
        accounts = sandbox.control.get("/_sandbox/accounts").json()
        assert [a["subdomain"] for a in accounts] == ["demo"]
        assert sandbox.control.post("/_sandbox/reset", json={"rate_limit": 1}).status_code == 400
        assert sandbox.control.post("/_sandbox/reset", json={"batch_limit": "many"}).status_code == 400

    def test_state_dump_shows_the_account(self, sandbox: Sandbox) -> None:
        """The state dump lists the account's leads, fields and webhooks."""
        account_id = sandbox.new_account("acme", leads=4)
        dump = sandbox.control.get("/_sandbox/state", params={"account_id": account_id}).json()
        assert len(dump["leads"]) == 4
        assert {f["code"] for f in dump["fields"]["leads"]} >= {"BUDGET", "NEED"}
        assert dump["webhooks"] == []

    def test_widget_token_is_signed_with_the_client_secret(
        self, start_sandbox: Callable[..., Sandbox]
    ) -> None:
        """The minted X-Auth-Token verifies with the client secret and carries the documented claims."""
        secret = "a-client-secret-long-enough-for-hs256-keys"
        sandbox = start_sandbox(client_secret=secret)
        account_id = sandbox.new_account("acme")
        token = sandbox.control.post(
            "/_sandbox/widget-token",
            json={
                "account_id": account_id,
                "user_id": 7,
                "is_admin": True,
                "aud": "https://leadpact.example",
                "ttl": 600,
            },
        ).json()["token"]
        claims = jwt.decode(token, secret, algorithms=["HS256"], audience="https://leadpact.example")
        assert claims["iss"] == "https://acme.amocrm.ru"
        assert claims["account_id"] == account_id
        assert claims["subdomain"] == "acme"
        assert claims["user_id"] == 7
        assert claims["is_admin"] is True
        assert claims["exp"] - claims["iat"] == 600
        assert {"jti", "nbf", "client_uuid"} <= set(claims)

    def test_stats_without_account_add_up_all_accounts(self, sandbox: Sandbox) -> None:
        """Counters asked for without an account are the sum over every account."""
        sandbox.new_account("alpha")
        sandbox.new_account("beta")
        sandbox.api("alpha").get("/api/v4/leads")
        beta = sandbox.api("beta")
        beta.get("/api/v4/leads")
        beta.get("/api/v4/account")
        totals = sandbox.control.get("/_sandbox/stats").json()
        assert totals["requests_total"] == 5
        assert totals["by_route"] == {
            "POST /oauth2/access_token": 2,
            "GET /api/v4/leads": 2,
            "GET /api/v4/account": 1,
        }
