"""The scheduled jobs besides reconciliation and the statistics push: provisioning of new installs, promo expiry,
people's first actions on leads (speed to lead),
the promo catalog sync and the weekly meeting report.

Periodic jobs run at most once per account and period across all replicas (`integration.storage.jobs.claim_run`);
a failed run releases its claim so the next tick retries it. Provisioning is due once per install and is leased
to one replica per attempt (`integration.storage.install_health.claim_due_provisioning`), retried with backoff."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

import anyio
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from integration.bootstrap import Services
from integration.db import session_scope
from integration.i18n import Language
from integration.install import provision_due_accounts, recheck_refused_webhook
from integration.provisioning import BASE_STEPS, ProvisioningContext, ProvisioningStep
from integration.storage import accounts as account_store
from integration.storage import install_health as health_store
from integration.storage.jobs import claim_run, release_run

log = logging.getLogger(__name__)

AccountJob = Callable[[Services, int, Language, datetime], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class PeriodicJob:
    """A job run per account; `period_key(now)` names the period it must run once in."""

    name: str
    run: AccountJob
    period_key: Callable[[datetime], str]


def every(seconds: int) -> Callable[[datetime], str]:
    return lambda now: str(int(now.timestamp()) // seconds)


def iso_week(now: datetime) -> str:
    year, week, _ = now.isocalendar()
    return f"{year}-W{week:02d}"


async def expire_promos(services: Services, account_id: int, lang: Language, now: datetime) -> int:
    from sync.promos.service import enqueue_leads_with_ended_promos

    return await anyio.to_thread.run_sync(
        lambda: enqueue_leads_with_ended_promos(engine=services.engine, account_id=account_id, now=now)
    )


async def sync_promo_catalog(services: Services, account_id: int, lang: Language, now: datetime) -> object:
    from sync.promos.catalog import sync_promo_catalog as sync_catalog

    api = services.connector.api_for(account_id)
    return await sync_catalog(
        api, engine=services.engine, account_id=account_id, lang=lang, now=int(now.timestamp())
    )


async def post_weekly_report(services: Services, account_id: int, lang: Language, now: datetime) -> int:
    from sync.reports.post import post_weekly_report as post
    from sync.reports.weeks import last_full_week

    return await post(services, account_id, last_full_week(now.date()), now=int(now.timestamp()))


async def pull_first_touches(services: Services, account_id: int, lang: Language, now: datetime) -> object:
    from sync.stats.touches import pull_first_touches as pull

    api = services.connector.api_for(account_id)
    return await pull(
        api,
        services.engine,
        account_id,
        now=int(now.timestamp()),
        own_client_id=services.settings.amocrm_client_id,
    )


async def ensure_promo_catalog_step(context: ProvisioningContext) -> object:
    from sync.promos.catalog import ensure_promo_catalog

    return await ensure_promo_catalog(
        context.api, engine=context.engine, account_id=context.account_id, lang=context.lang
    )


# Everything a new install needs, in order. Each step is idempotent; a failed one stops the attempt, which the
# job retries from the first step (done steps then cost one read each).
PROVISIONING_STEPS: tuple[ProvisioningStep, ...] = (
    *BASE_STEPS,
    ProvisioningStep("catalog", ensure_promo_catalog_step),
)


async def recheck_webhook_plan(services: Services, account_id: int, lang: Language, now: datetime) -> object:
    return await recheck_refused_webhook(services, account_id)


JOBS: tuple[PeriodicJob, ...] = (
    PeriodicJob("promo_expiry", expire_promos, every(3600)),
    # An account polling because its plan refused webhooks is asked again daily: an upgrade brings them back.
    PeriodicJob("webhook_plan_recheck", recheck_webhook_plan, every(86400)),
    PeriodicJob("promo_catalog_sync", sync_promo_catalog, every(1800)),
    # Speed to lead: people's notes, calls, tasks and stage moves on leads (two calls when nothing is new).
    PeriodicJob("first_touches", pull_first_touches, every(900)),
    # The Monday meeting discusses last week: post once per ISO week, on the first tick of the week.
    PeriodicJob("weekly_report", post_weekly_report, iso_week),
)


async def run_jobs_once(
    services: Services, jobs: tuple[PeriodicJob, ...] = JOBS, *, now: datetime | None = None
) -> int:
    """One tick: every job whose period has no run yet, for every active account; how many ran."""
    moment = now or datetime.now(UTC)
    with session_scope(services.engine) as session:
        accounts = [(a.id, a.language) for a in account_store.list_active_accounts(session=session)]
    ran = 0
    for account_id, language in accounts:
        lang: Language = "en" if language == "en" else "ru"
        for job in jobs:
            key = job.period_key(moment)
            claimed = await anyio.to_thread.run_sync(
                partial(
                    claim_run,
                    engine=services.engine,
                    account_id=account_id,
                    job=job.name,
                    period_key=key,
                    now=time.time(),
                )
            )
            if not claimed:
                continue
            try:
                await job.run(services, account_id, lang, moment)
                ran += 1
            except Exception as exc:
                log.warning(
                    "scheduled job %s failed for account %s: %s", job.name, account_id, type(exc).__name__,
                    extra={"account_id": account_id},
                )  # fmt: skip
                await anyio.to_thread.run_sync(
                    partial(
                        release_run,
                        engine=services.engine,
                        account_id=account_id,
                        job=job.name,
                        period_key=key,
                    )
                )
    return ran


async def run_scheduler(services: Services, stop: asyncio.Event, *, tick_seconds: float = 300.0) -> None:
    """Background task until `stop`: the periodic jobs every few minutes (first tick shortly after start), and
    due provisioning every `provisioning_poll_seconds`."""
    scheduler = AsyncIOScheduler(event_loop=asyncio.get_running_loop(), timezone=UTC)
    scheduler.add_job(
        run_jobs_once,
        "interval",
        args=[services],
        seconds=tick_seconds,
        next_run_time=datetime.now(UTC).replace(microsecond=0),
        max_instances=1,
        coalesce=True,
        # A tick that starts late on a busy machine still runs (the default 1 s grace skips it with a warning).
        misfire_grace_time=None,
        id="leadpact-jobs",
    )
    scheduler.start()
    try:
        await run_provisioning_loop(services, stop)
    finally:
        scheduler.shutdown(wait=False)


async def poll_refused_accounts(services: Services) -> int:
    """One polling round for every account whose plan refused the webhooks API; how many were polled."""
    from webhooks.reconcile import reconcile_account

    with session_scope(services.engine) as session:
        account_ids = health_store.polling_account_ids(session=session)
    for account_id in account_ids:
        try:
            await reconcile_account(services, account_id)
        except Exception as exc:  # one account's amoCRM being away must not stop the others' polling
            log.warning("polling account %s failed: %s", account_id, type(exc).__name__)
    return len(account_ids)


async def run_polling(services: Services, stop: asyncio.Event) -> None:
    """Background task: accounts without webhooks polled every `polling_interval_seconds` until `stop`
    (the general reconciliation runs far less often and is only the safety net for lost webhooks)."""
    while not stop.is_set():
        try:
            await poll_refused_accounts(services)
        except Exception as exc:  # the database may be away for a moment; the next tick tries again
            log.warning("polling tick failed: %s", type(exc).__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=services.settings.polling_interval_seconds)


async def run_provisioning_loop(services: Services, stop: asyncio.Event) -> None:
    """Looks for due provisioning every few seconds until `stop` (a plain loop: apscheduler would log each tick)."""
    while not stop.is_set():
        try:
            await provision_due_accounts(services, PROVISIONING_STEPS)
        except Exception as exc:  # the database may be away for a moment; the next tick tries again
            log.warning("provisioning tick failed: %s", type(exc).__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=services.settings.provisioning_poll_seconds)
