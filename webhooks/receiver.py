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
from typing import Any, cast

import anyio
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import Table, bindparam
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from integration.i18n import Text
from integration.observability import Metrics, metrics_of
from integration.settings import Settings
from integration.storage.accounts import Account, AccountStatus
from integration.storage.inbox import NewInboxItem, add_items
from webhooks.parse import WebhookParseError, parse_webhook_for_inbox

logger = logging.getLogger(__name__)

UNKNOWN_KEY = Text(ru="Неизвестный адрес вебхука", en="Unknown webhook address")
WRONG_ACCOUNT = Text(
    ru="Вебхук относится к другому аккаунту amoCRM", en="The webhook belongs to another amoCRM account"
)
TOO_LARGE = Text(ru="Тело вебхука слишком большое", en="The webhook body is too large")
STORAGE_DOWN = Text(
    ru="Хранилище временно недоступно, повторите позже", en="Storage is temporarily unavailable, retry later"
)


class ReceiverContext:
    """What the route needs, built once per app run: settings, the inbox writer and its outcome counters."""

    __slots__ = ("_received", "built_for", "metrics", "settings", "writer")

    def __init__(self, built_for: object, settings: Settings, metrics: Metrics, writer: InboxWriter) -> None:
        self.built_for = built_for
        self.settings = settings
        self.metrics = metrics
        self.writer = writer
        self._received: dict[str, Any] = {}

    def count(self, outcome: str) -> None:
        # `labels()` resolves its child on every call; each outcome's child is looked up once.
        child = self._received.get(outcome)
        if child is None:
            child = self._received[outcome] = self.metrics.webhooks_received.labels(outcome=outcome)
        child.inc()


def receiver_context(request: Request) -> ReceiverContext:
    state = request.app.state
    context = getattr(state, "receiver_context", None)
    if context is None or context.built_for is not state.services:
        writer = getattr(state, "inbox_writer", None)
        if not isinstance(writer, InboxWriter):
            writer = state.inbox_writer = InboxWriter(lambda: state.services.engine)
        context = state.receiver_context = ReceiverContext(
            state.services, state.services.settings, metrics_of(state), writer
        )
    return cast(ReceiverContext, context)


class _Outcome:
    STORED = "stored"
    FAILED_PARSE = "failed_parse"
    UNKNOWN_KEY = "unknown_key"
    FORBIDDEN = "forbidden"
    REFUSED = "refused_by_database"


@dataclass(frozen=True, slots=True)
class _Stored:
    outcome: str
    account_id: int | None = None


router = APIRouter(tags=["webhooks"])


async def receive_amocrm_webhook(request: Request) -> Response:
    """The route. A plain Starlette endpoint: FastAPI's dependency and validation machinery would cost more than
    storing the delivery does, and there is nothing here for it to validate."""
    account_key = str(request.path_params["account_key"])
    context = receiver_context(request)
    lang = context.settings.language
    body = await _read_capped(request, context.settings.webhook_max_body_bytes)
    if body is None:
        context.count("too_large")
        return _problem(413, TOO_LARGE(lang))
    try:
        stored = await context.writer.store(account_key, body)
    except (OperationalError, DBAPIError, PoolTimeout) as exc:
        context.count("db_unavailable")
        logger.error("webhook not stored, database unavailable: %s", type(exc).__name__)
        return _problem(503, STORAGE_DOWN(lang), headers={"Retry-After": "5"})
    context.count(stored.outcome)
    if stored.outcome == _Outcome.UNKNOWN_KEY:
        return _problem(404, UNKNOWN_KEY(lang))
    if stored.outcome == _Outcome.REFUSED:
        return _problem(500, STORAGE_DOWN(lang))
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


_Parsed = tuple[list[dict[str, Any]], frozenset[int], str | None]
_Delivery = tuple[str, bytes, _Parsed]
_Pending = tuple[_Delivery, "asyncio.Future[_Stored]"]


class InboxWriter:
    """Group commit: deliveries arriving together are parsed and stored in one transaction.

    Each request still gets its answer only after the transaction holding its delivery has committed (or a 503
    when it failed), so a 200 always means stored. One writer per app, created on the first delivery; it runs
    on the app's event loop and does the database work in a worker thread. `lanes` batches may be in flight at
    once; one is the default on both databases: on PostgreSQL a second lane (one batch's commit overlapping the
    next one's inserts) measured ~20% more server CPU per delivery in bench/webhooks.py — smaller batches, more
    thread hand-offs and GIL contention — with no gain in throughput or p99; SQLite has one writer anyway.
    """

    def __init__(self, engine: Callable[[], Engine], *, max_batch: int = 256, lanes: int = 1) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._lanes = lanes
        self._queue: asyncio.Queue[_Pending] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def __repr__(self) -> str:
        return f"InboxWriter(max_batch={self._max_batch}, lanes={self._lanes})"

    async def store(self, account_key: str, body: bytes) -> _Stored:
        loop = asyncio.get_running_loop()
        if self._queue is None:
            self._queue = asyncio.Queue()
        self._tasks = [task for task in self._tasks if not task.done()]
        if not self._tasks:
            self._tasks = [
                loop.create_task(self._drain(self._queue), name=f"inbox-writer-{lane}")
                for lane in range(self._lanes)
            ]
        done: asyncio.Future[_Stored] = loop.create_future()
        # Parsed right here on the event loop: a fraction of a millisecond, and cheaper than handing the
        # body to a thread and fighting it for the GIL.
        self._queue.put_nowait(((account_key, body, _parse(body)), done))
        return await done

    async def _drain(self, queue: asyncio.Queue[_Pending]) -> None:
        while True:
            batch = [await queue.get()]
            while len(batch) < self._max_batch and not queue.empty():
                batch.append(queue.get_nowait())
            try:
                outcomes = await anyio.to_thread.run_sync(
                    _store_isolating, self._engine(), [delivery for delivery, _ in batch]
                )
            except BaseException as exc:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc if isinstance(exc, Exception) else RuntimeError("stopped"))
                if not isinstance(exc, Exception):
                    raise
                continue
            for (_, done), outcome in zip(batch, outcomes, strict=True):
                if not done.done():
                    done.set_result(outcome)


def _store_isolating(engine: Engine, deliveries: list[_Delivery]) -> list[_Stored]:
    """The batch in one transaction; if the database refuses its content, each delivery on its own, so one
    odd body cannot take its neighbours down with it. An unreachable database fails them all (→ 503)."""
    try:
        return _store_batch(engine, deliveries)
    except OperationalError:
        raise
    except DBAPIError:
        if len(deliveries) == 1:
            raise
    outcomes: list[_Stored] = []
    for delivery in deliveries:
        try:
            outcomes.extend(_store_batch(engine, [delivery]))
        except OperationalError:
            raise
        except DBAPIError as exc:
            logger.error("webhook refused by the database: %s", type(exc).__name__)
            outcomes.append(_Stored(_Outcome.REFUSED))
    return outcomes


def _store_batch(engine: Engine, deliveries: list[_Delivery]) -> list[_Stored]:
    """Store a batch of parsed deliveries in one short transaction (runs in a worker thread)."""
    keys = {key for key, _, _ in deliveries if key and len(key) <= 200}
    outcomes: list[_Stored] = []
    rows: list[NewInboxItem] = []
    with engine.begin() as connection:
        accounts = _accounts_for_keys(connection, keys)
        for key, body, (events, claimed, error) in deliveries:
            account_id = accounts.get(key)
            if account_id is None:
                outcomes.append(_Stored(_Outcome.UNKNOWN_KEY))
            elif error is not None:
                rows.append(
                    NewInboxItem(account_id=account_id, body=_storable(body), events=(), parse_error=error)
                )
                logger.warning("webhook for account %s kept as a failed item: %s", account_id, error)
                outcomes.append(_Stored(_Outcome.FAILED_PARSE, account_id))
            elif claimed - {account_id}:
                outcomes.append(_Stored(_Outcome.FORBIDDEN, account_id))
            else:
                rows.append(NewInboxItem(account_id=account_id, body=_storable(body), events=events))
                outcomes.append(_Stored(_Outcome.STORED, account_id))
        add_items(connection=connection, items=rows)
    return outcomes


def _storable(body: bytes) -> str:
    # PostgreSQL text cannot hold NUL; one such body must not fail the whole group commit.
    return body.decode("utf-8", errors="replace").replace("\x00", "\ufffd")


def _parse(body: bytes) -> _Parsed:
    """(events as JSON dicts, account ids the body names, parse error)."""
    try:
        parsed = parse_webhook_for_inbox(body)
    except WebhookParseError as exc:
        return [], frozenset(), exc.reason
    return parsed.events, parsed.claimed_account_ids, None


def _accounts_for_keys(connection: Connection, keys: set[str]) -> dict[str, int]:
    if not keys:
        return {}
    rows = connection.execute(_ACCOUNTS_BY_KEY, {"keys": sorted(keys)}).all()
    return {str(key): int(account_id) for key, account_id in rows}


_ACCOUNTS: Table = Account.__table__  # type: ignore[attr-defined]
# Built once: composing the statement per batch cost more than running it.
_ACCOUNTS_BY_KEY = sa_select(_ACCOUNTS.c.webhook_key, _ACCOUNTS.c.id).where(
    _ACCOUNTS.c.webhook_key.in_(bindparam("keys", expanding=True)),
    _ACCOUNTS.c.status != AccountStatus.REMOVED,
)


router.add_route("/webhooks/amocrm/{account_key}", receive_amocrm_webhook, methods=["POST"])


def _problem(status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(
        {"status": status, "detail": detail},
        status_code=status,
        media_type="application/problem+json",
        headers=headers,
    )


__all__ = ["InboxWriter", "ReceiverContext", "receiver_context", "router"]
