"""The worker against the sandbox over real HTTP: leads get their values once, with few calls."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlmodel import select

from integration.db import session_scope
from integration.provisioning import ProvisionedFields, load_provisioned_fields
from integration.settings import Settings
from integration.storage.accounts import Account, AccountStatus
from integration.storage.inbox import InboxItem, InboxStatus, inbox_stats
from integration.storage.leads import LeadSnapshot, LeadStatusEvent
from tests.integration.webhooks.harness import System, drain, field_value, running_system, tag_names
from webhooks.worker import requeue_with_reparse


def provisioned(system: System) -> ProvisionedFields:
    with session_scope(system.services.engine) as session:
        fields = load_provisioned_fields(session=session, account_id=system.account_id)
    assert fields is not None
    return fields


def snapshots(system: System) -> dict[int, LeadSnapshot]:
    with session_scope(system.services.engine) as session:
        return {s.lead_id: s for s in session.exec(select(LeadSnapshot))}


async def calls_by_route(system: System) -> dict[str, int]:
    stats = (await system.sandbox.get("/_sandbox/stats", params={"account_id": system.account_id})).json()
    routes: dict[str, int] = stats["by_route"]
    return routes


async def post_webhook(system: System, pairs: list[tuple[str, Any]]) -> httpx.Response:
    body = urlencode([*pairs, ("account[id]", system.account_id)])
    async with httpx.AsyncClient() as client:
        return await client.post(
            f"{system.app_url}/webhooks/amocrm/{system.webhook_key}",
            content=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )


def assert_carries_classification(
    lead: dict[str, Any], snapshot: LeadSnapshot, fields: ProvisionedFields
) -> None:
    assert field_value(lead, fields.channel) == snapshot.channel
    assert field_value(lead, fields.level) == fields.level_enums[snapshot.level or ""]
    assert field_value(lead, fields.reason) == snapshot.reason
    own = {t for t in tag_names(lead) if t.startswith(("channel:", "level:"))}
    assert own == {f"channel:{snapshot.channel}", f"level:{snapshot.level}"}


class TestWriteBack:
    async def test_new_leads_get_fields_and_tags_from_their_webhooks(self, settings: Settings) -> None:
        """A lead created in amoCRM carries channel, level, qualified, reason and two tags after one pass."""
        async with running_system(settings, worker=False) as system:
            ids = await system.create_leads(3, price=100_000)
            await system.flush_webhooks()
            await drain(system)
            fields, held = provisioned(system), snapshots(system)
            leads = await system.leads()
            for lead_id in ids:
                assert_carries_classification(leads[lead_id], held[lead_id], fields)

    async def test_our_own_patch_echo_costs_no_write(self, settings: Settings) -> None:
        """The update_lead amoCRM fires after our PATCH is recognised from its body: no read, no write."""
        async with running_system(settings, worker=False) as system:
            await system.create_leads(5)
            await system.flush_webhooks()
            await drain(system)
            before = await calls_by_route(system)
            leads_before = await system.leads()
            await system.flush_webhooks()  # the echoes of our PATCH
            await drain(system)
            await system.flush_webhooks()
            await drain(system)
            after = await calls_by_route(system)
            assert after.get("PATCH /api/v4/leads", 0) == before.get("PATCH /api/v4/leads", 0)
            assert after.get("GET /api/v4/leads", 0) == before.get("GET /api/v4/leads", 0)
            skipped = system.services.metrics.registry.get_sample_value(
                "leadpact_writebacks_total",
                {"account_id": str(system.account_id), "outcome": "skipped_unchanged"},
            )
            assert skipped is not None and skipped >= 5  # visible in /metrics as no-op write-backs
            assert {i: lead["updated_at"] for i, lead in (await system.leads()).items()} == {
                i: lead["updated_at"] for i, lead in leads_before.items()
            }

    async def test_people_tags_survive_the_write_back(self, settings: Settings) -> None:
        """A tag a sales rep put on the lead is still there after LeadPact adds its own."""
        async with running_system(settings, worker=False) as system:
            (lead_id,) = await system.create_leads(1, _embedded={"tags": [{"name": "позвонить"}]})
            await system.flush_webhooks()
            await drain(system)
            tags = tag_names((await system.leads())[lead_id])
            assert "позвонить" in tags and any(t.startswith("level:") for t in tags)


class TestDeliveryFaults:
    async def test_duplicated_and_reordered_webhooks_are_applied_once(self, settings: Settings) -> None:
        """amoCRM delivering every hook twice and out of order still leaves each lead written once."""
        async with running_system(settings, worker=False) as system:
            await system.faults(webhook_duplicate_rate=1.0, webhook_reorder_window=4)
            ids = await system.create_leads(8)
            api = system.services.connector.api_for(system.account_id)
            await api.update_leads([{"id": lead_id, "price": 500} for lead_id in ids])
            await system.faults(webhook_reorder_window=1)  # release whatever is held
            await system.flush_webhooks()
            await drain(system)
            with session_scope(system.services.engine) as session:
                deliveries = len(session.exec(select(InboxItem)).all())
            assert deliveries >= 4  # duplicates really arrived
            patches = (await calls_by_route(system)).get("PATCH /api/v4/leads", 0)
            stats = (
                await system.sandbox.get("/_sandbox/stats", params={"account_id": system.account_id})
            ).json()
            # Our price update + one write-back for all eight leads; the sandbox also counts a request it refused
            # with 429 (our client's limiter may burst past its sliding window), which the client then retried.
            assert 2 <= patches <= 2 + stats["responses_429"]
            fields, held, leads = provisioned(system), snapshots(system), await system.leads()
            for lead_id in ids:
                assert_carries_classification(leads[lead_id], held[lead_id], fields)

    async def test_status_artefacts_change_nothing_and_real_moves_are_recorded_once(
        self, settings: Settings
    ) -> None:
        """A status 'move' to the same status costs no call; a real move delivered twice is one history row."""
        async with running_system(settings, worker=False) as system:
            before = (await calls_by_route(system)).copy()
            artefact = [
                ("leads[status][0][id]", 424242),
                ("leads[status][0][status_id]", 5),
                ("leads[status][0][old_status_id]", 5),
                ("leads[status][0][pipeline_id]", 1),
                ("leads[status][0][last_modified]", 1_700_000_000),
            ]
            assert (await post_webhook(system, artefact)).status_code == 200
            await drain(system)
            assert await calls_by_route(system) == before
            (lead_id,) = await system.create_leads(1)
            await system.flush_webhooks()
            move = [
                ("leads[status][0][id]", lead_id),
                ("leads[status][0][status_id]", 7),
                ("leads[status][0][old_status_id]", 5),
                ("leads[status][0][pipeline_id]", 1),
                ("leads[status][0][last_modified]", 1_700_000_100),
            ]
            await post_webhook(system, move)
            await post_webhook(system, move)
            await drain(system)
            with session_scope(system.services.engine) as session:
                history = session.exec(select(LeadStatusEvent)).all()
            assert [(e.lead_id, e.old_status_id, e.status_id) for e in history] == [(lead_id, 5, 7)]

    async def test_a_lead_deleted_in_amocrm_is_marked_deleted(self, settings: Settings) -> None:
        """Deleting a lead in amoCRM marks its snapshot deleted instead of dropping the history."""
        async with running_system(settings, worker=False) as system:
            (lead_id,) = await system.create_leads(1)
            await system.flush_webhooks()
            await drain(system)
            await system.sandbox.post(
                f"/_sandbox/leads/{lead_id}/delete", params={"account_id": system.account_id}
            )
            await system.flush_webhooks()
            await drain(system)
            assert snapshots(system)[lead_id].is_deleted

    @pytest.mark.slow
    async def test_429_and_5xx_storm_still_applies_every_lead(self, settings: Settings) -> None:
        """With 30% of calls refused (429) and 10% failing (5xx), every lead still gets its values."""
        async with running_system(settings, worker=False) as system:
            ids = await system.create_leads(30)
            await system.flush_webhooks()
            await system.faults(rate_429=0.3, rate_5xx=0.1)
            for _ in range(40):
                await drain(system)
                with session_scope(system.services.engine) as session:
                    if inbox_stats(session=session).pending == 0:
                        break
                    # Items that exhausted the client's own retries wait for their backoff; make them due now.
                    for item in session.exec(
                        select(InboxItem).where(InboxItem.status == InboxStatus.PENDING)
                    ):
                        item.next_attempt_at = 0
                        session.add(item)
            await system.faults(rate_429=0.0, rate_5xx=0.0)
            fields, held, leads = provisioned(system), snapshots(system), await system.leads()
            for lead_id in ids:
                assert_carries_classification(leads[lead_id], held[lead_id], fields)


class TestDeadLetters:
    async def test_an_account_that_keeps_failing_goes_to_dead_letter_and_can_be_retried(
        self, settings: Settings
    ) -> None:
        """After the attempt limit a delivery is parked with its error; `retry` after the fix applies it."""
        async with running_system(
            settings.model_copy(update={"worker_max_attempts": 1}), worker=False
        ) as system:
            (lead_id,) = await system.create_leads(1)
            with session_scope(system.services.engine) as session:
                account = session.get(Account, system.account_id)
                assert account is not None
                account.status = AccountStatus.NEEDS_REAUTH
                session.add(account)
            await system.flush_webhooks()
            await drain(system)
            with session_scope(system.services.engine) as session:
                (item,) = session.exec(select(InboxItem)).all()
                assert item.status == InboxStatus.DEAD and "AccountNotConnected" in (item.last_error or "")
                account = session.get(Account, system.account_id)
                assert account is not None
                account.status = AccountStatus.ACTIVE
                session.add(account)
                requeue_with_reparse(session=session, item_id=item.id or 0)
            await drain(system)
            assert lead_id in snapshots(system)


class TestRuleVersions:
    async def test_a_newly_activated_version_applies_to_the_next_event(self, settings: Settings) -> None:
        """Once marketing and sales activate new rules, the next event of a lead is classified by them."""
        from integration.storage import rulesets
        from rules import default_rules_text

        async with running_system(settings, worker=False) as system:
            (lead_id,) = await system.create_leads(1)
            await system.flush_webhooks()
            await drain(system)
            assert snapshots(system)[lead_id].channel == "direct"
            text = default_rules_text().replace(
                "fallback_channel:\n  name: direct", "fallback_channel:\n  name: other"
            )
            with session_scope(system.services.engine) as session:
                version = rulesets.propose(
                    session=session, account_id=system.account_id, text=text, author="m"
                )
                for role in ("marketing", "sales"):
                    rulesets.approve(
                        session=session,
                        account_id=system.account_id,
                        version=version,
                        approver=role,
                        role=role,
                    )
                rulesets.activate(session=session, account_id=system.account_id, version=version, by="m")
            api = system.services.connector.api_for(system.account_id)
            await api.update_leads([{"id": lead_id, "price": 7}])
            await system.flush_webhooks()
            await drain(system)
            held = snapshots(system)[lead_id]
            assert (held.channel, held.rule_version) == ("other", version)
            assert "channel:other" in tag_names((await system.leads())[lead_id])
