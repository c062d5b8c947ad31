"""The worker: drains the inbox, classifies the leads it names and writes the results back to amoCRM.

One pass (`process_once`):
1. lease a batch of inbox items — in the running worker, an account's items once the oldest is
   `writeback_latency_seconds` old or 250 events are due, so one PATCH serves everything people did meanwhile
   (leases expire, so a crashed worker's items come back);
2. per account, coalesce the events per lead (`coalesce`) — in any arrival order the newest `updated_at` wins;
   50 updates of one lead are one evaluation; status events that moved nothing are dropped;
3. decide per lead (`_decide`): old news, a duplicate or the echo of our own write → nothing; a complete body
   (the whole lead, every part read) → classified from the body, no call; anything else (ids only, a part
   that could not be read, a reconciliation hint, two states in one second) → read, 250 ids per GET;
4. classify with the account's active rules (read again for every batch, so a newly activated version applies
   to the next event), plan each lead's write-back (`sync.writeback.plan_lead_update`, None when the lead
   already holds the values) and PATCH 250 per request;
5. in one transaction: snapshots, status history and the items marked done.

Write-backs are idempotent (planned against the lead's current values), so an item processed twice — a lease
that expired mid-batch, a duplicate delivery — changes amoCRM once in effect. A failing account's items are
retried with backoff and dead-lettered after `worker_max_attempts`; other accounts in the batch go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol

import anyio
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from integration.amocrm import AccountApi
from integration.db import session_scope
from integration.i18n import Language
from integration.observability import Metrics
from integration.provisioning import ProvisionedFields, load_provisioned_fields
from integration.settings import Settings
from integration.storage import inbox as inbox_store
from integration.storage import leads as lead_store
from integration.storage import rulesets as ruleset_store
from integration.storage.accounts import Account
from integration.storage.inbox import InboxItem
from integration.storage.leads import LeadSnapshot
from rules import Classification, RuleSet, classify_lead
from sync.promos.matching import PromoBook
from sync.promos.service import load_promo_book, promo_fields_for_lead
from sync.promos.writeback import current_text, plan_promo_field_values
from sync.writeback import CHANNEL_TAG_PREFIX, LEVEL_TAG_PREFIX, OWN_TAG_PREFIXES, plan_lead_update
from webhooks.parse import (
    ContactEvent,
    LeadEvent,
    ParsedEvent,
    UnreadableEvent,
    WebhookParseError,
    event_from_dict,
    parse_webhook_for_inbox,
)

logger = logging.getLogger(__name__)

__all__ = [
    "LeadWork",
    "WorkerServices",
    "coalesce",
    "new_worker_id",
    "process_once",
    "requeue_with_reparse",
    "retry_delay_seconds",
    "run_worker",
]

PATCH_BATCH = 250
# A window closes early when this many events are due: one PATCH (and at most one GET) takes 250 leads.
WINDOW_FULL_EVENTS = 250


class Connector(Protocol):
    def api_for(self, account_id: int) -> AccountApi: ...


class WorkerServices(Protocol):
    """What the worker needs from `integration.bootstrap.Services`."""

    @property
    def settings(self) -> Settings: ...
    @property
    def engine(self) -> Engine: ...
    @property
    def connector(self) -> Connector: ...
    @property
    def metrics(self) -> Metrics: ...


# --- pure: coalescing and backoff -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LeadWork:
    """Everything one batch asks of one lead."""

    lead_id: int
    needs_evaluation: bool
    deleted: bool
    status_moves: tuple[LeadEvent, ...] = ()
    newest_event_at: int | None = None
    # The newest complete event (v2 shape with the lead's name, status, fields and tags, every part readable):
    # the lead as it is, with no need to read it again — unless `must_read`.
    newest_update: LeadEvent | None = None
    # The newest news about the lead is not a complete body (ids only, a reconciliation hint, a contact
    # change, an unreadable part, or two different states within one second): read the lead.
    must_read: bool = False
    # … for a reason other than a dated hint with no content (which the state we hold may already answer).
    must_read_anyway: bool = False


@dataclass(slots=True)
class _Acc:
    needs_evaluation: bool = False
    deleted: bool | None = None
    status_moves: list[LeadEvent] = field(default_factory=list)
    newest_event_at: int | None = None
    newest_complete: LeadEvent | None = None
    must_read: bool = False
    undated: bool = False


# Actions whose v2 body carries the whole lead.
_FULL_SHAPE_ACTIONS = frozenset(("add", "update", "status", "responsible", "restore"))


def is_complete(event: LeadEvent) -> bool:
    """The event carries the whole lead (v2 shape) and every part of it was readable (pure)."""
    return (
        event.action in _FULL_SHAPE_ACTIONS
        and not event.unreadable
        and event.name is not None
        and event.status_id is not None
        and event.pipeline_id is not None
        and event.occurred_at is not None
    )


def coalesce(events: Iterable[ParsedEvent], *, contacts_matter: bool = True) -> list[LeadWork]:
    """Fold one account's events (in any arrival order) into one `LeadWork` per lead, ordered by lead id.

    The newest `updated_at` wins whatever the order of arrival; a duplicate is the same state twice. With
    `contacts_matter` False (rules that never look at contacts) contact events ask nothing of their leads.
    """
    leads: dict[int, _Acc] = defaultdict(_Acc)
    for event in events:
        if isinstance(event, UnreadableEvent):
            continue  # counted by the receiver; nothing in it to apply
        if isinstance(event, ContactEvent):
            # A contact's phone or e-mail can change its leads' classification.
            if contacts_matter and event.action != "delete":
                for lead_id in event.linked_lead_ids:
                    leads[lead_id].needs_evaluation = True
                    leads[lead_id].must_read = True
            continue
        acc = leads[event.lead_id]
        if event.unreadable:
            # Whatever else it says, a part of this lead is unknown until it is read again.
            acc.needs_evaluation = acc.must_read = True
        if event.is_status_artefact or event.action == "note":
            continue
        if event.action == "delete":
            acc.deleted = True
            continue
        if event.action == "restore":
            acc.deleted = False
        if event.action == "status" and event.status_id is not None:
            acc.status_moves.append(event)
        acc.needs_evaluation = True
        at = event.occurred_at
        if at is None:
            acc.undated = True
            continue
        if acc.newest_event_at is None or at > acc.newest_event_at:
            acc.newest_event_at = at
        if is_complete(event):
            newest = acc.newest_complete
            if newest is None or at > (newest.occurred_at or 0):
                acc.newest_complete = event
            elif at == newest.occurred_at and lead_signature(event) != lead_signature(newest):
                # Two different states within one second: which came last cannot be told from the bodies.
                acc.must_read = True
    work: list[LeadWork] = []
    for lead_id, acc in sorted(leads.items()):
        newest = acc.newest_complete
        stale = newest is None or (newest.occurred_at or 0) < (acc.newest_event_at or 0)
        work.append(
            LeadWork(
                lead_id=lead_id,
                needs_evaluation=acc.needs_evaluation and acc.deleted is not True,
                deleted=acc.deleted is True,
                status_moves=tuple(sorted(acc.status_moves, key=lambda move: move.occurred_at or 0)),
                newest_event_at=acc.newest_event_at,
                newest_update=newest,
                must_read=acc.must_read or acc.undated or stale,
                must_read_anyway=acc.must_read or acc.undated,
            )
        )
    return work


def lead_signature(event: LeadEvent) -> tuple[Any, ...]:
    """What a complete event says about the lead, in a comparable form (pure)."""
    return (
        _plain(event.name),
        _plain(event.price),
        _plain(event.status_id),
        _plain(event.pipeline_id),
        _plain(event.responsible_user_id),
        frozenset(_event_field_values(event).items()),
        frozenset(event.tags),
    )


def held_signature(data: Mapping[str, Any]) -> tuple[Any, ...]:
    """`lead_signature` of a lead we hold (v4 JSON, read from amoCRM or built from a body) (pure)."""
    embedded = data.get("_embedded") or {}
    return (
        _plain(data.get("name")),
        _plain(data.get("price")),
        _plain(data.get("status_id")),
        _plain(data.get("pipeline_id")),
        _plain(data.get("responsible_user_id")),
        frozenset(_held_field_values(data).items()),
        frozenset(str(t.get("name")) for t in embedded.get("tags") or () if t.get("name") is not None),
    )


def _event_field_values(event: LeadEvent) -> dict[int, tuple[str, ...]]:
    return {
        f.id: tuple(f"#{v.enum_id}" if v.enum_id is not None else (v.value or "") for v in f.values)
        for f in event.custom_fields
        if f.values
    }


def _held_field_values(data: Mapping[str, Any]) -> dict[int, tuple[str, ...]]:
    return {
        int(f["field_id"]): tuple(
            f"#{v['enum_id']}" if v.get("enum_id") is not None else _plain(v.get("value"))
            for v in f["values"]
        )
        for f in data.get("custom_fields_values") or ()
        if f.get("values")
    }


def lead_from_event(event: LeadEvent, held: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The lead as v4 JSON from a complete event (pure): what a GET would have answered, for the rules, the
    write-back plan and the snapshot. Contacts are not in a lead's body: those we held are kept."""
    fields = [
        {
            "field_id": f.id,
            "field_name": f.name,
            "field_code": f.code,
            "values": [
                {"value": v.value} if v.enum_id is None else {"value": v.value, "enum_id": v.enum_id}
                for v in f.values
            ],
        }
        for f in event.custom_fields
        if f.values
    ]
    held_embedded = (held or {}).get("_embedded") or {}
    embedded: dict[str, Any] = {"tags": [{"name": name} for name in event.tags]}
    if held_embedded.get("contacts"):
        embedded["contacts"] = held_embedded["contacts"]
    return {
        "id": event.lead_id,
        "name": event.name,
        "price": event.price,
        "status_id": event.status_id,
        "pipeline_id": event.pipeline_id,
        "responsible_user_id": event.responsible_user_id,
        "created_at": event.created_at,
        "updated_at": event.updated_at or event.occurred_at,
        "closed_at": event.closed_at or None,
        "account_id": event.account_id,
        "is_deleted": False,
        "custom_fields_values": fields or None,
        "_embedded": embedded,
    }


def retry_delay_seconds(attempts: int, *, rng: random.Random | None = None) -> float:
    """Exponential backoff with jitter: ~5 s, 10 s, 20 s … capped at one hour."""
    base: float = min(3600.0, 5.0 * 2.0 ** max(0, attempts - 1))
    jitter: float = (rng or random.Random()).random()
    return base * (0.75 + 0.5 * jitter)


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True, slots=True)
class HeldLead:
    """What we hold of a lead: the state we classified (v4 JSON) and the values we computed for it."""

    updated_at: int
    rule_version: int | None
    data: Mapping[str, Any]
    channel: str | None
    level: str | None
    qualified: bool | None
    reason: str | None


def is_echo_of_our_write(event: LeadEvent, held: HeldLead, fields: ProvisionedFields) -> bool:
    """True when the event shows the lead exactly as we classified it plus the values we wrote (pure).

    That is what amoCRM sends after our own PATCH. Anything else — a person changed a field, a tag, the price,
    or our values are not (all) there — is real work.
    """
    ours = {fields.channel, fields.level, fields.qualified, fields.reason}
    # Also written by us (promos, coupon, the channel's % qualified from the stats push) but not held here:
    # ignored on both sides, so their echoes cost no read either.
    ignored = ours | {fields.promos, fields.coupon, fields.channel_qualified_pct}
    data = held.data
    for key, value in (
        ("name", event.name),
        ("price", event.price),
        ("status_id", event.status_id),
        ("pipeline_id", event.pipeline_id),
        ("responsible_user_id", event.responsible_user_id),
    ):
        if _plain(data.get(key)) != _plain(value):
            return False
    event_fields = {
        f.id: tuple(f"#{v.enum_id}" if v.enum_id is not None else (v.value or "") for v in f.values)
        for f in event.custom_fields
        if f.values
    }
    held_fields = {
        int(f["field_id"]): tuple(
            f"#{v['enum_id']}" if v.get("enum_id") is not None else _plain(v.get("value"))
            for v in f["values"]
        )
        for f in data.get("custom_fields_values") or ()
        if f.get("values")
    }
    if {k: v for k, v in event_fields.items() if k not in ignored} != {
        k: v for k, v in held_fields.items() if k not in ignored
    }:
        return False
    level_enum = fields.level_enums.get(held.level or "")
    wanted_ours = {
        fields.channel: (held.channel or "",),
        fields.level: (f"#{level_enum}",),
        fields.qualified: (f"#{fields.qualified_enums.get('yes' if held.qualified else 'no')}",),
        fields.reason: (held.reason or "",),
    }
    got_ours = {k: v for k, v in event_fields.items() if k in ours and v not in (("0",), ("",))}
    if got_ours != wanted_ours:
        return False
    embedded = data.get("_embedded") or {}
    held_tags = {t.get("name") for t in embedded.get("tags") or ()}
    people = {t for t in event.tags if not t.startswith(OWN_TAG_PREFIXES)}
    if people != {t for t in held_tags if isinstance(t, str) and not t.startswith(OWN_TAG_PREFIXES)}:
        return False
    return set(event.tags) - people == {
        f"{CHANNEL_TAG_PREFIX}{held.channel}",
        f"{LEVEL_TAG_PREFIX}{held.level}",
    }


def _plain(value: Any) -> str:
    """One text form for a v4 JSON value and a v2 webhook string."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


# --- the loop ---------------------------------------------------------------------------------------------


async def run_worker(services: WorkerServices, stop: asyncio.Event) -> None:
    """Process the inbox until `stop` is set (runs inside `serve`, or alone as `leadpact worker`)."""
    owner = new_worker_id()
    poll = services.settings.worker_poll_seconds
    logger.info("worker %s started", owner)
    window = services.settings.writeback_latency_seconds
    while not stop.is_set():
        try:
            processed = await process_once(services, owner=owner, window_seconds=window)
        except Exception:
            logger.exception("worker pass failed; retrying shortly")
            processed = 0
        if processed == 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=poll)
    logger.info("worker %s stopped", owner)


async def process_once(
    services: WorkerServices, *, owner: str | None = None, window_seconds: float = 0.0
) -> int:
    """One pass over one claimed batch; the items it completed.

    With `window_seconds` (the write-back latency budget) an account's deliveries gather until the oldest of
    them is that old, or `WINDOW_FULL_EVENTS` events are due; then all of them are taken at once, so one GET
    (if any) and one PATCH serve everything people did meanwhile. Without, everything due is taken.
    """
    owner = owner or new_worker_id()
    settings = services.settings
    started = time.perf_counter()
    items = await anyio.to_thread.run_sync(_claim, services.engine, owner, settings, window_seconds)
    if not items:
        return 0
    by_account: dict[int, list[InboxItem]] = defaultdict(list)
    for item in items:
        by_account[item.account_id].append(item)
    done = await asyncio.gather(
        *(_process_account(services, account_id, group, owner) for account_id, group in by_account.items())
    )
    services.metrics.worker_batch_seconds.observe(time.perf_counter() - started)
    return sum(done)


def _claim(engine: Engine, owner: str, settings: Settings, window_seconds: float) -> list[InboxItem]:
    with session_scope(engine) as session:
        accounts = None
        if window_seconds > 0:
            accounts = inbox_store.accounts_due(
                session=session,
                oldest_received_before=time.time() - window_seconds,
                events_at_least=WINDOW_FULL_EVENTS,
            )
            if not accounts:
                return []
        return inbox_store.claim_batch(
            session=session,
            owner=owner,
            limit=settings.worker_batch_size,
            lease_seconds=settings.worker_lease_seconds,
            account_ids=accounts,
        )


# --- one account's share of a batch -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _AccountContext:
    rule_version: int
    ruleset: RuleSet
    fields: ProvisionedFields | None
    language: Language
    held: Mapping[int, HeldLead]


@dataclass(frozen=True, slots=True)
class _Outcome:
    snapshots: list[dict[str, Any]]
    deleted_ids: list[int]
    status_events: list[dict[str, Any]]
    # Leads (v4 JSON) whose webhook was the echo of our own write: same classification, newer time.
    echoes: list[dict[str, Any]] = field(default_factory=list)


async def _process_account(
    services: WorkerServices, account_id: int, items: list[InboxItem], owner: str
) -> int:
    metrics = services.metrics
    label = str(account_id)
    item_ids = [item.id or 0 for item in items]
    event_count = sum(item.event_count for item in items)
    try:
        events = [event_from_dict(data) for item in items for data in item.events]
        context = await anyio.to_thread.run_sync(
            _load_context, services.engine, account_id, [w.lead_id for w in coalesce(events)]
        )
        work = coalesce(events, contacts_matter=_rules_read_contacts(context.ruleset))
        outcome = await _evaluate_and_write(services, account_id, work, context)
        await anyio.to_thread.run_sync(_persist, services.engine, account_id, item_ids, owner, outcome)
    except Exception as exc:
        attempts = max(item.attempts for item in items) + 1
        delay = retry_delay_seconds(attempts)
        metrics.events_failed.labels(account_id=label).inc(event_count)
        logger.warning(
            "inbox items %s for account %s failed (attempt %d): %s; retry in %.0fs",
            item_ids[:5], account_id, attempts, _describe(exc), delay,
            extra={"account_id": account_id},
        )  # fmt: skip
        await anyio.to_thread.run_sync(_release, services, item_ids, owner, _describe(exc), delay)
        return 0
    metrics.events_processed.labels(account_id=label).inc(event_count)
    return len(items)


async def _evaluate_and_write(
    services: WorkerServices, account_id: int, work: list[LeadWork], context: _AccountContext
) -> _Outcome:
    status_events = [_status_row(account_id, move) for lead in work for move in lead.status_moves]
    deleted_ids = [lead.lead_id for lead in work if lead.deleted]
    label = str(account_id)
    plans = [(lead, _decide(lead, context)) for lead in work if lead.needs_evaluation]
    skipped = sum(1 for _, decision in plans if decision is _SKIP or decision is _ECHO)
    # Our PATCH moved the lead's updated_at: holding the echo's state and time spares reconciliation a re-read.
    echoes = [
        lead_from_event(lead.newest_update, _held_data(context, lead.lead_id))
        for lead, decision in plans
        if decision is _ECHO and lead.newest_update is not None
    ]
    if skipped:
        services.metrics.writebacks.labels(account_id=label, outcome="skipped_unchanged").inc(skipped)
    to_read = [lead.lead_id for lead, decision in plans if decision is _READ]
    trusted = [
        lead_from_event(decision, _held_data(context, lead.lead_id))
        for lead, decision in plans
        if isinstance(decision, LeadEvent)
    ]
    trusted += [dict(context.held[lead.lead_id].data) for lead, decision in plans if decision is _HELD]
    if not to_read and not trusted:
        return _Outcome(snapshots=[], deleted_ids=deleted_ids, status_events=status_events, echoes=echoes)

    api = await anyio.to_thread.run_sync(services.connector.api_for, account_id)
    read: list[dict[str, Any]] = []
    if to_read:
        # One GET per 250 leads (`filter[id][]`), with their contacts.
        read = [lead.model_dump(mode="json", by_alias=True) for lead in await api.get_leads(to_read)]
        services.metrics.leads_read.labels(account_id=label).inc(len(to_read))
        # Asked for but not returned: deleted in amoCRM since the event.
        returned = {int(lead["id"]) for lead in read}
        deleted_ids += [lead_id for lead_id in to_read if lead_id not in returned]
    leads = trusted + read
    contacts = await _contacts_of(api, leads) if _rules_read_contacts(context.ruleset) else {}
    now = datetime.now(UTC)
    snapshots: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    book = await anyio.to_thread.run_sync(
        partial(load_promo_book, engine=services.engine, account_id=account_id, now=now)
    )
    for lead in leads:
        lead_contacts = [contacts[ref["id"]] for ref in _contact_refs(lead) if ref["id"] in contacts]
        classification = classify_lead(context.ruleset, lead, contacts=lead_contacts, now=now)
        services.metrics.leads_evaluated.labels(account_id=label).inc()
        if context.fields is not None:
            update = plan_lead_update(lead, classification, context.fields, lang=context.language)
            promo_values, note = await _promo_write(
                services, account_id, lead, classification, context, book, now
            )
            if promo_values:
                update = update or {"id": int(lead["id"])}
                update["custom_fields_values"] = [*update.get("custom_fields_values", []), *promo_values]
            if note:
                notes.append({"entity_id": int(lead["id"]), "note_type": "common", "params": {"text": note}})
            if update is None:
                services.metrics.writebacks.labels(account_id=label, outcome="skipped_noop").inc()
            else:
                updates.append(update)
        snapshots.append(
            lead_store.snapshot_row(
                account_id,
                lead,
                classification,
                rule_version=context.rule_version,
                classified_at=int(now.timestamp()),
                lang=context.language,
            )
        )
    for start in range(0, len(updates), PATCH_BATCH):
        chunk = updates[start : start + PATCH_BATCH]
        await api.update_leads(chunk)
        services.metrics.writebacks.labels(account_id=label, outcome="patched").inc(len(chunk))
        written = [update["id"] for update in chunk[:20]]
        logger.info(
            "wrote LeadPact values to %d leads of account %s",
            len(chunk), account_id, extra={"account_id": account_id, "lead_ids": written},
        )  # fmt: skip
    if notes:
        await api.add_notes("leads", notes)
    return _Outcome(snapshots=snapshots, deleted_ids=deleted_ids, status_events=status_events, echoes=echoes)


class _Decision:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


_SKIP = _Decision("skip")  # nothing new: old news or a duplicate
_ECHO = _Decision("echo")  # the echo of our own write: nothing to do but remember the lead's new time
_READ = _Decision("read")  # GET the lead (batched)
_HELD = _Decision("held")  # evaluate the state we hold (no call)


def _decide(lead: LeadWork, context: _AccountContext) -> _Decision | LeadEvent:
    """Skip the lead, read it, or classify it from its newest complete event (no call at all)."""
    held = context.held.get(lead.lead_id)
    current_rules = held is not None and held.rule_version == context.rule_version
    at = lead.newest_event_at
    if held is not None and at is not None and at < held.updated_at:
        # Older than what we hold (parts it could not read included): a late or out-of-order delivery never
        # rolls a lead back.
        return _SKIP if current_rules else _READ
    newest_is_a_hint = lead.newest_update is None or (lead.newest_update.occurred_at or 0) < (at or 0)
    if (
        newest_is_a_hint
        and held is not None
        and current_rules
        and at == held.updated_at
        and not lead.must_read_anyway
    ):
        # A dated hint (reconciliation) about the very state we hold: no read. That state may never have been
        # written back (a backfill stores snapshots too), so it is evaluated from what we hold; a lead already
        # carrying our values plans no write.
        return _HELD
    if lead.must_read or lead.newest_update is None:
        return _READ
    event = lead.newest_update
    if held is not None and current_rules:
        if context.fields is not None and is_echo_of_our_write(event, held, context.fields):
            return _ECHO
        if at == held.updated_at:
            # Same second as what we hold: a duplicate when it says the same, else which is newer is unknown.
            return _SKIP if lead_signature(event) == held_signature(held.data) else _READ
    elif held is not None and at == held.updated_at and lead_signature(event) != held_signature(held.data):
        return _READ
    if _rules_read_contacts(context.ruleset) and not _contact_refs(held.data if held else {}):
        return _READ  # a lead's body names no contacts; rules that read them need the lead read once
    return event


def _held_data(context: _AccountContext, lead_id: int) -> Mapping[str, Any] | None:
    held = context.held.get(lead_id)
    return held.data if held is not None else None


async def _promo_write(
    services: WorkerServices,
    account_id: int,
    lead: Mapping[str, Any],
    classification: Classification,
    context: _AccountContext,
    book: PromoBook,
    now: datetime,
) -> tuple[list[dict[str, Any]], str | None]:
    """The "Active promos" / "Coupon" values to write (only changes) and the note for promos that just started."""
    fields = context.fields
    if fields is None:
        return [], None
    if not len(book) and not current_text(lead, fields.promos) and not current_text(lead, fields.coupon):
        return [], None  # no promo runs and none is shown: nothing to match, nothing to clear
    promo = await anyio.to_thread.run_sync(
        partial(
            promo_fields_for_lead,
            engine=services.engine,
            account_id=account_id,
            lead_id=int(lead["id"]),
            classification=classification,
            lead=lead,
            now=now,
            book=book,
        )
    )
    for warning in promo.warnings:
        logger.warning(
            warning.message(context.language),
            extra={"account_id": account_id, "promo": warning.promo_key, "lead": warning.lead_id},
        )
    values = plan_promo_field_values(
        lead,
        active_promos=promo.active_promos,
        coupon=promo.coupon,
        promos_field_id=fields.promos,
        coupon_field_id=fields.coupon,
    )
    return values, promo.note(context.language)


def _rules_read_contacts(ruleset: RuleSet) -> bool:
    # Only the contact built-ins look at contacts; a rule file that never names them needs no contact reads.
    return any(name in ruleset.text for name in ("has_phone", "has_email"))


async def _contacts_of(api: AccountApi, leads: Sequence[Mapping[str, Any]]) -> dict[int, dict[str, Any]]:
    ids = sorted({ref["id"] for lead in leads for ref in _contact_refs(lead)})
    if not ids:
        return {}
    return {
        contact.id: contact.model_dump(mode="json", by_alias=True) for contact in await api.get_contacts(ids)
    }


def _contact_refs(lead: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    embedded = lead.get("_embedded") or {}
    refs = embedded.get("contacts") if isinstance(embedded, Mapping) else None
    return [ref for ref in refs or () if isinstance(ref, Mapping) and isinstance(ref.get("id"), int)]


def _status_row(account_id: int, move: LeadEvent) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "lead_id": move.lead_id,
        "pipeline_id": move.pipeline_id,
        "old_status_id": move.old_status_id,
        "status_id": move.status_id,
        "occurred_at": move.occurred_at or int(time.time()),
        "source": "webhook",
    }


def _describe(exc: BaseException) -> str:
    # Exception texts of our client name the method and path only; no tokens or personal data.
    return f"{type(exc).__name__}: {exc}"[:500]


# --- database edges (run in worker threads) ---------------------------------------------------------------


def _load_context(engine: Engine, account_id: int, lead_ids: Sequence[int]) -> _AccountContext:
    with session_scope(engine) as session:
        version, ruleset = _active_rules(session, account_id)
        fields = load_provisioned_fields(session=session, account_id=account_id)
        account = session.get(Account, account_id)
        language: Language = "en" if account is not None and account.language == "en" else "ru"
        held: dict[int, HeldLead] = {}
        for chunk_start in range(0, len(lead_ids), 500):
            chunk = list(lead_ids[chunk_start : chunk_start + 500])
            for snapshot in session.exec(
                select(LeadSnapshot).where(
                    col(LeadSnapshot.account_id) == account_id, col(LeadSnapshot.lead_id).in_(chunk)
                )
            ):
                held[snapshot.lead_id] = HeldLead(
                    updated_at=snapshot.updated_at,
                    rule_version=snapshot.rule_version,
                    data=snapshot.data,
                    channel=snapshot.channel,
                    level=snapshot.level,
                    qualified=snapshot.qualified,
                    reason=snapshot.reason,
                )
    return _AccountContext(rule_version=version, ruleset=ruleset, fields=fields, language=language, held=held)


def _active_rules(session: Session, account_id: int) -> tuple[int, RuleSet]:
    # Read for every batch: a version activated a moment ago applies to the very next event.
    version, ruleset = ruleset_store.active_ruleset(session=session, account_id=account_id)
    return int(version), ruleset


def _persist(engine: Engine, account_id: int, item_ids: list[int], owner: str, outcome: _Outcome) -> None:
    """Snapshots, status history and completion in one transaction: all of it happened, or none."""
    with session_scope(engine) as session:
        lead_store.insert_status_events(session=session, rows=outcome.status_events)
        lead_store.upsert_snapshots(session=session, rows=outcome.snapshots)
        if outcome.echoes:
            lead_store.advance_snapshots(session=session, account_id=account_id, leads=outcome.echoes)
        if outcome.deleted_ids:
            for snapshot in session.exec(
                select(LeadSnapshot).where(
                    col(LeadSnapshot.account_id) == account_id,
                    col(LeadSnapshot.lead_id).in_(outcome.deleted_ids),
                )
            ):
                snapshot.is_deleted = True
                session.add(snapshot)
        inbox_store.complete_items(session=session, ids=item_ids, owner=owner)


def _release(services: WorkerServices, item_ids: list[int], owner: str, error: str, delay: float) -> None:
    with session_scope(services.engine) as session:
        inbox_store.release_for_retry(
            session=session,
            ids=item_ids,
            owner=owner,
            error=error,
            max_attempts=services.settings.worker_max_attempts,
            delay_seconds=delay,
        )


def requeue_with_reparse(*, session: Session, item_id: int) -> InboxItem | None:
    """`leadpact inbox retry ID`: a dead item goes back as it was; a failed one is parsed again first."""
    item = session.get(InboxItem, item_id)
    if item is None:
        return None
    if item.status != inbox_store.InboxStatus.FAILED:
        return inbox_store.requeue_item(session=session, item_id=item_id)
    try:
        parsed = parse_webhook_for_inbox(item.body)
    except WebhookParseError as exc:
        return inbox_store.requeue_item(session=session, item_id=item_id, parse_error=exc.reason)
    return inbox_store.requeue_item(session=session, item_id=item_id, events=parsed.events)
