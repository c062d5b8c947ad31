"""People at human pace, over real HTTP: the sandbox delivers as amoCRM does (several senders, coalesced bodies,
out of order), and LeadPact classifies from complete bodies, salvages what it can read and heals lost ones."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from sqlmodel import col, select

from amocrm_sandbox.events import WebhookEvent
from amocrm_sandbox.state import Account as SandboxAccount
from amocrm_sandbox.webhook_format import webhook_body
from integration.db import session_scope
from integration.settings import Settings
from integration.storage.inbox import InboxItem, inbox_stats
from integration.storage.leads import LeadSnapshot
from rules import classify_lead, default_ruleset
from tests.integration.webhooks.harness import System, running_system, tag_names, wait_for
from webhooks.reconcile import reconcile_account

WINDOW = 0.3


def utm(source: str, medium: str = "cpc") -> list[dict[str, Any]]:
    return [
        {"field_code": "UTM_SOURCE", "values": [{"value": source}]},
        {"field_code": "UTM_MEDIUM", "values": [{"value": medium}]},
    ]


async def demo_fields(system: System) -> None:
    """The demo lead fields (UTM_*, BUDGET …) in the sandbox account, without demo leads."""
    answer = await system.sandbox.post(f"/_sandbox/accounts/{system.account_id}/seed", json={"leads": 0})
    answer.raise_for_status()


async def right_per_rules(system: System, ids: list[int]) -> bool:
    """Every lead carries the channel and level tags the default rules give it right now."""
    leads = await system.leads()
    ruleset, now = default_ruleset(), _now()
    for lead_id in ids:
        expected = classify_lead(ruleset, leads[lead_id], now=now)
        ours = {t for t in tag_names(leads[lead_id]) if t.startswith(("channel:", "level:"))}
        if ours != {f"channel:{expected.channel}", f"level:{expected.level}"}:
            return False
    return True


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


async def by_route(system: System) -> dict[str, int]:
    stats = (await system.sandbox.get("/_sandbox/stats", params={"account_id": system.account_id})).json()
    return dict(stats["by_route"])


async def refused(system: System) -> int:
    stats = (await system.sandbox.get("/_sandbox/stats", params={"account_id": system.account_id})).json()
    return int(stats["responses_429"])


async def settled(system: System) -> bool:
    with session_scope(system.services.engine) as session:
        return inbox_stats(session=session).pending == 0


async def settle(system: System) -> None:
    """The sandbox delivered everything and the worker took it (a window and a little more)."""
    await system.flush_webhooks()
    await wait_for(lambda: settled(system), within=10, what="inbox drained")
    await asyncio.sleep(WINDOW + 0.3)
    await wait_for(lambda: settled(system), within=10, what="inbox drained")


def body_of(system: System, leads: list[dict[str, Any]], *, action: str = "update") -> bytes:
    """What amoCRM posts for these lead states, written by the sandbox's own formatter."""
    account = SandboxAccount(id=system.account_id, subdomain="acme", name="acme", created_at=1_700_000_000)
    return webhook_body(account, [WebhookEvent(entity="leads", action=action, data=lead) for lead in leads])


async def deliver(system: System, body: bytes) -> None:
    async with httpx.AsyncClient() as client:
        answer = await client.post(
            f"{system.app_url}/webhooks/amocrm/{system.webhook_key}",
            content=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert answer.status_code == 200, answer.text


async def metric(system: System, name: str) -> float:
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"{system.app_url}/metrics")).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


class TestOrderAndSalvage:
    async def test_an_older_event_arriving_after_a_newer_one_never_rolls_a_lead_back(
        self, settings: Settings
    ) -> None:
        """A late body with an older state of the lead changes nothing and costs no call."""
        async with running_system(settings, window=WINDOW) as system:
            await demo_fields(system)
            api = system.services.connector.api_for(system.account_id)
            (lead_id,) = await api.create_leads([{"name": "Заявка", "custom_fields_values": utm("google")}])
            await wait_for(lambda: right_per_rules(system, [lead_id]), within=10, what="first classification")
            await settle(system)
            await system.faults(webhook_drop_rate=1.0)  # from here on, this test delivers the bodies itself
            await api.update_leads([{"id": lead_id, "custom_fields_values": utm("vk", "social")}])
            older = (await system.leads())[lead_id]
            await asyncio.sleep(1.1)  # amoCRM times are whole seconds
            await api.update_leads([{"id": lead_id, "custom_fields_values": utm("yandex")}])
            newer = (await system.leads())[lead_id]
            assert newer["updated_at"] > older["updated_at"]

            await deliver(system, body_of(system, [newer]))
            await wait_for(
                lambda: right_per_rules(system, [lead_id]), within=10, what="the newer state applied"
            )
            assert "channel:yandex_direct" in tag_names((await system.leads())[lead_id])
            await settle(system)
            calls = await system.api_requests()
            await deliver(system, body_of(system, [older]))
            await settle(system)
            assert await system.api_requests() == calls
            lead = (await system.leads())[lead_id]
            assert "channel:yandex_direct" in tag_names(lead) and "channel:vk" not in tag_names(lead)
            with session_scope(system.services.engine) as session:
                snapshot = session.get(LeadSnapshot, (system.account_id, lead_id))
                assert snapshot is not None and snapshot.channel == "yandex_direct"
                assert snapshot.updated_at >= newer["updated_at"]

    async def test_a_250_lead_body_with_one_bad_price_applies_249_at_once_and_rereads_the_one(
        self, settings: Settings
    ) -> None:
        """One GET (for the one lead) and one PATCH (for all 250) — the other 249 come from the body."""
        async with running_system(settings, window=WINDOW) as system:
            await demo_fields(system)
            await system.faults(webhook_drop_rate=1.0)
            ids = await system.create_leads(250, custom_fields_values=utm("google"))
            leads = await system.leads()
            body = body_of(system, [leads[lead_id] for lead_id in ids])
            bad_key = b"leads%5Bupdate%5D%5B17%5D%5Bprice%5D="
            start = body.index(bad_key) + len(bad_key)
            body = body[:start] + b"0.5" + body[body.index(b"&", start) :]
            before = await by_route(system)
            refused_before = await refused(system)
            read_before = await metric(system, "leadpact_leads_read_total")

            await deliver(system, body)
            await wait_for(lambda: right_per_rules(system, ids), within=20, what="all 250 classified")
            await settle(system)
            after = await by_route(system)
            spent = {route: after.get(route, 0) - before.get(route, 0) for route in after}
            assert {route for route, count in spent.items() if count} == {
                "GET /api/v4/leads",
                "PATCH /api/v4/leads",
            }
            # One of each, not counting a request the sandbox answered 429 (the client retried it).
            assert sum(spent.values()) - (await refused(system) - refused_before) == 2
            assert await metric(system, "leadpact_leads_read_total") - read_before == 1
            with session_scope(system.services.engine) as session:
                counts = session.exec(select(col(InboxItem.unreadable_count))).all()
                assert sorted(counts) == [1]

    async def test_a_body_with_a_12_deep_unknown_key_is_applied(self, settings: Settings) -> None:
        """A key nested 12 deep (complex field types) is skipped and counted; the lead in the body is applied."""
        async with running_system(settings, window=WINDOW) as system:
            await demo_fields(system)
            await system.faults(webhook_drop_rate=1.0)
            (lead_id,) = await system.create_leads(1, custom_fields_values=utm("vk", "social"))
            body = body_of(system, [(await system.leads())[lead_id]], action="add")
            body += b"&catalogs%5Badd%5D%5B0%5D%5Bcustom_fields%5D%5B5%5D%5Bvalues%5D%5B0%5D%5Bvalue%5D%5Bdescription%5D=x"
            ignored = await metric(system, "leadpact_webhook_keys_ignored_total")
            await deliver(system, body)
            await wait_for(lambda: right_per_rules(system, [lead_id]), within=10, what="the lead classified")
            assert "channel:vk" in tag_names((await system.leads())[lead_id])
            assert await metric(system, "leadpact_webhook_keys_ignored_total") == ignored + 1


class TestAmoCRMLikeDelivery:
    async def test_concurrent_coalesced_out_of_order_delivery_leaves_every_lead_right(
        self, settings: Settings
    ) -> None:
        """Single edits from several senders, 5 events a body, duplicated and reordered: every lead ends right
        and every tag a person set is still there."""
        async with running_system(settings, window=WINDOW) as system:
            await demo_fields(system)
            await system.faults(webhook_duplicate_rate=0.2, webhook_reorder_window=4)
            api = system.services.connector.api_for(system.account_id)
            ids = [
                (await api.create_leads([{"name": f"L{i}", "custom_fields_values": utm("google")}]))[0]
                for i in range(12)
            ]
            sources = ["vk", "yandex", "email", "google", "tiktok"]
            for step in range(36):
                lead_id = ids[step % len(ids)]
                change: dict[str, Any] = {"id": lead_id}
                if step % 3 == 0:
                    change["tags_to_add"] = [{"name": f"человек-{step}"}]
                else:
                    change["custom_fields_values"] = utm(sources[step % len(sources)])
                await api.update_leads([change])
            await system.faults(webhook_reorder_window=0)
            await system.flush_webhooks()
            await wait_for(lambda: right_per_rules(system, ids), within=20, what="every lead right")
            leads = await system.leads()
            for step in range(0, 36, 3):
                assert f"человек-{step}" in tag_names(leads[ids[step % len(ids)]])


class TestReconciliation:
    async def test_lost_deliveries_are_healed_within_the_interval(self, settings: Settings) -> None:
        """With 10 % of deliveries lost, every lead is classified within one reconciliation interval."""
        interval = 4.0
        async with running_system(
            settings.model_copy(update={"reconcile_interval_seconds": interval}),
            window=WINDOW,
            reconcile=True,
        ) as system:
            await demo_fields(system)
            await system.faults(webhook_drop_rate=0.1)
            api = system.services.connector.api_for(system.account_id)
            ids = [
                (await api.create_leads([{"name": f"L{i}", "custom_fields_values": utm("google")}]))[0]
                for i in range(60)
            ]
            created = time.monotonic()
            await wait_for(
                lambda: right_per_rules(system, ids),
                within=interval + WINDOW + 3,
                what="every lead classified",
            )
            assert time.monotonic() - created <= interval + WINDOW + 3
            stats = (
                await system.sandbox.get("/_sandbox/stats", params={"account_id": system.account_id})
            ).json()
            assert stats["webhooks_dropped"] > 0

    async def test_an_idle_account_costs_at_most_one_call_per_round(self, settings: Settings) -> None:
        """When nothing changed, a reconciliation round is one list request (204), nothing more."""
        async with running_system(settings, window=WINDOW) as system:
            await system.create_leads(5)
            await settle(system)
            await reconcile_account(system.services, system.account_id)  # the first round looks at everything
            await settle(system)
            for _ in range(3):
                calls = await system.api_requests()
                result = await reconcile_account(system.services, system.account_id)
                assert result is not None and result.enqueued == 0
                assert await system.api_requests() - calls <= 1
