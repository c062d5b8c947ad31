"""Leads over the sandbox API: lists, pagination, filters, batch writes, validation and tags."""

from __future__ import annotations

from collections.abc import Callable
from email.utils import formatdate
from typing import Any

import httpx

from tests.integration.sandbox.conftest import Sandbox


def create_leads(api: httpx.Client, leads: list[dict[str, Any]]) -> list[int]:
    answer = api.post("/api/v4/leads", json=leads)
    assert answer.status_code == 200, answer.text
    return [item["id"] for item in answer.json()["_embedded"]["leads"]]


def field_ids(api: httpx.Client) -> dict[str, dict[str, Any]]:
    fields = api.get("/api/v4/leads/custom_fields", params={"limit": 250}).json()["_embedded"][
        "custom_fields"
    ]
    return {field["code"]: field for field in fields}


class TestLists:
    def test_empty_list_is_204_with_empty_body(self, sandbox: Sandbox) -> None:
        """An account without leads answers the list with 204 and no body, like amoCRM."""
        sandbox.new_account("acme")
        answer = sandbox.api("acme").get("/api/v4/leads")
        assert answer.status_code == 204
        assert answer.content == b""

    def test_pages_link_to_the_next_until_the_last(self, sandbox: Sandbox) -> None:
        """Following `_links.next` visits every lead once; the last page has no next link."""
        sandbox.new_account("acme", leads=23)
        api = sandbox.api("acme")
        url: str | None = "/api/v4/leads?limit=10"
        seen: list[int] = []
        pages = 0
        while url:
            body = api.get(url).json()
            pages += 1
            seen += [lead["id"] for lead in body["_embedded"]["leads"]]
            url = body["_links"].get("next", {}).get("href")
        assert pages == 3
        assert len(seen) == len(set(seen)) == 23

    def test_page_past_the_end_is_204(self, sandbox: Sandbox) -> None:
        """Asking for a page beyond the last lead gives 204."""
        sandbox.new_account("acme", leads=5)
        assert sandbox.api("acme").get("/api/v4/leads", params={"page": 2, "limit": 5}).status_code == 204

    def test_limit_above_250_is_a_400_problem(self, sandbox: Sandbox) -> None:
        """A page size over 250 is refused with a problem+json 400."""
        sandbox.new_account("acme")
        answer = sandbox.api("acme").get("/api/v4/leads", params={"limit": 251})
        assert answer.status_code == 400
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["status"] == 400

    def test_filter_by_ids_returns_just_those(self, sandbox: Sandbox) -> None:
        """`filter[id][]` returns exactly the named leads."""
        sandbox.new_account("acme", leads=30)
        api = sandbox.api("acme")
        all_ids = [
            lead["id"]
            for lead in api.get("/api/v4/leads", params={"limit": 250}).json()["_embedded"]["leads"]
        ]
        wanted = [all_ids[3], all_ids[17]]
        body = api.get("/api/v4/leads", params={"filter[id][]": wanted}).json()
        assert [lead["id"] for lead in body["_embedded"]["leads"]] == wanted
        single = api.get("/api/v4/leads", params={"filter[id]": all_ids[5]}).json()
        assert [lead["id"] for lead in single["_embedded"]["leads"]] == [all_ids[5]]

    def test_filter_by_updated_at_and_order_desc(self, sandbox: Sandbox) -> None:
        """`filter[updated_at][from]` with `order[updated_at]=desc` gives only newer leads, newest first."""
        sandbox.new_account("acme", leads=40)
        api = sandbox.api("acme")
        leads = api.get("/api/v4/leads", params={"limit": 250}).json()["_embedded"]["leads"]
        middle = sorted(lead["updated_at"] for lead in leads)[20]
        body = api.get(
            "/api/v4/leads",
            params={"filter[updated_at][from]": middle, "order[updated_at]": "desc", "limit": 250},
        ).json()
        stamps = [lead["updated_at"] for lead in body["_embedded"]["leads"]]
        assert stamps == sorted(stamps, reverse=True)
        assert len(stamps) == sum(1 for lead in leads if lead["updated_at"] >= middle)

    def test_filter_by_status(self, sandbox: Sandbox) -> None:
        """`filter[statuses][0][...]` returns only leads in that pipeline status."""
        sandbox.new_account("acme", leads=40)
        api = sandbox.api("acme")
        leads = api.get("/api/v4/leads", params={"limit": 250}).json()["_embedded"]["leads"]
        target = leads[0]
        body = api.get(
            "/api/v4/leads",
            params={
                "filter[statuses][0][pipeline_id]": target["pipeline_id"],
                "filter[statuses][0][status_id]": target["status_id"],
                "limit": 250,
            },
        ).json()
        expected = [
            lead["id"]
            for lead in leads
            if (lead["pipeline_id"], lead["status_id"]) == (target["pipeline_id"], target["status_id"])
        ]
        assert [lead["id"] for lead in body["_embedded"]["leads"]] == expected

    def test_with_contacts_shows_linked_contacts(self, sandbox: Sandbox) -> None:
        """`with=contacts` adds `_embedded.contacts` with the main contact; without it they are absent."""
        sandbox.new_account("acme", leads=2)
        api = sandbox.api("acme")
        plain = api.get("/api/v4/leads").json()["_embedded"]["leads"][0]
        assert "contacts" not in plain["_embedded"]
        lead = api.get(f"/api/v4/leads/{plain['id']}", params={"with": "contacts"}).json()
        assert lead["_embedded"]["contacts"][0]["is_main"] is True
        contact = api.get(f"/api/v4/contacts/{lead['_embedded']['contacts'][0]['id']}").json()
        codes = {field["field_code"] for field in contact["custom_fields_values"]}
        assert codes == {"PHONE", "EMAIL"}

    def test_if_modified_since_returns_only_newer_leads(self, sandbox: Sandbox) -> None:
        """With If-Modified-Since only leads changed after that moment come back; none newer gives 204."""
        sandbox.new_account("acme", leads=30)
        api = sandbox.api("acme")
        leads = api.get("/api/v4/leads", params={"limit": 250}).json()["_embedded"]["leads"]
        middle = sorted(lead["updated_at"] for lead in leads)[15]
        header = {"If-Modified-Since": formatdate(middle, usegmt=True)}
        newer = api.get("/api/v4/leads", params={"limit": 250}, headers=header).json()["_embedded"]["leads"]
        assert {lead["id"] for lead in newer} == {lead["id"] for lead in leads if lead["updated_at"] > middle}
        latest = {"If-Modified-Since": formatdate(max(lead["updated_at"] for lead in leads), usegmt=True)}
        assert api.get("/api/v4/leads", headers=latest).status_code == 204

    def test_missing_lead_is_a_404_problem(self, sandbox: Sandbox) -> None:
        """Reading a lead that does not exist answers 404 problem+json."""
        sandbox.new_account("acme")
        answer = sandbox.api("acme").get("/api/v4/leads/999")
        assert answer.status_code == 404
        assert answer.headers["content-type"].startswith("application/problem+json")


class TestWrites:
    def test_create_assigns_ids_and_echoes_request_ids(self, sandbox: Sandbox) -> None:
        """Creating leads returns new ids with our request ids, and the leads can be read back."""
        sandbox.new_account("acme")
        api = sandbox.api("acme")
        answer = api.post(
            "/api/v4/leads", json=[{"name": "A", "price": 10, "request_id": "a"}, {"name": "B"}]
        )
        created = answer.json()["_embedded"]["leads"]
        assert [item["request_id"] for item in created] == ["a", "1"]
        lead = api.get(f"/api/v4/leads/{created[0]['id']}").json()
        assert (lead["name"], lead["price"]) == ("A", 10)
        assert lead["created_at"] == lead["updated_at"]

    def test_batch_over_250_is_refused(self, sandbox: Sandbox) -> None:
        """A write of 251 entities is refused with 400 and creates nothing."""
        sandbox.new_account("acme")
        api = sandbox.api("acme")
        answer = api.post("/api/v4/leads", json=[{"name": f"L{i}"} for i in range(251)])
        assert answer.status_code == 400
        assert api.get("/api/v4/leads").status_code == 204

    def test_unknown_field_id_gets_amocrm_validation_errors_body(self, sandbox: Sandbox) -> None:
        """Writing to a field that does not exist answers amoCRM's exact validation-errors 400 body."""
        sandbox.new_account("acme")
        api = sandbox.api("acme")
        answer = api.post(
            "/api/v4/leads",
            json=[{"name": "X", "custom_fields_values": [{"field_id": 1, "values": [{"value": "x"}]}]}],
        )
        assert answer.status_code == 400
        body = answer.json()
        assert set(body) == {"validation-errors", "title", "type", "status", "detail"}
        assert body["title"] == "Bad Request"
        assert body["type"] == "https://httpstatus.es/400"
        assert body["detail"] == "Request validation failed"
        (item,) = body["validation-errors"]
        assert item["request_id"] == "0"
        assert item["errors"][0]["code"] == "NotSupportedChoice"
        assert item["errors"][0]["path"] == "custom_fields_values.0.field_id"
        assert api.get("/api/v4/leads").status_code == 204

    def test_field_values_by_code_label_and_enum(self, sandbox: Sandbox) -> None:
        """Fields are written by code; a select accepts its label or enum id; reads carry name, code and type."""
        sandbox.new_account("acme", leads=1)
        api = sandbox.api("acme")
        product = field_ids(api)["PRODUCT"]
        enum = product["enums"][1]
        (lead_id,) = create_leads(
            api,
            [
                {
                    "name": "X",
                    "custom_fields_values": [
                        {"field_code": "BUDGET", "values": [{"value": 150000}]},
                        {"field_code": "PRODUCT", "values": [{"value": enum["value"]}]},
                        {"field_code": "DECISION_DATE", "values": [{"value": 1767225600}]},
                    ],
                }
            ],
        )
        fields = {
            f["field_code"]: f for f in api.get(f"/api/v4/leads/{lead_id}").json()["custom_fields_values"]
        }
        assert fields["PRODUCT"]["values"][0]["enum_id"] == enum["id"]
        assert fields["PRODUCT"]["field_type"] == "select"
        assert fields["BUDGET"]["field_name"] == "Бюджет"
        assert fields["DECISION_DATE"]["values"][0]["value"] == 1767225600
        other = product["enums"][2]
        api.patch(
            f"/api/v4/leads/{lead_id}",
            json={
                "custom_fields_values": [{"field_id": product["id"], "values": [{"enum_id": other["id"]}]}]
            },
        )
        fields = {
            f["field_code"]: f for f in api.get(f"/api/v4/leads/{lead_id}").json()["custom_fields_values"]
        }
        assert fields["PRODUCT"]["values"][0]["value"] == other["value"]
        assert "BUDGET" in fields

    def test_type_errors_are_reported_per_entity(self, sandbox: Sandbox) -> None:
        """Text in a numeric field and an unknown select label are both reported, on the right entity."""
        sandbox.new_account("acme", leads=1)
        api = sandbox.api("acme")
        answer = api.post(
            "/api/v4/leads",
            json=[
                {"name": "ok"},
                {
                    "name": "bad",
                    "custom_fields_values": [
                        {"field_code": "BUDGET", "values": [{"value": "много"}]},
                        {"field_code": "PRODUCT", "values": [{"value": "Нет такого"}]},
                    ],
                },
            ],
        )
        assert answer.status_code == 400
        (item,) = answer.json()["validation-errors"]
        assert item["request_id"] == "1"
        assert [e["path"] for e in item["errors"]] == [
            "custom_fields_values.0.values.0.value",
            "custom_fields_values.1.values.0.value",
        ]

    def test_patch_changing_nothing_still_bumps_updated_at(
        self, start_sandbox: Callable[..., Sandbox]
    ) -> None:
        """Even a PATCH that changes nothing moves updated_at forward, as amoCRM does."""
        sandbox = start_sandbox()
        ticks = iter(range(1_800_000_000, 1_900_000_000, 100))
        sandbox.state.clock = lambda: next(ticks)
        sandbox.new_account("acme")
        api = sandbox.api("acme")
        (lead_id,) = create_leads(api, [{"name": "Same"}])
        before = api.get(f"/api/v4/leads/{lead_id}").json()["updated_at"]
        answer = api.patch("/api/v4/leads", json=[{"id": lead_id, "name": "Same"}])
        assert answer.status_code == 200
        after = api.get(f"/api/v4/leads/{lead_id}").json()
        assert after["updated_at"] > before
        assert after["name"] == "Same"

    def test_won_status_sets_closed_at(self, sandbox: Sandbox) -> None:
        """Moving a lead to 142 (won) closes it; moving it back reopens it."""
        sandbox.new_account("acme")
        api = sandbox.api("acme")
        (lead_id,) = create_leads(api, [{"name": "Deal"}])
        api.patch(f"/api/v4/leads/{lead_id}", json={"status_id": 142})
        won = api.get(f"/api/v4/leads/{lead_id}").json()
        assert won["status_id"] == 142
        assert won["closed_at"] is not None
        stages = api.get(f"/api/v4/leads/pipelines/{won['pipeline_id']}/statuses").json()["_embedded"][
            "statuses"
        ]
        api.patch(f"/api/v4/leads/{lead_id}", json={"status_id": stages[1]["id"]})
        assert api.get(f"/api/v4/leads/{lead_id}").json()["closed_at"] is None

    def test_duplicate_field_code_is_refused(self, sandbox: Sandbox) -> None:
        """Creating a second lead field with a code already in use is a 400 validation error."""
        sandbox.new_account("acme", leads=1)
        api = sandbox.api("acme")
        answer = api.post(
            "/api/v4/leads/custom_fields", json=[{"name": "Ещё бюджет", "type": "numeric", "code": "BUDGET"}]
        )
        assert answer.status_code == 400
        assert answer.json()["validation-errors"][0]["errors"][0]["path"] == "code"
        created = api.post(
            "/api/v4/leads/custom_fields",
            json=[
                {
                    "name": "Уровень",
                    "type": "select",
                    "code": "LP_LEVEL",
                    "enums": [{"value": "hot", "sort": 1}],
                }
            ],
        )
        field = created.json()["_embedded"]["custom_fields"][0]
        assert field["code"] == "LP_LEVEL"
        assert field["enums"][0]["value"] == "hot"
        assert isinstance(field["enums"][0]["id"], int)


class TestTags:
    def _tags(self, api: httpx.Client, lead_id: int) -> set[str]:
        return {tag["name"] for tag in api.get(f"/api/v4/leads/{lead_id}").json()["_embedded"]["tags"]}

    def test_embedded_tags_replace_all_tags(self, sandbox: Sandbox) -> None:
        """Sending `_embedded.tags` leaves exactly those tags; null detaches every tag."""
        sandbox.new_account("acme")
        api = sandbox.api("acme")
        (lead_id,) = create_leads(
            api, [{"name": "T", "_embedded": {"tags": [{"name": "manual"}, {"name": "vip"}]}}]
        )
        api.patch(f"/api/v4/leads/{lead_id}", json={"_embedded": {"tags": [{"name": "leadpact"}]}})
        assert self._tags(api, lead_id) == {"leadpact"}
        api.patch(f"/api/v4/leads/{lead_id}", json={"_embedded": {"tags": None}})
        assert self._tags(api, lead_id) == set()

    def test_tags_to_add_and_delete_keep_other_tags(self, sandbox: Sandbox) -> None:
        """`tags_to_add`/`tags_to_delete` change only the named tags; people's tags survive."""
        sandbox.new_account("acme")
        api = sandbox.api("acme")
        (lead_id,) = create_leads(
            api, [{"name": "T", "_embedded": {"tags": [{"name": "manual"}, {"name": "old"}]}}]
        )
        api.patch(
            "/api/v4/leads",
            json=[{"id": lead_id, "tags_to_add": [{"name": "hot"}], "tags_to_delete": [{"name": "old"}]}],
        )
        assert self._tags(api, lead_id) == {"manual", "hot"}
        tag_id = next(
            t["id"]
            for t in api.get("/api/v4/leads/tags", params={"filter[name]": "hot"}).json()["_embedded"]["tags"]
        )
        api.patch("/api/v4/leads", json=[{"id": lead_id, "tags_to_delete": [{"id": tag_id}]}])
        assert self._tags(api, lead_id) == {"manual"}

    def test_embedded_tags_win_over_tags_to_add(self, sandbox: Sandbox) -> None:
        """When both are sent, `_embedded.tags` wins and `tags_to_add` is ignored."""
        sandbox.new_account("acme")
        api = sandbox.api("acme")
        (lead_id,) = create_leads(api, [{"name": "T"}])
        api.patch(
            f"/api/v4/leads/{lead_id}",
            json={"_embedded": {"tags": [{"name": "only"}]}, "tags_to_add": [{"name": "ignored"}]},
        )
        assert self._tags(api, lead_id) == {"only"}

    def test_tag_directory_lists_and_creates(self, sandbox: Sandbox) -> None:
        """The tags directory creates tags and finds them by name or query."""
        sandbox.new_account("acme")
        api = sandbox.api("acme")
        api.post("/api/v4/leads/tags", json=[{"name": "Горячий"}, {"name": "Холодный"}])
        found = api.get("/api/v4/leads/tags", params={"query": "гор"}).json()["_embedded"]["tags"]
        assert [tag["name"] for tag in found] == ["Горячий"]
        assert api.get("/api/v4/leads/tags", params={"filter[name]": "нет"}).status_code == 204


class TestContacts:
    def test_contacts_link_to_leads_both_ways(self, sandbox: Sandbox) -> None:
        """A lead created with `_embedded.contacts` shows the contact, and the contact lists the lead."""
        sandbox.new_account("acme")
        api = sandbox.api("acme")
        created = api.post("/api/v4/contacts", json=[{"first_name": "Ольга", "last_name": "Орлова"}]).json()
        contact_id = created["_embedded"]["contacts"][0]["id"]
        (lead_id,) = create_leads(api, [{"name": "L", "_embedded": {"contacts": [{"id": contact_id}]}}])
        lead = api.get(f"/api/v4/leads/{lead_id}", params={"with": "contacts"}).json()
        assert [(c["id"], c["is_main"]) for c in lead["_embedded"]["contacts"]] == [(contact_id, True)]
        contact = api.get(f"/api/v4/contacts/{contact_id}", params={"with": "leads"}).json()
        assert contact["name"] == "Ольга Орлова"
        assert contact["_embedded"]["leads"] == [{"id": lead_id}]

    def test_contacts_are_found_by_phone_digits(self, sandbox: Sandbox) -> None:
        """Searching contacts by a phone number finds them whatever the formatting."""
        sandbox.new_account("acme")
        api = sandbox.api("acme")
        api.post(
            "/api/v4/contacts",
            json=[
                {
                    "name": "Иван",
                    "custom_fields_values": [
                        {"field_code": "PHONE", "values": [{"value": "+7 (999) 123-45-67"}]}
                    ],
                },
                {
                    "name": "Пётр",
                    "custom_fields_values": [{"field_code": "EMAIL", "values": [{"value": "p@example.ru"}]}],
                },
            ],
        )
        found = api.get("/api/v4/contacts", params={"query": "79991234567"}).json()["_embedded"]["contacts"]
        assert [c["name"] for c in found] == ["Иван"]
        phone = found[0]["custom_fields_values"][0]["values"][0]
        assert phone["enum_code"] == "WORK"

    def test_contact_patch_with_unknown_responsible_is_refused(self, sandbox: Sandbox) -> None:
        """Assigning a contact to a user who does not exist is a validation error and changes nothing."""
        sandbox.new_account("acme")
        api = sandbox.api("acme")
        contact_id = api.post("/api/v4/contacts", json=[{"name": "A"}]).json()["_embedded"]["contacts"][0][
            "id"
        ]
        answer = api.patch(f"/api/v4/contacts/{contact_id}", json={"name": "B", "responsible_user_id": 1})
        assert answer.status_code == 400
        assert answer.json()["validation-errors"][0]["errors"][0]["path"] == "responsible_user_id"
        assert api.get(f"/api/v4/contacts/{contact_id}").json()["name"] == "A"
