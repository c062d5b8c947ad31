"""`leadpact backfill` against the sandbox: history comes in page by page and resumes after an interruption."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from integration.amocrm import AmoClient
from integration.db import session_scope
from integration.storage import stats as storage
from integration.storage.leads import LeadSnapshot, LeadStatusEvent
from sync.stats.backfill import BackfillProgress, backfill_account, status_event_rows
from tests.integration.amocrm.sandbox import installed_api


def count(engine: Engine, model: type, account_id: int) -> int:
    with session_scope(engine) as session:
        return int(
            session.scalar(select(func.count()).select_from(model).where(model.account_id == account_id)) or 0
        )  # type: ignore[attr-defined]


class Interrupted(Exception):
    pass


class TestBackfill:
    async def test_all_leads_and_the_stage_order_are_loaded_and_classified(
        self, engine: Engine, client: AmoClient, sandbox_url: str
    ) -> None:
        """600 leads arrive in three pages, each classified by the active rules, with the pipelines' stage order."""
        api, _store, account_id = await installed_api(client, sandbox_url, "history", leads=600)
        pages: list[int] = []

        result = await backfill_account(
            api=api,
            engine=engine,
            account_id=account_id,
            since=None,
            on_progress=lambda p: pages.append(p.leads_done),
        )

        assert result.leads_done == 600 and pages == [250, 500, 600]
        assert count(engine, LeadSnapshot, account_id) == 600
        with session_scope(engine) as session:
            unclassified = session.scalar(
                select(func.count())
                .select_from(LeadSnapshot)
                .where(LeadSnapshot.account_id == account_id, LeadSnapshot.channel.is_(None))  # type: ignore[arg-type,union-attr]
            )
            stages = storage.list_pipeline_stages(session=session, account_id=account_id)
            checkpoint = storage.get_checkpoint(session=session, account_id=account_id)
        assert unclassified == 0
        assert {stage.status_id for stage in stages} >= {142, 143}
        assert checkpoint is not None and checkpoint.finished_at is not None

    async def test_an_interrupted_backfill_resumes_where_it_stopped(
        self, engine: Engine, client: AmoClient, sandbox_url: str
    ) -> None:
        """Ctrl-C after the first page keeps that page; the next run says it resumes and finishes the rest."""
        api, _store, account_id = await installed_api(client, sandbox_url, "resume", leads=600)

        def stop_after_first_page(progress: BackfillProgress) -> None:
            raise Interrupted

        with pytest.raises(Interrupted):
            await backfill_account(
                api=api, engine=engine, account_id=account_id, since=None, on_progress=stop_after_first_page
            )
        assert count(engine, LeadSnapshot, account_id) == 250
        with session_scope(engine) as session:
            checkpoint = storage.get_checkpoint(session=session, account_id=account_id)
        assert checkpoint is not None and checkpoint.leads_done == 250 and checkpoint.finished_at is None

        result = await backfill_account(api=api, engine=engine, account_id=account_id, since=None)

        assert result.resumed_from == checkpoint.cursor_updated_at
        assert count(engine, LeadSnapshot, account_id) == 600

    async def test_a_status_change_between_runs_is_recorded_as_history(
        self, engine: Engine, client: AmoClient, sandbox_url: str
    ) -> None:
        """The seeded leads' past moves come from amoCRM's events list, and a lead moved to another stage
        afterwards shows up as one more status event on the next backfill."""
        api, _store, account_id = await installed_api(client, sandbox_url, "moves", leads=5)
        first = await backfill_account(api=api, engine=engine, account_id=account_id, since=None)
        before = set(_moves(engine, account_id))
        lead = await api.get_lead(next(iter([lead.id async for lead in api.iter_leads()])))
        pipeline = next(p for p in await api.list_pipelines() if p.id == lead.pipeline_id)
        target = next(s.id for s in pipeline.statuses if s.id not in (lead.status_id, 142, 143))
        await api.update_leads([{"id": lead.id, "status_id": target}])

        await backfill_account(api=api, engine=engine, account_id=account_id, since=None)

        assert first.events_api and first.events_done == len(before) > 0
        new = [move for move in _moves(engine, account_id) if move not in before]
        assert new == [(lead.id, lead.status_id, target, "backfill")]


def _moves(engine: Engine, account_id: int) -> list[tuple[int, int | None, int, str]]:
    with session_scope(engine) as session:
        rows = session.scalars(
            select(LeadStatusEvent).where(LeadStatusEvent.account_id == account_id)  # type: ignore[arg-type]
        ).all()
        return [(m.lead_id, m.old_status_id, m.status_id, m.source) for m in rows]


class TestEventsFromAmoCRM:
    def test_status_change_events_become_history_rows(self) -> None:
        """amoCRM's lead_status_changed events are read into (old status → new status, time) rows."""
        events = [
            {
                "type": "lead_status_changed",
                "entity_id": 7,
                "created_at": 1_700_000_000,
                "value_before": [{"lead_status": {"id": 10, "pipeline_id": 3}}],
                "value_after": [{"lead_status": {"id": 20, "pipeline_id": 3}}],
            },
            {"type": "lead_added", "entity_id": 8, "created_at": 1},
            {"type": "lead_status_changed", "entity_id": 9, "value_after": []},
        ]
        assert status_event_rows(1, events) == [
            {
                "account_id": 1,
                "lead_id": 7,
                "pipeline_id": 3,
                "old_status_id": 10,
                "status_id": 20,
                "occurred_at": 1_700_000_000,
                "source": "backfill",
            }
        ]
