"""The worker against the sandbox over real HTTP: leads get their values once, with few calls."""

from __future__ import annotations

from sqlmodel import select

from integration.db import session_scope
from integration.provisioning import load_provisioned_fields
from integration.settings import Settings
from integration.storage.leads import LeadSnapshot
from tests.integration.webhooks.harness import field_value, running_system, tag_names
from webhooks.worker import process_once


class TestWriteBack:
    async def test_new_leads_get_fields_and_tags_from_their_webhooks(self, settings: Settings) -> None:
        """A lead created in amoCRM carries channel, level, qualified, reason and two tags after one pass."""
        async with running_system(settings, worker=False) as system:
            ids = await system.create_leads(3, price=100_000)
            await system.flush_webhooks()
            assert await process_once(system.services) >= 1
            with session_scope(system.services.engine) as session:
                fields = load_provisioned_fields(session=session, account_id=system.account_id)
                snapshots = {s.lead_id: s for s in session.exec(select(LeadSnapshot))}
            assert fields is not None
            leads = await system.leads()
            for lead_id in ids:
                lead, snapshot = leads[lead_id], snapshots[lead_id]
                assert field_value(lead, fields.channel) == snapshot.channel
                assert field_value(lead, fields.level) == fields.level_enums[snapshot.level or ""]
                assert field_value(lead, fields.reason) == snapshot.reason
                assert {f"channel:{snapshot.channel}", f"level:{snapshot.level}"} <= tag_names(lead)
