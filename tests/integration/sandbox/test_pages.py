"""The sandbox's pages for people: the leads as a table with the integration's fields, and a lead card."""

from __future__ import annotations

import re

from tests.integration.sandbox.conftest import Sandbox


def _write_level(sandbox: Sandbox, api_subdomain: str) -> int:
    """Writes a LeadPact-like field and a tag to the first lead, as the integration would; returns the lead id."""
    api = sandbox.api(api_subdomain)
    field = api.post(
        "/api/v4/leads/custom_fields",
        json=[{"name": "Уровень лида (LeadPact)", "type": "text", "code": "LEADPACT_LEVEL"}],
    ).json()["_embedded"]["custom_fields"][0]
    lead_id = int(api.get("/api/v4/leads").json()["_embedded"]["leads"][0]["id"])
    answer = api.patch(
        "/api/v4/leads",
        json=[
            {
                "id": lead_id,
                "custom_fields_values": [{"field_id": field["id"], "values": [{"value": "Горячий"}]}],
                "_embedded": {"tags": [{"name": "level:hot"}]},
            }
        ],
    )
    assert answer.status_code == 200, answer.text
    return lead_id


class TestStatePage:
    def test_leads_table_shows_the_integrations_fields_and_tags_with_json_one_link_away(
        self, sandbox: Sandbox
    ) -> None:
        """`/_sandbox/` lists every lead with the integration's field values and tags, and links the raw JSON."""
        account_id = sandbox.new_account("pages", leads=3)
        lead_id = _write_level(sandbox, "pages")
        page = sandbox.control.get("/_sandbox/", params={"account_id": account_id})
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert page.text.count("<tr>") == 1 + 3
        assert "Уровень лида (LeadPact)" in page.text
        row = re.search(rf"<tr><td><a href='card\?lead={lead_id}[^']*'>{lead_id}</a>.*?</tr>", page.text)
        assert row is not None and "Горячий" in row.group(0) and "level:hot" in row.group(0)
        assert f"href='state?account_id={account_id}'" in page.text
        assert sandbox.control.get("/_sandbox/state", params={"account_id": account_id}).json()["leads"]


class TestLeadCard:
    def test_card_loads_the_widget_from_its_url_and_lets_you_pick_a_lead(self, sandbox: Sandbox) -> None:
        """The card shows the lead's fields and loads the widget's script with the backend it was given."""
        account_id = sandbox.new_account("card", leads=2)
        lead_id = _write_level(sandbox, "card")
        page = sandbox.control.get(
            "/_sandbox/card",
            params={
                "account_id": account_id,
                "lead": lead_id,
                "widget": "http://widget.example/w/",
                "backend": "http://backend.example",
            },
        )
        assert page.status_code == 200
        assert "<script src='http://widget.example/w/script.js'></script>" in page.text
        assert '"http://backend.example"' in page.text
        assert f"current_card: {{ id: {lead_id} }}" in page.text
        assert "Горячий" in page.text
        assert page.text.count("<option ") == 2

    def test_an_unknown_lead_is_a_clear_404(self, sandbox: Sandbox) -> None:
        """Asking the card for a lead the account does not have answers 404 naming the lead."""
        account_id = sandbox.new_account("card404", leads=1)
        page = sandbox.control.get("/_sandbox/card", params={"account_id": account_id, "lead": 999})
        assert page.status_code == 404 and "999" in page.text
