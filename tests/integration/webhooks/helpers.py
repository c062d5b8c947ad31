"""Small builders shared by the webhook tests: accounts, a receiver-only app, form bodies."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from urllib.parse import urlencode

from fastapi import FastAPI
from sqlalchemy.engine import Engine

from integration.db import session_scope
from integration.observability import Metrics
from integration.observability import router as observability_router
from integration.settings import Settings
from integration.storage.accounts import Account
from webhooks.receiver import mount_receiver


def add_account(
    engine: Engine,
    account_id: int,
    webhook_key: str,
    *,
    base_url: str = "http://amo.invalid",
    status: str = "active",
) -> None:
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        session.add(
            Account(
                id=account_id,
                subdomain=f"acc{account_id}",
                base_url=base_url,
                webhook_key=webhook_key,
                status=status,
                created_at=now,
                updated_at=now,
            )
        )


def receiver_app(engine: Engine, settings: Settings) -> tuple[FastAPI, SimpleNamespace]:
    """Only the receiver and observability routes, over the given engine (swappable to simulate outages)."""
    app = FastAPI()
    services = SimpleNamespace(engine=engine, settings=settings, metrics=Metrics())
    app.state.services = services
    mount_receiver(app)
    app.include_router(observability_router)
    return app, services


def lead_update_body(account_id: int, *lead_ids: int, modified: int = 1_700_000_000) -> bytes:
    pairs: list[tuple[str, str]] = []
    for index, lead_id in enumerate(lead_ids):
        pairs += [
            (f"leads[update][{index}][id]", str(lead_id)),
            (f"leads[update][{index}][last_modified]", str(modified)),
            (f"leads[update][{index}][account_id]", str(account_id)),
        ]
    pairs += [("account[id]", str(account_id)), ("account[subdomain]", f"acc{account_id}")]
    return urlencode(pairs).encode()


def mass_edit_body(account_id: int, *, leads: int, fields: int) -> bytes:
    """One update_lead body for `leads` leads with `fields` custom fields each, as the sandbox emits it."""
    from amocrm_sandbox.events import WebhookEvent
    from amocrm_sandbox.state import Account
    from amocrm_sandbox.webhook_format import webhook_body

    account = Account(id=account_id, subdomain=f"acc{account_id}", name="Acme", created_at=1_700_000_000)
    custom_fields = [
        {"field_id": 100 + j, "field_name": f"Поле {j}", "field_code": f"F{j}", "field_type": "text",
         "values": [{"value": f"значение {j}"}]}
        for j in range(fields)
    ]  # fmt: skip
    events = [
        WebhookEvent(
            entity="leads",
            action="update",
            data={
                "id": lead_id,
                "name": f"Заявка {lead_id}",
                "status_id": 142,
                "price": 5000,
                "pipeline_id": 1,
                "responsible_user_id": 3,
                "updated_at": 1_700_000_100,
                "updated_by": 3,
                "created_by": 3,
                "created_at": 1_700_000_000,
                "account_id": account_id,
                "_embedded": {"tags": [{"id": 1, "name": "vip"}]},
                "custom_fields_values": custom_fields,
            },
        )
        for lead_id in range(1, leads + 1)
    ]
    return webhook_body(account, events)
