"""Account webhooks from the sandbox: subscription, the v2 form body, delivery faults and failure handling."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.integration.sandbox.conftest import Receiver, Sandbox

ALL_LEAD_EVENTS = [
    "add_lead",
    "update_lead",
    "status_lead",
    "delete_lead",
    "restore_lead",
    "responsible_lead",
    "note_lead",
]


def subscribe(api: httpx.Client, destination: str, settings: list[str]) -> None:
    answer = api.post("/api/v4/webhooks", json={"destination": destination, "settings": settings})
    assert answer.status_code == 201, answer.text


class TestSubscriptions:
    def test_subscribe_list_and_unsubscribe(self, sandbox: Sandbox, receiver: Receiver) -> None:
        """A subscribed hook is listed (enabled), filterable by destination, and gone after DELETE."""
        sandbox.new_account("acme")
        api = sandbox.api("acme")
        assert api.get("/api/v4/webhooks").status_code == 204
        subscribe(api, receiver.url(), ["add_lead"])
        subscribe(api, receiver.url(), ["add_lead", "update_lead"])
        listed = api.get("/api/v4/webhooks", params={"filter[destination]": receiver.url()}).json()
        (hook,) = listed["_embedded"]["webhooks"]
        assert hook["disabled"] is False
        assert hook["settings"] == ["add_lead", "update_lead"]
        assert (
            api.request("DELETE", "/api/v4/webhooks", json={"destination": receiver.url()}).status_code == 204
        )
        assert api.get("/api/v4/webhooks").status_code == 204


class TestBody:
    def test_add_lead_body_uses_the_v2_layout(self, sandbox: Sandbox, receiver: Receiver) -> None:
        """Creating a lead through the API posts a form body with leads[add][0][…] keys, all strings."""
        account_id = sandbox.new_account("acme", leads=1)
        api = sandbox.api("acme")
        subscribe(api, receiver.url(), ALL_LEAD_EVENTS)
        created = api.post(
            "/api/v4/leads",
            json=[
                {
                    "name": "Новая",
                    "price": 5000,
                    "custom_fields_values": [
                        {"field_code": "PRODUCT", "values": [{"value": "CRM Про"}]},
                        {"field_code": "UTM_SOURCE", "values": [{"value": "yandex"}]},
                        {"field_code": "DECISION_DATE", "values": [{"value": 1767225600}]},
                    ],
                    "_embedded": {"tags": [{"name": "сайт"}]},
                }
            ],
        ).json()
        lead_id = created["_embedded"]["leads"][0]["id"]
        sandbox.flush()
        ((headers, pairs),) = receiver.received
        body = dict(pairs)
        assert headers["user-agent"] == "amoCRM-WebHook-client/1.0"
        assert headers["content-type"] == "application/x-www-form-urlencoded"
        assert body["leads[add][0][id]"] == str(lead_id)
        assert body["leads[add][0][name]"] == "Новая"
        assert body["leads[add][0][price]"] == "5000"
        for key in (
            "status_id",
            "pipeline_id",
            "responsible_user_id",
            "last_modified",
            "modified_user_id",
            "created_user_id",
            "date_create",
            "account_id",
            "created_at",
            "updated_at",
        ):
            assert body[f"leads[add][0][{key}]"].isdigit(), key
        assert body["leads[add][0][tags][0][name]"] == "сайт"
        fields = {body[f"leads[add][0][custom_fields][{i}][code]"]: i for i in range(3)}
        product = f"leads[add][0][custom_fields][{fields['PRODUCT']}]"
        assert body[f"{product}[name]"] == "Продукт"
        assert body[f"{product}[values][0][value]"] == "CRM Про"
        assert body[f"{product}[values][0][enum]"].isdigit()
        assert body[f"leads[add][0][custom_fields][{fields['UTM_SOURCE']}][values][0][value]"] == "yandex"
        # Date fields arrive without the [value] key, as amoCRM sends them.
        assert body[f"leads[add][0][custom_fields][{fields['DECISION_DATE']}][values][0]"] == "1767225600"
        assert body["account[subdomain]"] == "acme"
        assert body["account[id]"] == str(account_id)
        assert body["account[_links][self]"] == "https://acme.amocrm.ru"

    def test_status_change_sends_status_and_update(self, sandbox: Sandbox, receiver: Receiver) -> None:
        """Moving a lead to another stage posts leads[status][0] with old_status_id and leads[update][0]."""
        sandbox.new_account("acme")
        api = sandbox.api("acme")
        lead_id = api.post("/api/v4/leads", json=[{"name": "S"}]).json()["_embedded"]["leads"][0]["id"]
        old_status = api.get(f"/api/v4/leads/{lead_id}").json()["status_id"]
        subscribe(api, receiver.url(), ["update_lead", "status_lead"])
        api.patch(f"/api/v4/leads/{lead_id}", json={"status_id": 142})
        sandbox.flush()
        ((_, pairs),) = receiver.received
        body = dict(pairs)
        assert body["leads[status][0][id]"] == str(lead_id)
        assert body["leads[status][0][status_id]"] == "142"
        assert body["leads[status][0][old_status_id]"] == str(old_status)
        assert body["leads[update][0][id]"] == str(lead_id)
        assert "leads[add][0][id]" not in body

    def test_own_api_patch_comes_back_as_update(self, sandbox: Sandbox, receiver: Receiver) -> None:
        """A PATCH through the API — even one changing nothing — fires update_lead back to subscribers."""
        sandbox.new_account("acme")
        api = sandbox.api("acme")
        lead_id = api.post("/api/v4/leads", json=[{"name": "Echo"}]).json()["_embedded"]["leads"][0]["id"]
        subscribe(api, receiver.url(), ["update_lead"])
        api.patch("/api/v4/leads", json=[{"id": lead_id, "name": "Echo"}])
        api.patch("/api/v4/leads", json=[{"id": lead_id, "tags_to_add": [{"name": "leadpact"}]}])
        sandbox.flush()
        bodies = receiver.bodies()
        assert [b["leads[update][0][id]"] for b in bodies] == [str(lead_id), str(lead_id)]
        assert bodies[1]["leads[update][0][tags][0][name]"] == "leadpact"

    def test_only_subscribed_events_are_sent(self, sandbox: Sandbox, receiver: Receiver) -> None:
        """A hook subscribed to add_lead only never receives updates."""
        sandbox.new_account("acme")
        api = sandbox.api("acme")
        subscribe(api, receiver.url(), ["add_lead"])
        lead_id = api.post("/api/v4/leads", json=[{"name": "A"}]).json()["_embedded"]["leads"][0]["id"]
        api.patch(f"/api/v4/leads/{lead_id}", json={"name": "B"})
        sandbox.flush()
        assert [next(iter(b)) for b in receiver.bodies()] == ["leads[add][0][id]"]

    def test_delete_restore_note_and_contact_events(self, sandbox: Sandbox, receiver: Receiver) -> None:
        """Deleting/restoring a lead, adding a note and adding a contact each post their own v2 keys."""
        account_id = sandbox.new_account("acme")
        api = sandbox.api("acme")
        lead_id = api.post("/api/v4/leads", json=[{"name": "D"}]).json()["_embedded"]["leads"][0]["id"]
        subscribe(api, receiver.url(), [*ALL_LEAD_EVENTS, "add_contact"])
        sandbox.control.post(f"/_sandbox/leads/{lead_id}/delete", params={"account_id": account_id})
        assert api.get(f"/api/v4/leads/{lead_id}").status_code == 404
        sandbox.control.post(f"/_sandbox/leads/{lead_id}/restore", params={"account_id": account_id})
        api.post(
            f"/api/v4/leads/{lead_id}/notes", json=[{"note_type": "common", "params": {"text": "Звонок"}}]
        )
        api.post(
            "/api/v4/contacts",
            json=[
                {
                    "name": "Иван",
                    "custom_fields_values": [
                        {"field_code": "PHONE", "values": [{"value": "+79990001122", "enum_code": "MOB"}]}
                    ],
                }
            ],
        )
        sandbox.flush()
        deleted, restored, note, contact = receiver.bodies()
        assert set(deleted) == {
            "leads[delete][0][id]",
            "leads[delete][0][status_id]",
            "leads[delete][0][pipeline_id]",
            "account[subdomain]",
            "account[id]",
            "account[_links][self]",
        }
        assert restored["leads[restore][0][id]"] == str(lead_id)
        assert note["leads[note][0][note][text]"] == "Звонок"
        assert note["leads[note][0][note][note_type]"] == "4"
        assert note["leads[note][0][note][element_id]"] == str(lead_id)
        assert len(note["leads[note][0][note][timestamp_x]"]) == len("2026-01-01 00:00:00")
        assert contact["contacts[add][0][name]"] == "Иван"
        assert contact["contacts[add][0][custom_fields][0][code]"] == "PHONE"
        assert contact["contacts[add][0][custom_fields][0][values][0][value]"] == "+79990001122"

    def test_seeding_sends_no_webhooks(self, sandbox: Sandbox, receiver: Receiver) -> None:
        """Demo data seeded after subscribing does not reach the receiver."""
        account_id = sandbox.new_account("acme")
        subscribe(sandbox.api("acme"), receiver.url(), ALL_LEAD_EVENTS)
        sandbox.control.post(f"/_sandbox/accounts/{account_id}/seed", json={"leads": 20, "seed": 1})
        sandbox.flush()
        assert receiver.received == []


class TestDeliveryFaults:
    def test_duplicate_rate_one_delivers_everything_twice(
        self, start_sandbox: Callable[..., Sandbox], receiver: Receiver
    ) -> None:
        """With webhook_duplicate_rate=1 every hook arrives twice, identically."""
        sandbox = start_sandbox()
        sandbox.new_account("acme")
        api = sandbox.api("acme")
        subscribe(api, receiver.url(), ["add_lead"])
        sandbox.control.post("/_sandbox/faults", json={"webhook_duplicate_rate": 1.0})
        api.post("/api/v4/leads", json=[{"name": "A"}])
        api.post("/api/v4/leads", json=[{"name": "B"}])
        sandbox.flush()
        names = [b["leads[add][0][name]"] for b in receiver.bodies()]
        assert names == ["A", "A", "B", "B"]

    def test_drop_rate_one_delivers_nothing(self, sandbox: Sandbox, receiver: Receiver) -> None:
        """With webhook_drop_rate=1 hooks are lost, so receivers must reconcile by polling."""
        sandbox.new_account("acme")
        api = sandbox.api("acme")
        subscribe(api, receiver.url(), ["add_lead"])
        sandbox.control.post("/_sandbox/faults", json={"webhook_drop_rate": 1.0})
        api.post("/api/v4/leads", json=[{"name": "A"}])
        sandbox.flush()
        assert receiver.received == []

    def test_sparse_rate_one_sends_ids_only(self, sandbox: Sandbox, receiver: Receiver) -> None:
        """With webhook_sparse_rate=1 update hooks carry the lead id but not its name or fields."""
        sandbox.new_account("acme")
        api = sandbox.api("acme")
        lead_id = api.post("/api/v4/leads", json=[{"name": "A"}]).json()["_embedded"]["leads"][0]["id"]
        subscribe(api, receiver.url(), ["update_lead"])
        sandbox.control.post("/_sandbox/faults", json={"webhook_sparse_rate": 1.0})
        api.patch(f"/api/v4/leads/{lead_id}", json={"name": "B"})
        sandbox.flush()
        (body,) = receiver.bodies()
        assert body["leads[update][0][id]"] == str(lead_id)
        assert "leads[update][0][name]" not in body

    def test_reorder_window_shuffles_but_keeps_every_hook(self, sandbox: Sandbox, receiver: Receiver) -> None:
        """With a reorder window, hooks arrive in a different order but none is lost."""
        sandbox.new_account("acme")
        api = sandbox.api("acme")
        subscribe(api, receiver.url(), ["add_lead"])
        sandbox.control.post("/_sandbox/faults", json={"webhook_reorder_window": 8})
        names = [f"L{i}" for i in range(16)]
        for name in names:
            api.post("/api/v4/leads", json=[{"name": name}])
        sandbox.flush()
        got = [b["leads[add][0][name]"] for b in receiver.bodies()]
        assert sorted(got) == sorted(names)
        assert got != names

    def test_failing_receiver_is_retried_then_disabled(
        self, start_sandbox: Callable[..., Sandbox], receiver: Receiver
    ) -> None:
        """A receiver answering 500 gets each hook 1+retries times; after enough failures the hook is disabled."""
        sandbox = start_sandbox(webhook_retries=2, webhook_disable_after_failures=2)
        account_id = sandbox.new_account("acme")
        api = sandbox.api("acme")
        subscribe(api, receiver.url(), ["add_lead"])
        receiver.status = 500
        api.post("/api/v4/leads", json=[{"name": "A"}])
        api.post("/api/v4/leads", json=[{"name": "B"}])
        sandbox.flush()
        assert len(receiver.received) == 6
        (hook,) = api.get("/api/v4/webhooks").json()["_embedded"]["webhooks"]
        assert hook["disabled"] is True
        stats = sandbox.control.get("/_sandbox/stats", params={"account_id": account_id}).json()
        assert stats["webhooks_failed"] == 2
        api.post("/api/v4/leads", json=[{"name": "C"}])
        sandbox.flush()
        assert len(receiver.received) == 6

    def test_slow_receiver_does_not_slow_the_api(
        self, start_sandbox: Callable[..., Sandbox], receiver: Receiver
    ) -> None:
        """Writes answer immediately even while a dead destination times out in the background."""
        sandbox = start_sandbox(webhook_timeout=1.0, webhook_retries=0)
        sandbox.new_account("acme")
        api = sandbox.api("acme")
        subscribe(api, "http://10.255.255.1:9/unroutable", ["add_lead"])
        subscribe(api, receiver.url(), ["add_lead"])
        answer = api.post("/api/v4/leads", json=[{"name": "A"}])
        assert answer.status_code == 200
        assert answer.elapsed.total_seconds() < 0.5
        assert receiver.wait_for(1, timeout=2.0)
