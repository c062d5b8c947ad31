"""Reconciliation against the sandbox: lost webhooks are made up for, a dropped subscription comes back."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from integration.db import session_scope
from integration.provisioning import webhook_destination
from integration.settings import Settings
from integration.storage.inbox import inbox_stats
from tests.integration.webhooks.harness import drain, running_system, tag_names
from webhooks.reconcile import reconcile_account, run_reconciler, unseen_updates


class TestUnseenUpdates:
    def test_only_leads_newer_than_our_snapshot_are_unseen(self) -> None:
        """Leads we hold at their current state are skipped; new and changed ones are picked up."""
        assert unseen_updates({1: 100, 2: 200, 3: 300}, {1: 100, 2: 150}) == [(2, 200), (3, 300)]


class TestReconcile:
    async def test_lost_webhooks_are_made_up_for(self, settings: Settings) -> None:
        """Leads whose webhooks never arrived still get their values after a reconciliation round."""
        async with running_system(settings, worker=False) as system:
            await system.faults(webhook_drop_rate=1.0)
            ids = await system.create_leads(4)
            await system.flush_webhooks()
            with session_scope(system.services.engine) as session:
                assert inbox_stats(session=session).pending == 0
            result = await reconcile_account(system.services, system.account_id)
            assert result is not None and result.enqueued == 4
            await drain(system)
            leads = await system.leads()
            assert all(any(t.startswith("level:") for t in tag_names(leads[i])) for i in ids)
            again = await reconcile_account(system.services, system.account_id)
            assert again is not None and again.enqueued <= 4  # our own PATCH moved updated_at once

    async def test_changes_whose_webhooks_wait_in_the_inbox_are_not_read_again(
        self, settings: Settings
    ) -> None:
        """A lead whose webhook is already stored (waiting for the worker's window) is not enqueued again."""
        async with running_system(settings, worker=False) as system:
            await system.create_leads(3)
            await system.flush_webhooks()
            result = await reconcile_account(system.services, system.account_id)
            assert result is not None and (result.leads_checked, result.enqueued) == (3, 0)
            await system.faults(webhook_drop_rate=1.0)
            (lost,) = await system.create_leads(1)
            result = await reconcile_account(system.services, system.account_id)
            assert result is not None and result.enqueued == 1
            await drain(system)
            assert any(t.startswith("level:") for t in tag_names((await system.leads())[lost]))

    async def test_a_missing_subscription_is_restored(self, settings: Settings) -> None:
        """If the webhook was removed (or disabled by amoCRM), reconciliation subscribes it again."""
        async with running_system(settings, worker=False) as system:
            api = system.services.connector.api_for(system.account_id)
            destination = webhook_destination(system.services.settings.public_url, system.webhook_key)
            await api.unsubscribe_webhook(destination)
            result = await reconcile_account(system.services, system.account_id)
            assert result is not None and result.resubscribed
            assert [hook.destination for hook in await api.list_webhooks(destination)] == [destination]
            second = await reconcile_account(system.services, system.account_id)
            assert second is not None and not second.resubscribed

    @pytest.mark.postgres
    async def test_a_round_held_by_another_replica_is_skipped(self, settings: Settings) -> None:
        """On PostgreSQL only one replica reconciles an account at a time; the others skip the round."""
        async with running_system(settings, worker=False) as system:
            params = {"kind": 0x4C50, "account": system.account_id}
            with system.services.engine.connect() as other_replica:
                other_replica.execute(text("SELECT pg_advisory_lock(:kind, :account)"), params)
                assert await reconcile_account(system.services, system.account_id) is None
                other_replica.execute(text("SELECT pg_advisory_unlock(:kind, :account)"), params)
            assert await reconcile_account(system.services, system.account_id) is not None

    async def test_the_scheduler_runs_reconciliation_in_the_background(self, settings: Settings) -> None:
        """Started as a background task, the reconciler's first round comes within seconds."""
        async with running_system(settings, worker=False) as system:
            await system.faults(webhook_drop_rate=1.0)
            await system.create_leads(2)
            stop = asyncio.Event()
            task = asyncio.create_task(run_reconciler(system.services, stop))
            try:
                for _ in range(60):
                    with session_scope(system.services.engine) as session:
                        if inbox_stats(session=session).pending:
                            break
                    await asyncio.sleep(0.05)
            finally:
                stop.set()
                await task
            with session_scope(system.services.engine) as session:
                assert inbox_stats(session=session).pending == 1
