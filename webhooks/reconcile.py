"""Reconciliation: find lead changes whose webhooks never arrived, and keep the subscription alive.

Webhooks get lost: a delivery fails past amoCRM's retries, amoCRM disables a hook that failed too often,
digital-pipeline robots never retry. Every `reconcile_interval_seconds`, per account, we page through the leads
updated since the watermark (`filter[updated_at][from]`, and `If-Modified-Since`, which amoCRM documents for
lists: nothing changed → 204 or 304, no body), and enqueue those whose newest state we have not seen as a
`reconcile` inbox item (the worker treats it like any webhook). So a round where nothing changed costs one call.

The webhook subscription is checked (one more call) when a round found changes no webhook brought — the sign
of a lost or disabled hook — and otherwise once per `SUBSCRIPTION_CHECK_SECONDS`; it is re-subscribed if it is
gone or disabled.

With several replicas the job runs once per account at a time: on PostgreSQL an advisory lock keyed by the
account is taken with `pg_try_advisory_lock` (a replica that does not get it skips the round). SQLite is the
single-process setup, where the scheduler's own `max_instances=1` is enough.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from typing import Protocol

import anyio
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from integration.amocrm import AccountApi
from integration.db import session_scope
from integration.provisioning import WEBHOOK_EVENTS, webhook_destination
from integration.settings import Settings
from integration.storage import inbox as inbox_store
from integration.storage.accounts import Account, list_active_accounts
from integration.storage.install_health import webhooks_refused
from integration.storage.leads import LeadSnapshot

logger = logging.getLogger(__name__)

__all__ = ["ReconcileResult", "reconcile_account", "reconcile_all", "run_reconciler", "unseen_updates"]

# amoCRM times are whole seconds: re-read a little before the watermark so same-second edits are not missed.
WATERMARK_OVERLAP_SECONDS = 5
# An idle account's subscription is looked at once in this long (a round that finds unseen changes looks at once).
SUBSCRIPTION_CHECK_SECONDS = 3600
_ADVISORY_LOCK_CLASS = 0x4C50  # "LP": keeps our advisory locks apart from anyone else's


class Connector(Protocol):
    def api_for(self, account_id: int) -> AccountApi: ...


class ReconcilerServices(Protocol):
    @property
    def settings(self) -> Settings: ...
    @property
    def engine(self) -> Engine: ...
    @property
    def connector(self) -> Connector: ...


@dataclass(frozen=True, slots=True)
class ReconcileResult:
    account_id: int
    leads_checked: int
    enqueued: int
    resubscribed: bool


def unseen_updates(current: Mapping[int, int], seen: Mapping[int, int]) -> list[tuple[int, int]]:
    """(lead id, updated_at) of leads whose current state is newer than the one we hold (pure)."""
    return sorted((lead_id, at) for lead_id, at in current.items() if seen.get(lead_id, -1) < at)


async def run_reconciler(services: ReconcilerServices, stop: asyncio.Event) -> None:
    """Background task (in `serve` and `leadpact worker`): reconcile every account on an interval."""
    scheduler = AsyncIOScheduler(event_loop=asyncio.get_running_loop(), timezone=UTC)
    scheduler.add_job(
        reconcile_all,
        "interval",
        args=[services],
        seconds=services.settings.reconcile_interval_seconds,
        next_run_time=datetime.now(UTC) + timedelta(seconds=1),
        max_instances=1,
        coalesce=True,
        # A tick that starts late on a busy machine still runs (the default 1 s grace skips it with a warning).
        misfire_grace_time=None,
        id="reconcile",
    )
    scheduler.start()
    try:
        await stop.wait()
    finally:
        scheduler.shutdown(wait=False)


async def reconcile_all(services: ReconcilerServices) -> list[ReconcileResult]:
    account_ids = await anyio.to_thread.run_sync(_active_account_ids, services.engine)
    results: list[ReconcileResult] = []
    for account_id in account_ids:
        try:
            result = await reconcile_account(services, account_id)
        except Exception as exc:
            logger.warning(
                "reconciliation of account %s failed: %s", account_id, type(exc).__name__,
                extra={"account_id": account_id},
            )  # fmt: skip
            continue
        if result is not None:
            results.append(result)
    return results


async def reconcile_account(services: ReconcilerServices, account_id: int) -> ReconcileResult | None:
    """One round for one account; None when another replica holds this account's round."""
    with _account_lock(services.engine, account_id) as acquired:
        if not acquired:
            return None
        return await _reconcile(services, account_id)


async def _reconcile(services: ReconcilerServices, account_id: int) -> ReconcileResult:
    engine = services.engine
    api = await anyio.to_thread.run_sync(services.connector.api_for, account_id)
    watermark, last_run_at, webhook_key = await anyio.to_thread.run_sync(
        _watermark_and_key, engine, account_id
    )
    now = time.time()
    since = (
        watermark - WATERMARK_OVERLAP_SECONDS
        if watermark
        else int(now) - services.settings.reconcile_first_run_lookback_seconds
    )
    current: dict[int, int] = {}
    params = [("filter[updated_at][from]", since), ("order[updated_at]", "asc")]
    headers = {"If-Modified-Since": formatdate(since, usegmt=True)}
    async for item in api.paginate("leads", "leads", params=params, headers=headers):
        if isinstance(item.get("id"), int):
            current[int(item["id"])] = int(item.get("updated_at") or 0)
    enqueued = await anyio.to_thread.run_sync(_enqueue_unseen, engine, account_id, current, now)
    resubscribed = False
    if enqueued or _subscription_check_due(last_run_at, now):
        # On a plan that refused the webhooks API this round is the feed: asking to subscribe again only fails.
        refused = await anyio.to_thread.run_sync(_webhooks_refused, engine, account_id)
        if not refused:
            destination = webhook_destination(services.settings.public_url, webhook_key)
            resubscribed = await _ensure_subscription(api, destination)
    logger.info(
        "reconciled account %s: %d leads checked, %d enqueued%s",
        account_id, len(current), enqueued, ", webhook re-subscribed" if resubscribed else "",
        extra={"account_id": account_id},
    )  # fmt: skip
    return ReconcileResult(
        account_id=account_id, leads_checked=len(current), enqueued=enqueued, resubscribed=resubscribed
    )


def _subscription_check_due(last_run_at: float | None, now: float) -> bool:
    """The first round, and the first round of each `SUBSCRIPTION_CHECK_SECONDS` period after it (pure)."""
    if last_run_at is None:
        return True
    return int(now // SUBSCRIPTION_CHECK_SECONDS) != int(last_run_at // SUBSCRIPTION_CHECK_SECONDS)


async def _ensure_subscription(api: AccountApi, destination: str) -> bool:
    hooks = [hook for hook in await api.list_webhooks(destination) if hook.destination == destination]
    if hooks and not any(hook.disabled for hook in hooks):
        return False
    if hooks:
        await api.unsubscribe_webhook(destination)
    await api.subscribe_webhook(destination, list(WEBHOOK_EVENTS))
    logger.warning("webhook subscription was %s; subscribed again", "disabled" if hooks else "missing")
    return True


# --- database edges ---------------------------------------------------------------------------------------


def _active_account_ids(engine: Engine) -> list[int]:
    with session_scope(engine) as session:
        return [account.id for account in list_active_accounts(session=session)]


def _watermark_and_key(engine: Engine, account_id: int) -> tuple[int, float | None, str]:
    with session_scope(engine) as session:
        mark = inbox_store.get_watermark(session=session, account_id=account_id)
        account = session.get(Account, account_id)
        if account is None:
            raise LookupError(f"account {account_id} is not installed")
        return mark.leads_updated_at, mark.last_run_at, account.webhook_key


def _webhooks_refused(engine: Engine, account_id: int) -> bool:
    with session_scope(engine) as session:
        return webhooks_refused(session=session, account_id=account_id)


def _enqueue_unseen(engine: Engine, account_id: int, current: Mapping[int, int], now: float) -> int:
    with session_scope(engine) as session:
        if not current:
            inbox_store.save_watermark(session=session, account_id=account_id, leads_updated_at=0, now=now)
            return 0
        seen: dict[int, int] = {}
        ids = sorted(current)
        for start in range(0, len(ids), 500):
            rows = session.exec(
                select(col(LeadSnapshot.lead_id), col(LeadSnapshot.updated_at)).where(
                    col(LeadSnapshot.account_id) == account_id,
                    col(LeadSnapshot.lead_id).in_(ids[start : start + 500]),
                )
            ).all()
            seen.update({int(lead_id): int(updated_at) for lead_id, updated_at in rows})
        # A webhook carrying that very state may be waiting in the inbox (the worker's window): not lost.
        for lead_id, at in inbox_store.pending_lead_times(session=session, account_id=account_id).items():
            if lead_id in current and at > seen.get(lead_id, -1):
                seen[lead_id] = at
        unseen = unseen_updates(current, seen)
        inbox_store.enqueue_lead_updates(
            session=session,
            account_id=account_id,
            lead_ids=[lead_id for lead_id, _ in unseen],
            updated_at=dict(unseen),
            source="reconcile",
        )
        inbox_store.save_watermark(
            session=session, account_id=account_id, leads_updated_at=max(current.values()), now=now
        )
    return len(unseen)


@contextmanager
def _account_lock(engine: Engine, account_id: int) -> Iterator[bool]:
    """Hold this account's reconciliation lock for the block (PostgreSQL); always granted on SQLite."""
    if engine.dialect.name != "postgresql":
        yield True
        return
    params = {"kind": _ADVISORY_LOCK_CLASS, "account": account_id & 0x7FFFFFFF}
    with engine.connect() as connection:
        acquired = bool(
            connection.execute(text("SELECT pg_try_advisory_lock(:kind, :account)"), params).scalar()
        )
        connection.commit()
        try:
            yield acquired
        finally:
            if acquired:
                connection.execute(text("SELECT pg_advisory_unlock(:kind, :account)"), params)
                connection.commit()
