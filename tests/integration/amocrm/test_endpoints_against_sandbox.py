"""Every AccountApi method against the sandbox: the paths, bodies and answer shapes agree."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from integration.amocrm import AccountApi, AmoClient, TokenBucket
from tests.integration.amocrm.sandbox import installed_api, running_sandbox

RATE = 50.0


@pytest.fixture
def sandbox_url() -> Iterator[str]:
    with running_sandbox(rate_limit_per_second=RATE) as base_url:
        yield base_url


@pytest.fixture
async def api(sandbox_url: str) -> AsyncIterator[AccountApi]:
    async with httpx.AsyncClient(timeout=10) as http:
        client = AmoClient(http, limiter=TokenBucket(RATE), backoff_base=0.01, backoff_max=0.2)
        account_api, _, _ = await installed_api(client, sandbox_url, "endpoints", leads=5)
        yield account_api


class TestAccountData:
    async def test_account_users_and_pipelines(self, api: AccountApi) -> None:
        """Provisioning can read the account, its users and its pipelines with their statuses."""
        account = await api.get_account()
        users = await api.list_users()
        pipelines = await api.list_pipelines()

        assert account.id == api.account_id
        assert users and all(user.id for user in users)
        assert pipelines and all(pipeline.statuses for pipeline in pipelines)
        assert {142, 143} <= {status.id for status in pipelines[0].statuses}


class TestLeadsAndContacts:
    async def test_create_read_update_leads(self, api: AccountApi) -> None:
        """Leads created through the client can be read back one by one and in bulk, then updated."""
        ids = await api.create_leads([{"name": "A", "price": 10}, {"name": "B", "price": 20}])

        lead = await api.get_lead(ids[0])
        await api.update_leads([{"id": ids[1], "price": 25}])
        both = await api.get_leads(ids)

        assert lead.name == "A"
        assert sorted((item.name, item.price) for item in both) == [("A", 10), ("B", 25)]

    async def test_contacts_of_seeded_leads(self, api: AccountApi) -> None:
        """A lead's linked contacts can be fetched, listed and updated."""
        leads = [lead async for lead in api.iter_leads(with_=("contacts",))]
        contact_ids = sorted({contact_id for lead in leads for contact_id in lead.contact_ids})
        assert contact_ids

        contacts = await api.get_contacts(contact_ids)
        await api.update_contacts([{"id": contact_ids[0], "name": "Renamed"}])
        listed = {contact.id: contact async for contact in api.iter_contacts()}

        assert sorted(contact.id for contact in contacts) == contact_ids
        assert listed[contact_ids[0]].name == "Renamed"


class TestCustomFields:
    async def test_create_and_list_lead_fields(self, api: AccountApi) -> None:
        """LeadPact's select field is created with its options and then listed with enum ids."""
        created = await api.create_custom_fields(
            "leads",
            [{"name": "LeadPact level", "type": "select", "code": "LP_LEVEL", "enums": [{"value": "hot"}]}],
        )
        listed = await api.list_custom_fields("leads")

        assert created[0].code == "LP_LEVEL"
        level = next(field for field in listed if field.code == "LP_LEVEL")
        assert level.enum_id("hot") is not None
        assert {"BUDGET", "UTM_SOURCE"} <= {field.code for field in listed}


class TestNotesAndTasks:
    async def test_notes_and_tasks_on_a_lead(self, api: AccountApi) -> None:
        """A note and a task can be attached to a lead, and the task listed and completed."""
        lead_id = (await api.create_leads([{"name": "With activity"}]))[0]

        note_ids = await api.add_notes(
            "leads", [{"entity_id": lead_id, "note_type": "common", "params": {"text": "hello"}}]
        )
        task_ids = await api.create_tasks(
            [{"text": "Call", "complete_till": 1_900_000_000, "entity_id": lead_id, "entity_type": "leads"}]
        )
        await api.update_tasks([{"id": task_ids[0], "is_completed": True}])
        tasks = {task.id: task async for task in api.iter_tasks()}

        assert len(note_ids) == 1
        assert tasks[task_ids[0]].is_completed is True


class TestCatalogs:
    async def test_catalog_elements_linked_to_a_lead(self, api: AccountApi) -> None:
        """A promo catalog gets an element, which is renamed and linked to a lead."""
        catalog = (await api.create_catalogs([{"name": "Promos"}]))[0]
        element = (await api.create_catalog_elements(catalog.id, [{"name": "SPRING"}]))[0]
        await api.update_catalog_elements(catalog.id, [{"id": element.id, "name": "SPRING-24"}])
        lead_id = (await api.create_leads([{"name": "Buyer"}]))[0]

        await api.link_lead(
            lead_id,
            [
                {
                    "to_entity_id": element.id,
                    "to_entity_type": "catalog_elements",
                    "metadata": {"catalog_id": catalog.id, "quantity": 1},
                }
            ],
        )

        assert catalog.id in [item.id for item in await api.list_catalogs()]
        assert [item.name async for item in api.iter_catalog_elements(catalog.id)] == ["SPRING-24"]
        assert await api.list_custom_fields(f"catalogs/{catalog.id}") == []  # a new catalog has no fields


class TestWebhooks:
    async def test_subscribe_list_unsubscribe(self, api: AccountApi) -> None:
        """LeadPact's webhook can be subscribed, found by destination, and removed."""
        destination = "https://leadpact.example/hooks/secret-key"

        hook = await api.subscribe_webhook(destination, ["add_lead", "update_lead"])
        found = await api.list_webhooks(destination)
        await api.unsubscribe_webhook(destination)

        assert hook.destination == destination
        assert [item.destination for item in found] == [destination]
        assert sorted(found[0].settings) == ["add_lead", "update_lead"]
        assert await api.list_webhooks(destination) == []
