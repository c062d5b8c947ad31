"""What runs in the background of a LeadPact process: the inbox worker and the scheduled jobs."""

from __future__ import annotations

import asyncio
import contextlib
import signal

from integration.bootstrap import build_services
from integration.settings import Settings
from leadpact.app import BackgroundTask


def background_tasks(settings: Settings) -> tuple[BackgroundTask, ...]:
    """The worker draining the inbox, and the scheduler (reconciliation, polling of accounts without webhooks,
    statistics, weekly report)."""
    from leadpact.scheduler import run_polling, run_scheduler
    from sync.stats_push import run_stats_pusher
    from webhooks.reconcile import run_reconciler
    from webhooks.worker import run_worker

    return (run_worker, run_reconciler, run_polling, run_stats_pusher, run_scheduler)


async def run_worker_process(settings: Settings) -> None:
    """`leadpact worker`: the background tasks alone, until SIGINT/SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with build_services(settings) as services:
        await asyncio.gather(*(task(services, stop) for task in background_tasks(settings)))
