"""Scheduled jobs run once per account and period, whichever replica ticks, and retry after a failure."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from sqlalchemy.engine import Engine

from integration.bootstrap import Services
from integration.db import session_scope
from integration.i18n import Language
from integration.settings import Settings
from integration.storage.accounts import AccountStatus, set_account_status, upsert_account
from leadpact.scheduler import PeriodicJob, iso_week, run_jobs_once
from tests.live import Live, live_installation

MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@dataclass
class Replica:
    engine: Engine
    calls: list[tuple[str, int]] = field(default_factory=list)


def _accounts(engine: Engine, *ids: int) -> None:
    with session_scope(engine) as session:
        for account_id in ids:
            upsert_account(
                session=session,
                account_id=account_id,
                subdomain=f"a{account_id}",
                base_url="http://127.0.0.1:1",
                language="ru",
                credential_kind="oauth",
                new_webhook_key=f"key-{account_id}",
            )


def _recording_job(name: str, *, fail_times: int = 0) -> PeriodicJob:
    failures = {"left": fail_times}

    async def run(services: Services, account_id: int, lang: Language, now: datetime) -> None:
        await asyncio.sleep(0.01)
        if failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("amoCRM unavailable")
        cast(Any, services).calls.append((name, account_id))

    return PeriodicJob(name, run, iso_week)


class TestOncePerPeriod:
    async def test_each_account_gets_each_job_once_per_week(self, engine: Engine) -> None:
        """Ticking again in the same week runs nothing; a new week runs each job again for every account."""
        _accounts(engine, 1, 2)
        replica = Replica(engine)
        jobs = (_recording_job("report"),)
        assert await run_jobs_once(cast(Services, replica), jobs, now=MONDAY) == 2
        assert await run_jobs_once(cast(Services, replica), jobs, now=MONDAY.replace(hour=17)) == 0
        assert sorted(replica.calls) == [("report", 1), ("report", 2)]
        next_monday = MONDAY.replace(day=30)
        assert await run_jobs_once(cast(Services, replica), jobs, now=next_monday) == 2

    async def test_two_replicas_ticking_together_run_a_job_once(self, engine: Engine) -> None:
        """Replicas sharing one database never both post the same week's report."""
        _accounts(engine, 1)
        first, second = Replica(engine), Replica(engine)
        jobs = (_recording_job("report"),)
        await asyncio.gather(
            run_jobs_once(cast(Services, first), jobs, now=MONDAY),
            run_jobs_once(cast(Services, second), jobs, now=MONDAY),
        )
        assert len(first.calls) + len(second.calls) == 1

    async def test_a_failed_run_is_retried_on_the_next_tick(self, engine: Engine) -> None:
        """When amoCRM was down, the job is not marked done: the next tick runs it."""
        _accounts(engine, 1)
        replica = Replica(engine)
        jobs = (_recording_job("report", fail_times=1),)
        assert await run_jobs_once(cast(Services, replica), jobs, now=MONDAY) == 0
        assert await run_jobs_once(cast(Services, replica), jobs, now=MONDAY) == 1
        assert replica.calls == [("report", 1)]

    async def test_removed_accounts_are_skipped(self, engine: Engine) -> None:
        """An uninstalled account gets no report and no API call."""
        _accounts(engine, 1, 2)
        with session_scope(engine) as session:
            set_account_status(
                session=session, account_id=2, status=AccountStatus.REMOVED, reason="uninstalled"
            )
        replica = Replica(engine)
        await run_jobs_once(cast(Services, replica), (_recording_job("report"),), now=MONDAY)
        assert replica.calls == [("report", 1)]


@pytest.fixture
def live(settings: Settings) -> Any:
    with live_installation(settings) as installation:
        yield installation


class TestRealJobs:
    async def test_the_weekly_report_reaches_amocrm_as_a_note_and_a_task(self, live: Live) -> None:
        """The scheduled tick posts last week's report into the account: a note and a meeting task."""
        from leadpact.scheduler import JOBS
        from tests.live import own_services

        account_id = live.create_account("acme", leads=20)
        live.install("acme")
        weekly = tuple(job for job in JOBS if job.name == "weekly_report")
        async with own_services(live) as services:
            assert await run_jobs_once(services, weekly) == 1
            assert await run_jobs_once(services, weekly) == 0
        state = live.state(account_id)
        assert any("LeadPact" in str(note.get("params", {}).get("text", "")) for note in state["notes"])
        assert any("LeadPact" in task["text"] for task in state["tasks"])
