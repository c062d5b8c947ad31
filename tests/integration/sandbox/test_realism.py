"""The sandbox as strict as amoCRM where real accounts differ from the demo: token pacing, 401s in the rate
window, the events list, substring search, hand-made fields, API-only fields."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.integration.sandbox.conftest import Sandbox

SIX_MONTHS = 183 * 86400


def pair_for(sandbox: Sandbox, subdomain: str) -> dict[str, Any]:
    code = sandbox.consent(subdomain)["code"]
    answer = sandbox.token_request(grant_type="authorization_code", code=code)
    assert answer.status_code == 200, answer.text
    pair: dict[str, Any] = answer.json()
    return pair


def bearer(sandbox: Sandbox, token: str) -> httpx.Client:
    client = httpx.Client(base_url=sandbox.base_url, headers={"Authorization": f"Bearer {token}"})
    sandbox._clients.append(client)
    return client


def leads_field_values(lead: dict[str, Any]) -> dict[str, Any]:
    """A lead's field values by field name (the value of enums, the single value of the rest)."""
    return {item["field_name"]: item["values"][0]["value"] for item in lead["custom_fields_values"] or ()}


class TestTokenEndpointLimits:
    def test_token_endpoint_counts_in_the_rate_window_and_a_429_spares_the_refresh_token(
        self, start_sandbox: Callable[..., Sandbox]
    ) -> None:
        """With 2 requests/s, a refresh right after the exchange and one call gets 429, and the same refresh
        token still works once the window has passed."""
        sandbox = start_sandbox(rate_limit_per_second=2.0)
        account_id = sandbox.new_account("acme")
        pair = pair_for(sandbox, "acme")
        assert bearer(sandbox, pair["access_token"]).get("/api/v4/account").status_code == 200

        refused = sandbox.token_request(grant_type="refresh_token", refresh_token=pair["refresh_token"])
        time.sleep(1.05)
        retried = sandbox.token_request(grant_type="refresh_token", refresh_token=pair["refresh_token"])

        assert refused.status_code == 429
        assert retried.status_code == 200
        stats = sandbox.control.get("/_sandbox/stats", params={"account_id": account_id}).json()
        assert stats["by_route"]["POST /oauth2/access_token"] == 3

    def test_calls_refused_with_401_take_slots_of_the_rate_window(
        self, start_sandbox: Callable[..., Sandbox]
    ) -> None:
        """A client hammering with an expired token is limited too: past the rate, 401s turn into 429s."""
        sandbox = start_sandbox(rate_limit_per_second=3.0)
        account_id = sandbox.new_account("acme")
        pair = pair_for(sandbox, "acme")
        time.sleep(1.05)
        sandbox.control.post("/_sandbox/tokens/expire", json={"account_id": account_id})
        api = bearer(sandbox, pair["access_token"])

        statuses = [api.get("/api/v4/leads").status_code for _ in range(5)]

        assert statuses == [401, 401, 401, 429, 429]

    def test_401s_outside_the_window_when_the_knob_is_off(
        self, start_sandbox: Callable[..., Sandbox]
    ) -> None:
        """With count_401_in_rate_window off, an expired token only ever gets 401."""
        sandbox = start_sandbox(rate_limit_per_second=3.0, count_401_in_rate_window=False)
        account_id = sandbox.new_account("acme")
        pair = pair_for(sandbox, "acme")
        sandbox.control.post("/_sandbox/tokens/expire", json={"account_id": account_id})
        api = bearer(sandbox, pair["access_token"])

        assert {api.get("/api/v4/leads").status_code for _ in range(5)} == {401}

    def test_token_fault_answers_the_next_refresh_with_429_then_heals(self, sandbox: Sandbox) -> None:
        """The token_429s fault makes exactly the next refresh a 429; the refresh token survives it."""
        sandbox.new_account("acme")
        pair = pair_for(sandbox, "acme")
        assert sandbox.control.post("/_sandbox/faults", json={"token_429s": 1}).json()["token_429s"] == 1

        first = sandbox.token_request(grant_type="refresh_token", refresh_token=pair["refresh_token"])
        second = sandbox.token_request(grant_type="refresh_token", refresh_token=pair["refresh_token"])

        assert first.status_code == 429
        assert first.headers["content-type"].startswith("application/problem+json")
        assert second.status_code == 200


class TestEventsList:
    def test_status_changes_are_listed_newest_first_with_before_and_after(self, sandbox: Sandbox) -> None:
        """Moving a lead through two stages leaves two lead_status_changed events naming both statuses."""
        sandbox.new_account("acme")
        api = sandbox.api("acme")
        pipeline = api.get("/api/v4/leads/pipelines").json()["_embedded"]["pipelines"][0]
        stages = [s["id"] for s in pipeline["_embedded"]["statuses"] if s["type"] == 0]
        lead_id = api.post("/api/v4/leads", json=[{"name": "A"}]).json()["_embedded"]["leads"][0]["id"]
        api.patch(f"/api/v4/leads/{lead_id}", json={"status_id": stages[1]})
        api.patch(f"/api/v4/leads/{lead_id}", json={"status_id": 142})
        api.patch(f"/api/v4/leads/{lead_id}", json={"name": "B"})  # not a move: no event

        answer = api.get("/api/v4/events", params={"filter[type]": "lead_status_changed", "limit": 100})

        events = answer.json()["_embedded"]["events"]
        assert [(e["entity_id"], e["entity_type"]) for e in events] == [(lead_id, "lead")] * 2
        assert events[0]["value_before"] == [
            {"lead_status": {"id": stages[1], "pipeline_id": pipeline["id"]}}
        ]
        assert events[0]["value_after"] == [{"lead_status": {"id": 142, "pipeline_id": pipeline["id"]}}]
        assert events[1]["value_before"][0]["lead_status"]["id"] == stages[0]
        assert isinstance(events[0]["id"], str)
        assert api.get(f"/api/v4/events/{events[0]['id']}").json()["entity_id"] == lead_id

    def test_page_holds_at_most_100_events(self, sandbox: Sandbox) -> None:
        """Asking for 250 events a page is refused; 150 events come in pages of 100 and 50."""
        sandbox.new_account("acme")
        api = sandbox.api("acme")
        created = api.post("/api/v4/leads", json=[{"name": f"L{n}"} for n in range(150)]).json()
        ids = [lead["id"] for lead in created["_embedded"]["leads"]]
        pipeline = api.get("/api/v4/leads/pipelines").json()["_embedded"]["pipelines"][0]
        target = [s["id"] for s in pipeline["_embedded"]["statuses"] if s["type"] == 0][1]
        api.patch("/api/v4/leads", json=[{"id": lead_id, "status_id": target} for lead_id in ids])
        moves = {"filter[type][]": "lead_status_changed", "filter[entity]": "lead"}

        too_many = api.get("/api/v4/events", params={**moves, "limit": 250})
        first = api.get("/api/v4/events", params={**moves, "limit": 100}).json()
        second = api.get("/api/v4/events", params={**moves, "limit": 100, "page": 2}).json()

        assert too_many.status_code == 400
        assert len(first["_embedded"]["events"]) == 100 and "next" in first["_links"]
        assert len(second["_embedded"]["events"]) == 50 and "next" not in second["_links"]
        listed = {e["entity_id"] for page in (first, second) for e in page["_embedded"]["events"]}
        assert listed == set(ids)

    def test_events_filter_by_time_and_status(self, sandbox: Sandbox) -> None:
        """filter[created_at] and filter[value_after][leads_statuses] choose the moves asked for."""
        sandbox.new_account("acme")
        api = sandbox.api("acme")
        pipeline = api.get("/api/v4/leads/pipelines").json()["_embedded"]["pipelines"][0]
        lead_ids = [
            lead["id"]
            for lead in api.post("/api/v4/leads", json=[{"name": "A"}, {"name": "B"}]).json()["_embedded"][
                "leads"
            ]
        ]
        api.patch("/api/v4/leads", json=[{"id": lead_ids[0], "status_id": 142}])
        api.patch("/api/v4/leads", json=[{"id": lead_ids[1], "status_id": 143}])
        now = int(time.time())
        won = {
            "filter[type]": "lead_status_changed",
            "filter[value_after][leads_statuses][0][pipeline_id]": pipeline["id"],
            "filter[value_after][leads_statuses][0][status_id]": 142,
        }

        found = api.get("/api/v4/events", params=won).json()["_embedded"]["events"]
        future = api.get("/api/v4/events", params={"filter[created_at][from]": now + 60})
        past = api.get("/api/v4/events", params={"filter[created_at]": now - 60}).json()

        assert [e["entity_id"] for e in found] == [lead_ids[0]]
        assert future.status_code == 204
        assert {e["type"] for e in past["_embedded"]["events"]} == {"lead_added", "lead_status_changed"}

    def test_seeded_demo_leads_have_a_status_history(self, sandbox: Sandbox) -> None:
        """Every seeded lead past its first stage has moves in the events list, ending at its status."""
        sandbox.new_account("acme", leads=40)
        api = sandbox.api("acme")
        leads = api.get("/api/v4/leads", params={"limit": 250}).json()["_embedded"]["leads"]
        events: list[dict[str, Any]] = []
        page = 1
        while True:
            answer = api.get("/api/v4/events", params={"filter[type]": "lead_status_changed", "page": page})
            if answer.status_code == 204:
                break
            events += answer.json()["_embedded"]["events"]
            page += 1
        last_move = {}
        for event in sorted(events, key=lambda e: e["created_at"]):
            last_move[event["entity_id"]] = event["value_after"][0]["lead_status"]["id"]
        moved = [lead for lead in leads if lead["id"] in last_move]
        assert len(moved) >= len(leads) // 2
        assert all(last_move[lead["id"]] == lead["status_id"] for lead in moved)
        assert all(e["created_at"] <= int(time.time()) for e in events)


class TestSearch:
    def test_query_matches_substrings_only(self, sandbox: Sandbox) -> None:
        """A query finds leads whose name or field holds it, and never leads that only share some digits."""
        sandbox.new_account("acme", leads=1)
        api = sandbox.api("acme")

        def comment(text: str) -> list[dict[str, Any]]:
            return [{"field_code": "COMMENT", "values": [{"value": text}]}]

        api.post(
            "/api/v4/leads",
            json=[
                {"name": "Ромашка", "custom_fields_values": comment("Счёт 2024-11 выставлен")},
                {"name": "Звонок", "custom_fields_values": comment("Перезвонить 8 (912) 024-11-00")},
                {"name": "Договор", "custom_fields_values": comment("Договор 20241")},
            ],
        )

        found = api.get("/api/v4/leads", params={"query": "2024-11"}).json()["_embedded"]["leads"]
        by_word = api.get("/api/v4/leads", params={"query": "счёт"}).json()["_embedded"]["leads"]
        nothing = api.get("/api/v4/leads", params={"query": "Счёт 202411"})

        assert [lead["name"] for lead in found] == ["Ромашка"]
        assert [lead["name"] for lead in by_word] == ["Ромашка"]
        assert nothing.status_code == 204


class TestDemoTextField:
    def test_demo_account_has_a_text_field_a_client_can_write(self, sandbox: Sandbox) -> None:
        """The seeded demo account has a plain text lead field, and a lead created with it keeps the value."""
        sandbox.new_account("acme", leads=3)
        api = sandbox.api("acme")
        fields = api.get("/api/v4/leads/custom_fields").json()["_embedded"]["custom_fields"]
        text = next(f for f in fields if f["type"] == "text")

        created = api.post(
            "/api/v4/leads",
            json=[
                {"name": "T", "custom_fields_values": [{"field_id": text["id"], "values": [{"value": "hi"}]}]}
            ],
        ).json()["_embedded"]["leads"][0]

        lead = api.get(f"/api/v4/leads/{created['id']}").json()
        assert leads_field_values(lead)[text["name"]] == "hi"


class TestRealisticAccount:
    def test_fields_people_made_have_no_codes_and_ldr_is_a_yes_no_select(self, sandbox: Sandbox) -> None:
        """The realistic account's BANT fields are found by name only; tracking fields keep their codes."""
        answer = sandbox.control.post(
            "/_sandbox/accounts", json={"subdomain": "north", "shape": "realistic", "leads": 10}
        )
        assert answer.status_code == 201
        api = sandbox.api("north")
        fields = {
            f["name"]: f for f in api.get("/api/v4/leads/custom_fields").json()["_embedded"]["custom_fields"]
        }
        pipelines = api.get("/api/v4/leads/pipelines").json()["_embedded"]["pipelines"]

        hand_made = (
            "Бюджет клиента",
            "ЛПР",
            "Потребность",
            "Дата принятия решения",
            "Продукт",
            "Комментарий",
        )
        assert all(fields[name]["code"] is None for name in hand_made)
        assert fields["ЛПР"]["type"] == "select"
        assert [e["value"] for e in fields["ЛПР"]["enums"]] == ["Да", "Нет"]
        assert (fields["Бюджет клиента"]["type"], fields["Дата принятия решения"]["type"]) == (
            "numeric",
            "date",
        )
        assert any(f["type"] == "text" for f in fields.values())
        tracking = {f["code"] for f in fields.values() if f["type"] == "tracking_data"}
        assert {"UTM_SOURCE", "UTM_MEDIUM", "UTM_CAMPAIGN", "UTM_CONTENT", "UTM_TERM", "REFERRER"} <= tracking
        assert not {"BUDGET", "DECISION_MAKER", "NEED"} & {f["code"] for f in fields.values()}
        assert [p["name"] for p in pipelines] == ["Продажи", "Тендеры"]

    def test_leads_are_filled_completely_partly_or_not_at_all(self, sandbox: Sandbox) -> None:
        """Of 200 realistic leads some have budget, ЛПР = Да and a decision within six months, some have part
        of it, and some have none of it."""
        sandbox.control.post(
            "/_sandbox/accounts", json={"subdomain": "north", "shape": "realistic", "leads": 200}
        )
        api = sandbox.api("north")
        leads = [
            lead
            for page in (1, 2)
            for lead in api.get("/api/v4/leads", params={"limit": 100, "page": page}).json()["_embedded"][
                "leads"
            ]
        ]
        horizon = datetime.now(UTC) + timedelta(days=183)
        bant = ("Бюджет клиента", "ЛПР", "Дата принятия решения")

        def complete(values: dict[str, Any]) -> bool:
            decision = values.get("Дата принятия решения")
            return (
                values.get("ЛПР") == "Да"
                and values.get("Бюджет клиента") is not None
                and decision is not None
                and datetime.fromtimestamp(decision, UTC) <= horizon
            )

        filled = [leads_field_values(lead) for lead in leads]
        complete_count = sum(complete(values) for values in filled)
        empty_count = sum(not any(name in values for name in bant) for values in filled)
        partial_count = len(leads) - complete_count - empty_count
        assert len(leads) == 200
        assert 40 <= complete_count <= 100
        assert empty_count >= 40
        assert partial_count >= 40
        users = api.get("/api/v4/users").json()["_embedded"]["users"]
        assert all(any("а" <= c <= "я" for c in user["name"].lower()) for user in users)

    def test_demo_world_can_start_with_the_realistic_account(self, sandbox: Sandbox) -> None:
        """A reset with demo_account=realistic seeds the realistic account; an unknown shape is refused."""
        answer = sandbox.control.post(
            "/_sandbox/reset", json={"seed_demo": True, "demo_leads": 5, "demo_account": "realistic"}
        )
        refused = sandbox.control.post("/_sandbox/reset", json={"seed_demo": True, "demo_account": "huge"})

        assert answer.status_code == 200
        assert refused.status_code == 400
        accounts = sandbox.control.get("/_sandbox/accounts").json()
        assert [(a["subdomain"], a["leads"]) for a in accounts] == [("realistic", 5)]


class TestApiOnlyFields:
    def test_api_only_field_is_created_and_read_only_for_people(self, sandbox: Sandbox) -> None:
        """A field created with is_api_only is listed so; a person's edit of it is refused, the API's is not."""
        account_id = sandbox.new_account("acme")
        api = sandbox.api("acme")
        created = api.post(
            "/api/v4/leads/custom_fields",
            json=[
                {"name": "Уровень", "type": "text", "is_api_only": True},
                {"name": "Заметка", "type": "text"},
            ],
        ).json()["_embedded"]["custom_fields"]
        locked, free = created[0]["id"], created[1]["id"]
        lead_id = api.post("/api/v4/leads", json=[{"name": "A"}]).json()["_embedded"]["leads"][0]["id"]

        by_api = api.patch(
            f"/api/v4/leads/{lead_id}",
            json={"custom_fields_values": [{"field_id": locked, "values": [{"value": "hot"}]}]},
        )
        by_person = sandbox.control.patch(
            f"/_sandbox/accounts/{account_id}/leads",
            json=[
                {"id": lead_id, "custom_fields_values": [{"field_id": locked, "values": [{"value": "cold"}]}]}
            ],
        )
        person_free = sandbox.control.patch(
            f"/_sandbox/accounts/{account_id}/leads",
            json=[{"id": lead_id, "custom_fields_values": [{"field_id": free, "values": [{"value": "ok"}]}]}],
        )

        assert api.get(f"/api/v4/leads/custom_fields/{locked}").json()["is_api_only"] is True
        assert by_api.status_code == 200
        assert by_person.status_code == 400
        assert by_person.json()["validation-errors"][0]["errors"][0]["code"] == "FieldIsApiOnly"
        assert person_free.status_code == 200
        values = leads_field_values(api.get(f"/api/v4/leads/{lead_id}").json())
        assert values == {"Уровень": "hot", "Заметка": "ok"}

    def test_is_api_only_must_be_a_boolean(self, sandbox: Sandbox) -> None:
        """A field whose is_api_only is not a boolean is refused with a validation error."""
        sandbox.new_account("acme")
        api = sandbox.api("acme")
        answer = api.post(
            "/api/v4/leads/custom_fields", json=[{"name": "X", "type": "text", "is_api_only": "yes"}]
        )
        assert answer.status_code == 400
        assert answer.json()["validation-errors"][0]["errors"][0]["path"] == "is_api_only"
