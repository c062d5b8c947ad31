"""`POST /webhooks/amocrm/{account_key}`: store the delivery durably, then acknowledge. Nothing else.

amoCRM's account webhooks carry no signature, so the unguessable key in the URL identifies the account. The
answer tells amoCRM what to do next:
- 200 — stored: every readable event of it, with the parts that could not be read counted (salvaged); a body
  with no readable event at all is stored too, as a failed item, so amoCRM does not disable the hook;
- 404 unknown key, 403 a body naming another account, 413 too large — nothing stored;
- 503 when the database cannot take it — amoCRM retries, and we never say 200 for an event we did not store.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.applications import Starlette
from starlette.routing import Route

from integration.i18n import Text
from integration.observability import Metrics, metrics_of
from integration.settings import Settings
from integration.storage.inbox import NewInboxItem
from integration.storage.inbox_appender import InboxAppender, inbox_appender
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
    """What the route needs, built once per app run (per `services`): the inbox writer and its outcome counters."""

    __slots__ = ("_received", "metrics", "services", "writer")

    def __init__(self, services: Any, metrics: Metrics, writer: InboxWriter) -> None:
        self.services = services
        self.metrics = metrics
        self.writer = writer
        self._received: dict[str, Any] = {}

    @property
    def settings(self) -> Settings:
        return cast(Settings, self.services.settings)

    def count_salvage(self, unreadable: int, keys_ignored: int) -> None:
        """A delivery stored with parts it could not read (applied without them) or keys it skipped."""
        if unreadable:
            self.metrics.webhook_parts_unreadable.inc(unreadable)
        if keys_ignored:
            self.metrics.webhook_keys_ignored.inc(keys_ignored)

    def count(self, outcome: str) -> None:
        # `labels()` resolves its child on every call; each outcome's child is looked up once.
        child = self._received.get(outcome)
        if child is None:
            child = self._received[outcome] = self.metrics.webhooks_received.labels(outcome=outcome)
        child.inc()


def receiver_context(request: Request) -> ReceiverContext:
    state = request.app.state
    context = getattr(state, "receiver_context", None)
    if context is None or context.services is not state.services:
        writer = getattr(state, "inbox_writer", None)
        if not isinstance(writer, InboxWriter):
            writer = state.inbox_writer = InboxWriter(lambda: state.services.engine)
        context = state.receiver_context = ReceiverContext(state.services, metrics_of(state), writer)
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
    unreadable: int = 0
    keys_ignored: int = 0


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
    if stored.unreadable or stored.keys_ignored:
        context.count_salvage(stored.unreadable, stored.keys_ignored)
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


# (events, claimed account ids, parse error, unreadable parts, keys ignored)
_Parsed = tuple[list[dict[str, Any]], frozenset[int], str | None, int, int]
# A typical delivery is 1-5 KB (~20 µs to parse); 64 KB is a couple of milliseconds.
PARSE_ON_LOOP_MAX_BYTES = 64 * 1024
_Delivery = tuple[str, bytes, _Parsed]
_Pending = tuple[_Delivery, "asyncio.Future[_Stored]"]


class InboxWriter:
    """Group commit: deliveries arriving together are parsed and stored in one transaction.

    Each request still gets its answer only after the transaction holding its delivery has committed (or a 503
    when it failed), so a 200 always means stored. One writer per app, created on the first delivery; it runs
    on the app's event loop and stores through an `InboxAppender` (on the loop for PostgreSQL, in one thread for
    SQLite). One batch is in flight at a time, and the next one is gathered meanwhile: more lanes, each with its
    own connection, measured smaller batches and more CPU per delivery in bench/webhooks.py, with no gain.
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
        # Parsed right here on the event loop: cheaper than a hand-off to a thread. Except a mass edit's body
        # (megabytes, ~0.1 s to parse): in a thread the loop still gets the GIL every few milliseconds.
        if len(body) > PARSE_ON_LOOP_MAX_BYTES:
            parsed = await asyncio.to_thread(_parse, body)
        else:
            parsed = _parse(body)
        self._queue.put_nowait(((account_key, body, parsed), done))
        return await done

    async def aclose(self) -> None:
        """Stop and let go of the database connection (the app's shutdown). Deliveries still waiting get an
        error (→ 503, amoCRM retries); the writer starts afresh on its next delivery, on whatever loop that is."""
        task, self._task = self._task, None
        queue, self._queue = self._queue, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        while queue is not None and not queue.empty():
            _, done = queue.get_nowait()
            if not done.done():
                done.set_exception(_stopped())

    async def _drain(self, queue: asyncio.Queue[_Pending]) -> None:
        appender: InboxAppender | None = None
        try:
            while True:
                batch = [await queue.get()]
                while len(batch) < self._max_batch and not queue.empty():
                    batch.append(queue.get_nowait())
                engine = self._engine()
                if appender is None or appender.engine is not engine:
                    if appender is not None:
                        await appender.aclose()
                    appender = inbox_appender(engine)
                try:
                    outcomes = await _store_isolating(appender, [delivery for delivery, _ in batch])
                except BaseException as exc:
                    for _, done in batch:
                        if not done.done():
                            done.set_exception(exc if isinstance(exc, Exception) else _stopped())
                    if not isinstance(exc, Exception):
                        raise
                    continue
                for (_, done), outcome in zip(batch, outcomes, strict=True):
                    if not done.done():
                        done.set_result(outcome)
        finally:
            if appender is not None:
                await asyncio.shield(appender.aclose())


def _stopped() -> OperationalError:
    # As a database that cannot take the delivery: the route answers 503 and amoCRM retries.
    return OperationalError("inbox writer stopped", None, RuntimeError("shutting down"))


async def _store_isolating(appender: InboxAppender, deliveries: list[_Delivery]) -> list[_Stored]:
    """The batch in one transaction; if the database refuses its content, each delivery on its own, so one
    odd body cannot take its neighbours down with it. An unreachable database fails them all (→ 503)."""
    try:
        return await _store_batch(appender, deliveries)
    except OperationalError:
        raise
    except DBAPIError:
        if len(deliveries) == 1:
            raise
    outcomes: list[_Stored] = []
    for delivery in deliveries:
        try:
            outcomes.extend(await _store_batch(appender, [delivery]))
        except OperationalError:
            raise
        except DBAPIError as exc:
            logger.error("webhook refused by the database: %s", type(exc).__name__)
            outcomes.append(_Stored(_Outcome.REFUSED))
    return outcomes


async def _store_batch(appender: InboxAppender, deliveries: list[_Delivery]) -> list[_Stored]:
    """Store a batch of parsed deliveries in one short transaction."""
    outcomes: list[_Stored] = []

    def choose(accounts: Mapping[str, int]) -> list[NewInboxItem]:
        outcomes.clear()
        rows: list[NewInboxItem] = []
        for key, body, (events, claimed, error, unreadable, keys_ignored) in deliveries:
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
                rows.append(
                    NewInboxItem(
                        account_id=account_id,
                        body=_storable(body),
                        events=events,
                        unreadable_count=unreadable,
                    )
                )
                outcomes.append(_Stored(_Outcome.STORED, account_id, unreadable, keys_ignored))
        return rows

    await appender.append({key for key, _, _ in deliveries if key and len(key) <= 200}, choose)
    return outcomes


def _storable(body: bytes) -> str:
    # PostgreSQL text cannot hold NUL; one such body must not fail the whole group commit.
    return body.decode("utf-8", errors="replace").replace("\x00", "\ufffd")


def _parse(body: bytes) -> _Parsed:
    """(events as JSON dicts, account ids the body names, parse error, unreadable parts, keys ignored)."""
    try:
        parsed = parse_webhook_for_inbox(body)
    except WebhookParseError as exc:
        return [], frozenset(), exc.reason, 0, 0
    return parsed.events, parsed.claimed_account_ids, None, parsed.unreadable, parsed.keys_ignored


webhook_route = Route("/webhooks/amocrm/{account_key}", receive_amocrm_webhook, methods=["POST"])


def mount_receiver(app: Starlette) -> None:
    """Put the receiver's route first in the app. Behind FastAPI's included routers, matching a delivery cost
    ~14 µs of the ~70 µs it takes to store it (bench/webhooks.py); first, it is one path check."""
    app.router.routes.insert(0, webhook_route)


def _problem(status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(
        {"status": status, "detail": detail},
        status_code=status,
        media_type="application/problem+json",
        headers=headers,
    )


__all__ = ["InboxWriter", "ReceiverContext", "mount_receiver", "receiver_context", "webhook_route"]
