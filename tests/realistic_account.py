"""An account shaped like a real one in the sandbox, built through amoCRM's own API: lead fields people
created by hand (Russian names, no `code`) and the tracking fields every account has."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.live import Live

# The lead fields people typically create by hand in a Russian amoCRM account: no `code`.
HUMAN_FIELDS: list[dict[str, Any]] = [
    {"name": "Бюджет клиента", "type": "numeric"},
    {"name": "ЛПР", "type": "select", "enums": [{"value": "Да", "sort": 1}, {"value": "Нет", "sort": 2}]},
    {"name": "Потребность", "type": "textarea"},
    {"name": "Дата принятия решения", "type": "date"},
    {
        "name": "Продукт",
        "type": "select",
        "enums": [{"value": "CRM", "sort": 1}, {"value": "ERP", "sort": 2}],
    },
]

# Every amoCRM account has these `tracking_data` fields with their codes; the sandbox's plain accounts do not
# have them yet, so the test gives them to the account as amoCRM would.
TRACKING_FIELDS: list[dict[str, Any]] = [
    {"name": code.lower(), "type": "tracking_data", "code": code}
    for code in ("UTM_SOURCE", "UTM_MEDIUM", "UTM_CAMPAIGN", "UTM_CONTENT", "UTM_TERM", "REFERRER")
]


def amo(live: Live, token: str, method: str, path: str, body: Any) -> Any:
    """A call as a person's own amoCRM client makes it: paced by amoCRM's limit (one retry per second on 429)."""
    for _ in range(10):
        response = httpx.request(
            method,
            f"{live.sandbox_url}/api/v4/{path}",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        if response.status_code != 429:
            break
        time.sleep(1.0)
    assert response.status_code < 300, response.text
    return response.json()


def realistic_account(
    live: Live, subdomain: str = "realco", *, without: tuple[str, ...] = ()
) -> tuple[int, str, dict[str, dict[str, Any]]]:
    """An account without demo fields, given the human fields (but those named in `without`) through amoCRM's
    own API, with no `code`; returns its id, an API token and the created fields by name."""
    created = live.sandbox("POST", "/_sandbox/accounts", json={"subdomain": subdomain})
    account_id = int(created["id"])
    token = str(
        live.sandbox("POST", "/_sandbox/tokens/long-lived", json={"account_id": account_id})["access_token"]
    )
    amo(live, token, "POST", "leads/custom_fields", TRACKING_FIELDS)
    wanted = [field for field in HUMAN_FIELDS if field["name"] not in without]
    answer = amo(live, token, "POST", "leads/custom_fields", wanted)
    fields = {item["name"]: item for item in answer["_embedded"]["custom_fields"]}
    assert all(not item.get("code") for item in fields.values())
    return account_id, token, fields


def field_value(field: dict[str, Any], value: Any) -> dict[str, Any]:
    if field["type"] == "select":
        enum = next(e for e in field["enums"] if e["value"] == value)
        return {"field_id": field["id"], "values": [{"enum_id": enum["id"]}]}
    return {"field_id": field["id"], "values": [{"value": value}]}


def create_leads(live: Live, token: str, fields: dict[str, dict[str, Any]]) -> dict[str, int]:
    in_a_month = int(time.time()) + 30 * 86400
    leads = {
        # budget, ЛПР and date filled: hot (date within 6 months) and qualified (3 of 4 criteria)
        "full": [
            field_value(fields["Бюджет клиента"], 300000),
            field_value(fields["ЛПР"], "Да"),
            field_value(fields["Дата принятия решения"], in_a_month),
        ],
        # budget and need only: warm, 2 of 4, not qualified
        "partial": [
            field_value(fields["Бюджет клиента"], 300000),
            field_value(fields["Потребность"], "Нужна CRM"),
        ],
        # the client is not the decision maker and nothing else is known: cold, not qualified
        "not_dm": [field_value(fields["ЛПР"], "Нет")],
    }
    body = [{"name": name, "custom_fields_values": values} for name, values in leads.items()]
    answer = amo(live, token, "POST", "leads", body)
    ids = [int(item["id"]) for item in answer["_embedded"]["leads"]]
    return dict(zip(leads, ids, strict=True))
