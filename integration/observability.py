"""Health, readiness and Prometheus metrics.

`Metrics` owns its own `CollectorRegistry` (never prometheus-client's global one), so two apps in one
process — tests, the bench — never share or collide on counters. All names start with `leadpact_`. Gauges that
describe the database (inbox depth and age) are read at scrape time, so every replica reports the same truth.

Nothing here names a tenant to a caller without credentials: `/readyz` gives counts, and `/metrics` shows
per-account series (account id, amoCRM host) only to a caller with the `METRICS_TOKEN` bearer token; without
the setting it serves totals with those labels summed away, and with it a wrong or missing token gets 401.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.metrics_core import Metric
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import col, func, select

from integration.amocrm.ratelimit import RateLimiter
from integration.db import session_scope
from integration.settings import Settings
from integration.storage.accounts import Account, AccountStatus
from integration.storage.inbox import inbox_stats
from integration.storage.install_health import health_counts

logger = logging.getLogger(__name__)

__all__ = ["CountingLimiter", "Metrics", "metrics_of", "router"]


class Metrics:
    """Every LeadPact metric, registered in a registry of its own."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.webhooks_received = Counter(
            "leadpact_webhooks_received",
            "Webhook deliveries by outcome: stored, failed_parse, unknown_key, forbidden, too_large, "
            "db_unavailable",
            ["outcome"],
            registry=r,
        )
        self.webhook_parts_unreadable = Counter(
            "leadpact_webhook_parts_unreadable",
            "Parts of stored deliveries that could not be read (a field's value, or a whole entity); the rest "
            "of each delivery was applied and the leads concerned are read again",
            registry=r,
        )
        self.webhook_keys_ignored = Counter(
            "leadpact_webhook_keys_ignored",
            "Keys of stored deliveries skipped: nested too deeply, clashing with a group, or not name=value",
            registry=r,
        )
        self.inbox_depth = Gauge(
            "leadpact_inbox_depth",
            "Inbox deliveries by status (pending, failed, dead)",
            ["status"],
            registry=r,
        )
        self.inbox_oldest_pending_age = Gauge(
            "leadpact_inbox_oldest_pending_age_seconds",
            "Age of the oldest delivery still waiting",
            registry=r,
        )
        self.events_processed = Counter(
            "leadpact_events_processed", "Lead events applied by the worker", ["account_id"], registry=r
        )
        self.events_failed = Counter(
            "leadpact_events_failed", "Lead events whose processing failed (will be retried)", ["account_id"],
            registry=r,
        )  # fmt: skip
        self.leads_read = Counter(
            "leadpact_leads_read",
            "Leads the worker read from amoCRM (a body that was not complete, or a part unreadable); complete "
            "webhook bodies are classified without reading",
            ["account_id"],
            registry=r,
        )
        self.leads_evaluated = Counter(
            "leadpact_leads_evaluated", "Leads classified after coalescing events", ["account_id"], registry=r
        )
        self.writebacks = Counter(
            "leadpact_writebacks",
            "Lead write-backs: patched, or skipped because the lead already holds the values (no-op)",
            ["account_id", "outcome"],
            registry=r,
        )
        self.amocrm_requests = Counter(
            "leadpact_amocrm_requests",
            "amoCRM API requests sent (retries included)",
            ["account_id"],
            registry=r,
        )
        self.amocrm_responses = Counter(
            "leadpact_amocrm_responses", "amoCRM API responses by host and status code", ["host", "status"],
            registry=r,
        )  # fmt: skip
        self.amocrm_rate_limited = Counter(
            "leadpact_amocrm_rate_limited", "amoCRM answers 429 Too Many Requests", ["host"], registry=r
        )
        self.worker_batch_seconds = Histogram(
            "leadpact_worker_batch_seconds",
            "Time to process one claimed inbox batch",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )

    def __repr__(self) -> str:
        return "Metrics()"

    def count_limiter(self, inner: RateLimiter) -> CountingLimiter:
        """Wrap the client's rate limiter: every acquire is one request about to be sent."""
        return CountingLimiter(inner, self)

    def httpx_event_hooks(self) -> dict[str, list[Any]]:
        """`event_hooks=` for the shared `httpx.AsyncClient`: counts responses and 429s by host."""

        async def on_response(response: httpx.Response) -> None:
            host = response.request.url.host
            self.amocrm_responses.labels(host=host, status=str(response.status_code)).inc()
            if response.status_code == 429:
                self.amocrm_rate_limited.labels(host=host).inc()

        return {"response": [on_response]}

    def refresh_database_gauges(self, engine: Engine) -> None:
        with session_scope(engine) as session:
            stats = inbox_stats(session=session)
        self.inbox_depth.labels(status="pending").set(stats.pending)
        self.inbox_depth.labels(status="failed").set(stats.failed)
        self.inbox_depth.labels(status="dead").set(stats.dead)
        self.inbox_oldest_pending_age.set(stats.oldest_pending_age_seconds)

    def render(self, *, per_account: bool) -> bytes:
        """The exposition text; without `per_account`, series are summed over the labels that name accounts."""
        return generate_latest(self.registry if per_account else _WithoutTenants(self.registry))


# Labels whose values identify an amoCRM account: its id, and its host (`acme.amocrm.ru`).
TENANT_LABELS = frozenset({"account_id", "host"})


class _WithoutTenants:
    """A registry view with `TENANT_LABELS` summed away, so anonymous scrapes see totals and no account."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Metric]:
        for family in self._registry.collect():
            if not any(TENANT_LABELS & sample.labels.keys() for sample in family.samples):
                yield family
                continue
            totals: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
            for sample in family.samples:
                if sample.name.endswith("_created"):
                    continue  # a creation time per account has no meaningful total
                labels = tuple(sorted((k, v) for k, v in sample.labels.items() if k not in TENANT_LABELS))
                totals[(sample.name, labels)] = totals.get((sample.name, labels), 0.0) + sample.value
            merged = Metric(family.name, family.documentation, family.type, family.unit)
            for (name, labels), value in totals.items():
                merged.add_sample(name, dict(labels), value)
            yield merged


class CountingLimiter:
    """A `RateLimiter` that counts requests per account, then defers to the real limiter."""

    def __init__(self, inner: RateLimiter, metrics: Metrics) -> None:
        self.inner = inner
        self.metrics = metrics

    def __repr__(self) -> str:
        return f"CountingLimiter({self.inner!r})"

    async def acquire(self, account_id: int) -> None:
        await self.inner.acquire(account_id)
        self.metrics.amocrm_requests.labels(account_id=str(account_id)).inc()


def metrics_of(app_state: Any) -> Metrics:
    """The app's `Metrics`: `services.metrics` when the composition provides it, else one kept on the app."""
    services = getattr(app_state, "services", None)
    metrics = getattr(services, "metrics", None)
    if isinstance(metrics, Metrics):
        return metrics
    own = getattr(app_state, "leadpact_metrics", None)
    if not isinstance(own, Metrics):
        own = Metrics()
        app_state.leadpact_metrics = own
    return own


def _engine_of(request: Request) -> Engine:
    engine: Engine = request.app.state.services.engine
    return engine


def _readiness(engine: Engine) -> dict[str, Any]:
    """Counts only: an unauthenticated probe must not learn which accounts are installed."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    with session_scope(engine) as session:
        reauth = session.exec(
            select(func.count()).select_from(Account).where(col(Account.status) == AccountStatus.NEEDS_REAUTH)
        ).one()
        install = health_counts(session=session)
    # Counts only: readiness is unauthenticated and names no account.
    return {"database": "ok", "accounts_needing_reauth": int(reauth), "install": install}


router = APIRouter(tags=["observability"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process answers. Nothing else is checked, so a slow database never restarts us."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> Response:
    """Readiness: the database answers; how many accounts must grant amoCRM access again (a count, no ids)."""
    try:
        body = await run_in_threadpool(_readiness, _engine_of(request))
    except Exception as exc:
        logger.warning("readiness check failed: %s", type(exc).__name__)
        return JSONResponse({"database": "unavailable"}, status_code=503)
    return JSONResponse(body)


def _metrics_token(request: Request) -> str | None:
    settings: Settings = request.app.state.services.settings
    return settings.metrics_token.get_secret_value() if settings.metrics_token is not None else None


def _bearer(request: Request) -> str:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    expected = _metrics_token(request)
    if expected is not None and not secrets.compare_digest(_bearer(request).encode(), expected.encode()):
        return Response(status_code=401, headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    registry_owner = metrics_of(request.app.state)
    try:
        await run_in_threadpool(registry_owner.refresh_database_gauges, _engine_of(request))
    except Exception as exc:
        # The counters are still worth scraping when the database is down; the gauges keep their last value.
        logger.warning("inbox gauges not refreshed: %s", type(exc).__name__)
    rendered = registry_owner.render(per_account=expected is not None)
    return Response(rendered, media_type=CONTENT_TYPE_LATEST)
