"""Two public amoCRM clients' requests against the seeded sandbox: list fields, create a lead with a text field,
search by query. Each client is reproduced with plain httpx, request for request, from its published source:

- aioamocrm 0.1.1 (async): `Accept: application/json`, lists as `page=1&limit=250[&query=…]` following
  `_links.next` until a 204 or no next link; writes as a JSON array of `{name, custom_fields_values:
  [{field_id, values: [{value}]}]}` (`_resources.py`, `_pagination.py`, `_params.py`).
- amocrm-api-wrapper 1.0.1 (sync): fields by type as `custom_fields?filter[type][0]=text`, lists as
  `limit=250&page=1&query=…`, paging until a page is shorter than the limit (`entities/base.py`,
  `entities/custom_fields.py`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlencode

import httpx

from tests.integration.sandbox.conftest import Sandbox

WORD = "Глобус-7421"  # a value no seeded lead holds


class AioAmoCRMStyle:
    """aioamocrm's requests (`aioamocrm/_pagination.py`, `_params.py`, `_resources.py`)."""

    def __init__(self, base_url: str, token: str) -> None:
        self.http = httpx.AsyncClient(
            base_url=base_url,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                "User-Agent": "aioamocrm/0.1.1",
            },
        )

    async def iterate(
        self, path: str, key: str, query: list[tuple[str, str]]
    ) -> AsyncIterator[dict[str, Any]]:
        params: list[tuple[str, str]] = [("page", "1"), ("limit", "250"), *query]
        url: str = f"/api/v4/{path}"
        while True:
            answer = await self.http.get(url, params=params)
            if answer.status_code == 204:
                return
            answer.raise_for_status()
            data = answer.json()
            items = data["_embedded"][key]
            for item in items:
                yield item
            following = (data.get("_links") or {}).get("next")
            if not following or not items:
                return
            url, params = following["href"], []

    async def lead_fields(self) -> list[dict[str, Any]]:
        return [field async for field in self.iterate("leads/custom_fields", "custom_fields", [])]

    async def create_leads(self, leads: list[dict[str, Any]]) -> list[int]:
        answer = await self.http.post("/api/v4/leads", json=leads)
        answer.raise_for_status()
        return [item["id"] for item in answer.json()["_embedded"]["leads"]]

    async def get_lead(self, lead_id: int) -> dict[str, Any]:
        answer = await self.http.get(f"/api/v4/leads/{lead_id}")
        answer.raise_for_status()
        lead: dict[str, Any] = answer.json()
        return lead

    async def search_leads(self, text: str) -> list[dict[str, Any]]:
        return [lead async for lead in self.iterate("leads", "leads", [("query", text)])]


class AmocrmApiWrapperStyle:
    """amocrm-api-wrapper's requests (`amocrm_api/entities/base.py`, `entities/custom_fields.py`)."""

    def __init__(self, base_url: str, token: str) -> None:
        self.crm_url = base_url
        self.http = httpx.Client(
            headers={"Authorization": f"Bearer {token}", "User-Agent": "amocrm-api-client/1.0"}
        )

    def _send(self, method: str, url: str, data: Any = None) -> dict[str, Any]:
        answer = self.http.request(method, url, json=data)
        if answer.status_code == 204:
            return {}
        answer.raise_for_status()
        body: dict[str, Any] = answer.json()
        return body

    def get_leads_custom_fields(self, field_type: str | None = None) -> dict[str, Any]:
        url = f"{self.crm_url}/api/v4/leads/custom_fields"
        return self._send("GET", f"{url}?filter%5Btype%5D%5B0%5D={field_type}" if field_type else url)

    def create_leads(self, objects: list[dict[str, Any]]) -> dict[str, Any]:
        return self._send("POST", f"{self.crm_url}/api/v4/leads", objects)

    def get_lead(self, lead_id: int) -> dict[str, Any]:
        return self._send("GET", f"{self.crm_url}/api/v4/leads/{lead_id}")

    def iter_leads(self, query: str, limit: int = 250) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            params = {"limit": limit, "page": page, "query": query}
            data = self._send("GET", f"{self.crm_url}/api/v4/leads?{urlencode(params, doseq=True)}")
            items = (data.get("_embedded") or {}).get("leads", [])
            if not items:
                return
            yield from items
            if len(items) < limit:
                return
            page += 1


def token_for(sandbox: Sandbox, subdomain: str) -> str:
    code = sandbox.consent(subdomain)["code"]
    token: str = sandbox.token_request(grant_type="authorization_code", code=code).json()["access_token"]
    return token


def text_value(lead: dict[str, Any], field_id: int) -> str | None:
    for item in lead["custom_fields_values"] or ():
        if item["field_id"] == field_id:
            value: str = item["values"][0]["value"]
            return value
    return None


class TestAioAmoCRMStyle:
    async def test_fields_text_lead_and_search(self, sandbox: Sandbox) -> None:
        """aioamocrm's way: every lead field is listed, a lead is created with a text field, and a query finds
        exactly that lead."""
        sandbox.new_account("acme", leads=60)
        client = AioAmoCRMStyle(sandbox.base_url, token_for(sandbox, "acme"))
        try:
            fields = await client.lead_fields()
            text = next(f for f in fields if f["type"] == "text")
            (lead_id,) = await client.create_leads(
                [
                    {
                        "name": "Клиент из бота",
                        "custom_fields_values": [{"field_id": text["id"], "values": [{"value": WORD}]}],
                    }
                ]
            )
            lead = await client.get_lead(lead_id)
            found = await client.search_leads(WORD)
            seeded = await client.search_leads("заявка")
        finally:
            await client.http.aclose()

        assert len(fields) == len({f["id"] for f in fields}) >= 12
        assert text_value(lead, text["id"]) == WORD
        assert [item["id"] for item in found] == [lead_id]
        assert len(seeded) == 60 and all("заявка" in item["name"] for item in seeded)


class TestAmocrmApiWrapperStyle:
    def test_fields_text_lead_and_search(self, sandbox: Sandbox) -> None:
        """amocrm-api-wrapper's way: the text fields are listed by type, a lead is created with one, and a
        query finds exactly that lead."""
        sandbox.new_account("acme", leads=60)
        client = AmocrmApiWrapperStyle(sandbox.base_url, token_for(sandbox, "acme"))
        try:
            texts = client.get_leads_custom_fields(field_type="text")["_embedded"]["custom_fields"]
            created = client.create_leads(
                [
                    {
                        "name": "Звонок",
                        "custom_fields_values": [{"field_id": texts[0]["id"], "values": [{"value": WORD}]}],
                    }
                ]
            )
            lead_id = created["_embedded"]["leads"][0]["id"]
            lead = client.get_lead(lead_id)
            found = list(client.iter_leads(WORD))
            nothing = list(client.iter_leads("7421-Глобус"))
        finally:
            client.http.close()

        assert texts and {f["type"] for f in texts} == {"text"}
        assert text_value(lead, texts[0]["id"]) == WORD
        assert [item["id"] for item in found] == [lead_id]
        assert nothing == []
