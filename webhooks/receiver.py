"""`POST /webhooks/amocrm/{account_key}`: store the delivery durably, then acknowledge. Nothing else.

amoCRM's account webhooks carry no signature, so the unguessable key in the URL identifies the account. The
answer tells amoCRM what to do next:
- 200 — stored (an unreadable body is stored too, as a failed item, so amoCRM does not disable the hook);
- 404 unknown key, 403 a body naming another account, 413 too large — nothing stored;
- 503 when the database cannot take it — amoCRM retries, and we never say 200 for an event we did not store.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import Session, col, select

from integration.db import session_scope
from integration.i18n import Text
from integration.observability import Metrics, metrics_of
from integration.settings import Settings
from integration.storage.accounts import Account, AccountStatus
from integration.storage.inbox import NewInboxItem, add_items
from webhooks.parse import WebhookParseError, event_to_dict, parse_webhook

logger = logging.getLogger(__name__)

UNKNOWN_KEY = Text(ru="Неизвестный адрес вебхука", en="Unknown webhook address")
WRONG_ACCOUNT = Text(
    ru="Вебхук относится к другому аккаунту amoCRM", en="The webhook belongs to another amoCRM account"
)
TOO_LARGE = Text(ru="Тело вебхука слишком большое", en="The webhook body is too large")
STORAGE_DOWN = Text(
    ru="Хранилище временно недоступно, повторите позже", en="Storage is temporarily unavailable, retry later"
)


@dataclass(frozen=True, slots=True)
class ReceiverContext:
    settings: Settings
    metrics: Metrics
    writer: InboxWriter


def receiver_context(request: Request) -> ReceiverContext:
    state = request.app.state
    writer = getattr(state, "inbox_writer", None)
    if not isinstance(writer, InboxWriter):
        writer = state.inbox_writer = InboxWriter(lambda: state.services.engine)
    return ReceiverContext(settings=state.services.settings, metrics=metrics_of(state), writer=writer)


Context = Annotated[ReceiverContext, Depends(receiver_context)]


class _Outcome:
    STORED = "stored"
    FAILED_PARSE = "failed_parse"
    UNKNOWN_KEY = "unknown_key"
    FORBIDDEN = "forbidden"


@dataclass(frozen=True, slots=True)
class _Stored:
    outcome: str
    account_id: int | None = None


router = APIRouter(tags=["webhooks"])


@router.post("/webhooks/amocrm/{account_key}")
async def receive_amocrm_webhook(account_key: str, request: Request, context: Context) -> Response:
    lang = context.settings.language
    body = await _read_capped(request, context.settings.webhook_max_body_bytes)
    if body is None:
        context.metrics.webhooks_received.labels(outcome="too_large").inc()
        return _problem(413, TOO_LARGE(lang))
    try:
        stored = await context.writer.store(account_key, body)
    except (OperationalError, DBAPIError, PoolTimeout) as exc:
        context.metrics.webhooks_received.labels(outcome="db_unavailable").inc()
        logger.error("webhook not stored, database unavailable: %s", type(exc).__name__)
        return _problem(503, STORAGE_DOWN(lang), headers={"Retry-After": "5"})
    context.metrics.webhooks_received.labels(outcome=stored.outcome).inc()
    if stored.outcome == _Outcome.UNKNOWN_KEY:
        return _problem(404, UNKNOWN_KEY(lang))
    if stored.outcome == _Outcome.FORBIDDEN:
        logger.warning("webhook for account %s names another account; rejected", stored.account_id)
        return _problem(403, WRONG_ACCOUNT(lang))
    return Response(status_code=200)


async def _read_capped(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it is known to exceed `limit` bytes (without reading the rest)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


_Pending = tuple[str, bytes, "asyncio.Future[_Stored]"]


class InboxWriter:
    """Group commit: deliveries arriving together are parsed and stored in one transaction.

    Each request still gets its answer only after the transaction holding its delivery has committed (or a 503
    when it failed), so a 200 always means stored. One writer per app, created on the first delivery; it runs
    on the app's event loop and does the database work in a worker thread.
    """

    def __init__(self, engine: Callable[[], Engine], *, max_batch: int = 256) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._queue: asyncio.Queue[_Pending] | None = None
        self._task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"InboxWriter(max_batch={self._max_batch})"

    async def store(self, account_key: str, body: bytes) -> _Stored:
        loop = asyncio.get_running_loop()
        if self._queue is None:
            self._queue = asyncio.Queue()
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._drain(self._queue), name="inbox-writer")
        done: asyncio.Future[_Stored] = loop.create_future()
        self._queue.put_nowait((account_key, body, done))
        return await done

    async def _drain(self, queue: asyncio.Queue[_Pending]) -> None:
        while True:
            batch = [await queue.get()]
            while len(batch) < self._max_batch and not queue.empty():
                batch.append(queue.get_nowait())
            try:
                outcomes = await anyio.to_thread.run_sync(
                    _store_batch, self._engine(), [(key, body) for key, body, _ in batch]
                )
            except BaseException as exc:
                for _, _, done in batch:
                    if not done.done():
                        done.set_exception(exc if isinstance(exc, Exception) else RuntimeError("stopped"))
                if not isinstance(exc, Exception):
                    raise
                continue
            for (_, _, done), outcome in zip(batch, outcomes, strict=True):
                if not done.done():
                    done.set_result(outcome)


def _store_batch(engine: Engine, deliveries: list[tuple[str, bytes]]) -> list[_Stored]:
    """Parse and store a batch of deliveries in one transaction (runs in a worker thread)."""
    keys = {key for key, _ in deliveries if key and len(key) <= 200}
    outcomes: list[_Stored] = []
    rows: list[NewInboxItem] = []
    with session_scope(engine) as session:
        accounts = _accounts_for_keys(session, keys)
        for key, body in deliveries:
            account_id = accounts.get(key)
            if account_id is None:
                outcomes.append(_Stored(_Outcome.UNKNOWN_KEY))
                continue
            text = body.decode("utf-8", errors="replace")
            try:
                payload = parse_webhook(body)
            except WebhookParseError as exc:
                rows.append(NewInboxItem(account_id=account_id, body=text, events=(), parse_error=exc.reason))
                logger.warning("webhook for account %s kept as a failed item: %s", account_id, exc.reason)
                outcomes.append(_Stored(_Outcome.FAILED_PARSE, account_id))
                continue
            if payload.claimed_account_ids - {account_id}:
                outcomes.append(_Stored(_Outcome.FORBIDDEN, account_id))
                continue
            events: list[dict[str, Any]] = [event_to_dict(event) for event in payload.events]
            rows.append(NewInboxItem(account_id=account_id, body=text, events=events))
            outcomes.append(_Stored(_Outcome.STORED, account_id))
        add_items(session=session, items=rows)
    return outcomes


def _accounts_for_keys(session: Session, keys: set[str]) -> dict[str, int]:
    if not keys:
        return {}
    rows = session.exec(
        select(col(Account.webhook_key), col(Account.id)).where(
            col(Account.webhook_key).in_(sorted(keys)), col(Account.status) != AccountStatus.REMOVED
        )
    ).all()
    return {key: int(account_id) for key, account_id in rows}


def _problem(status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(
        {"status": status, "detail": detail},
        status_code=status,
        media_type="application/problem+json",
        headers=headers,
    )


__all__ = ["InboxWriter", "ReceiverContext", "receiver_context", "router"]
