"""An attendee list applied to a sandbox account over the real client: tags and notes land on open leads."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from sqlalchemy.engine import Engine

from integration.amocrm import AccountApi, AmoClient, TokenBucket
from sync.promos.event_import import as_json, import_event_attendees
from sync.promos.events import read_attendee_csv
from tests.integration.amocrm.sandbox import installed_api, running_sandbox

RATE = 100.0


@pytest.fixture
def sandbox_url() -> Iterator[str]:
    with running_sandbox(rate_limit_per_second=RATE) as base_url:
        yield base_url


@pytest.fixture
async def amo(sandbox_url: str) -> AsyncIterator[tuple[AccountApi, int]]:
    async with httpx.AsyncClient(timeout=10) as http:
        client = AmoClient(http, limiter=TokenBucket(RATE), backoff_base=0.01, backoff_max=0.2)
        api, _, account_id = await installed_api(client, sandbox_url, "eventco", leads=12)
        yield api, account_id


class TestEventImportAgainstSandbox:
    async def test_attendee_found_by_phone_gets_event_tag_on_open_leads(
        self, amo: tuple[AccountApi, int], engine: Engine
    ) -> None:
        """A seeded contact's phone, typed differently in the list, tags its open leads and adds a note."""
        api, account_id = amo
        contacts = [as_json(c) async for c in api.iter_contacts(params={"with": "leads"})]
        all_leads = {
            lead["id"]: lead
            for lead in map(
                as_json,
                await api.get_leads(
                    [ref["id"] for c in contacts for ref in c["_embedded"]["leads"]], with_=()
                ),
            )
        }
        contact = next(
            c
            for c in contacts
            if any(all_leads[ref["id"]]["status_id"] not in (142, 143) for ref in c["_embedded"]["leads"])
        )
        phone = next(
            v["value"]
            for f in contact["custom_fields_values"]
            if f["field_code"] == "PHONE"
            for v in f["values"]
        )
        digits = "".join(ch for ch in phone if ch.isdigit())
        typed = "8 " + digits[1:] if digits.startswith("7") else phone
        csv_text = f"ФИО;Телефон;Мероприятие;Дата\nУчастник;{typed};Выставка;10.05.2026\n".encode("cp1251")
        report = await import_event_attendees(
            api=api, engine=engine, account_id=account_id, attendee_file=read_attendee_csv(csv_text), now=1
        )
        assert report.matched == 1
        lead_ids = [lead["id"] for lead in contact["_embedded"]["leads"]]
        leads = [as_json(lead) for lead in await api.get_leads(lead_ids, with_=())]
        open_leads = [lead for lead in leads if lead["status_id"] not in (142, 143)]
        assert open_leads and report.leads_tagged == len(open_leads)
        for lead in open_leads:
            tags = {tag["name"] for tag in (lead.get("_embedded") or {}).get("tags") or ()}
            assert "event:Выставка" in tags
