"""`POST /webhooks/amocrm/{account_key}`: store the delivery durably, then acknowledge. Nothing else.

amoCRM's account webhooks carry no signature, so the unguessable key in the URL identifies the account. The
answer tells amoCRM what to do next:
- 200 — stored (an unreadable body is stored too, as a failed item, so amoCRM does not disable the hook);
- 404 unknown key, 403 a body naming another account, 413 too large — nothing stored;
- 503 when the database cannot take it — amoCRM retries, and we never say 200 for an event we did not store.
"""

from __future__ import annotations

import logging
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
from integration.storage.inbox import add_item
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
    engine: Engine
    settings: Settings
    metrics: Metrics


def receiver_context(request: Request) -> ReceiverContext:
    services = request.app.state.services
    return ReceiverContext(
        engine=services.engine, settings=services.settings, metrics=metrics_of(request.app.state)
    )


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
    item_id: int | None = None


router = APIRouter(tags=["webhooks"])


@router.post("/webhooks/amocrm/{account_key}")
async def receive_amocrm_webhook(account_key: str, request: Request, context: Context) -> Response:
    lang = context.settings.language
    body = await _read_capped(request, context.settings.webhook_max_body_bytes)
    if body is None:
        context.metrics.webhooks_received.labels(outcome="too_large").inc()
        return _problem(413, TOO_LARGE(lang))
    try:
        stored = await anyio.to_thread.run_sync(_store, context.engine, account_key, body)
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


def _store(engine: Engine, account_key: str, body: bytes) -> _Stored:
    """Parse and store in one transaction; runs in a worker thread so the event loop keeps accepting."""
    with session_scope(engine) as session:
        account_id = _account_for_key(session, account_key)
        if account_id is None:
            return _Stored(_Outcome.UNKNOWN_KEY)
        text = body.decode("utf-8", errors="replace")
        try:
            payload = parse_webhook(body)
        except WebhookParseError as exc:
            item = add_item(
                session=session, account_id=account_id, body=text, events=[], parse_error=exc.reason
            )
            logger.warning(
                "webhook for account %s kept as failed item %s: %s", account_id, item.id, exc.reason
            )
            return _Stored(_Outcome.FAILED_PARSE, account_id, item.id)
        if payload.claimed_account_ids - {account_id}:
            return _Stored(_Outcome.FORBIDDEN, account_id)
        events: list[dict[str, Any]] = [event_to_dict(event) for event in payload.events]
        item = add_item(session=session, account_id=account_id, body=text, events=events)
        return _Stored(_Outcome.STORED, account_id, item.id)


def _account_for_key(session: Session, account_key: str) -> int | None:
    if not account_key or len(account_key) > 200:
        return None
    found = session.exec(
        select(col(Account.id)).where(
            col(Account.webhook_key) == account_key, col(Account.status) != AccountStatus.REMOVED
        )
    ).first()
    return int(found) if found is not None else None


def _problem(status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(
        {"status": status, "detail": detail},
        status_code=status,
        media_type="application/problem+json",
        headers=headers,
    )


__all__ = ["ReceiverContext", "receiver_context", "router"]
