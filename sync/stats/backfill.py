"""`leadpact backfill`: pull an account's history (leads, their statuses, status-change events) into the
snapshots the statistics are computed from — resumable after a crash or Ctrl-C.

Leads are read in `updated_at` order; after every page the snapshots and the checkpoint (the `updated_at`
reached) are committed together, so a restart re-reads at most one page. Storing is idempotent: a snapshot is
only replaced by a state at least as new, and status events are unique per lead, time and status.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.sql.schema import Table
from sqlmodel import SQLModel

from integration.amocrm import EVENTS_PAGE_LIMIT
from integration.amocrm.errors import Forbidden, NotFound
from integration.amocrm.models import Contact, Lead, Pipeline, Task
from integration.db import session_scope
from integration.storage import inbox as inbox_store
from integration.storage import leads as lead_store
from integration.storage import stats as storage
from integration.storage.leads import LeadSnapshot
from integration.storage.rulesets import active_ruleset
from rules import classify_lead
from sync.stats.touches import pull_first_touches

PAGE = 250
SOURCE = "backfill"


class BackfillApi(Protocol):
    """The part of `integration.amocrm.AccountApi` the backfill reads with."""

    async def list_pipelines(self) -> list[Pipeline]: ...
    def iter_leads(self, *, params: Any = None, with_: Sequence[str] = ()) -> AsyncIterator[Lead]: ...
    async def get_contacts(self, ids: Any) -> list[Contact]: ...
    def paginate(
        self, path: str, entity: str, *, params: Any = None, limit: int = 250
    ) -> AsyncIterator[dict[str, Any]]: ...
    def iter_tasks(self, *, params: Any = None) -> AsyncIterator[Task]: ...


@dataclass(frozen=True, slots=True)
class BackfillProgress:
    leads_done: int
    events_done: int
    cursor_updated_at: int


@dataclass(frozen=True, slots=True)
class BackfillResult:
    leads_done: int
    events_done: int
    resumed_from: int | None  # the updated_at a previous, interrupted run had reached
    events_api: bool  # amoCRM's events list answered (else only status changes seen between snapshots)


def status_event_rows(account_id: int, events: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """amoCRM `lead_status_changed` events (GET /api/v4/events) as status-history rows."""
    rows = []
    for event in events:
        if event.get("type") != "lead_status_changed" or not isinstance(event.get("entity_id"), int):
            continue
        after = _status_of(event.get("value_after"))
        if after is None:
            continue
        before = _status_of(event.get("value_before"))
        rows.append(
            {
                "account_id": account_id,
                "lead_id": event["entity_id"],
                "pipeline_id": after[1],
                "old_status_id": None if before is None else before[0],
                "status_id": after[0],
                "occurred_at": int(event.get("created_at") or 0),
                "source": SOURCE,
            }
        )
    return rows


def _status_of(values: Any) -> tuple[int, int | None] | None:
    for value in values or ():
        status = value.get("lead_status") if isinstance(value, Mapping) else None
        if isinstance(status, Mapping) and isinstance(status.get("id"), int):
            pipeline = status.get("pipeline_id")
            return status["id"], pipeline if isinstance(pipeline, int) else None
    return None


def _store_page(
    engine: Engine, account_id: int, rows: list[dict[str, Any]], checkpoint: storage.StatsBackfillCheckpoint
) -> int:
    """Stores one page of snapshots (plus the status moves they reveal) and the checkpoint, in one commit."""
    snapshots: Table = SQLModel.metadata.tables[LeadSnapshot.__tablename__]
    with session_scope(engine) as session:
        ids = [row["lead_id"] for row in rows]
        found = session.execute(
            select(snapshots.c.lead_id, snapshots.c.status_id, snapshots.c.updated_at).where(
                snapshots.c.account_id == account_id, snapshots.c.lead_id.in_(ids)
            )
        ).all()
        known: dict[int, int | None] = {int(row.lead_id): row.status_id for row in found}
        held_at = {int(row.lead_id): row.updated_at or 0 for row in found}
        # A state newer than the worker's was classified for the figures but never written back: it is stored
        # under no rule version (so the worker does not take it for handled) and the worker is asked to look.
        advanced = {
            row["lead_id"]: row["updated_at"]
            for row in rows
            if row["lead_id"] not in held_at or row["updated_at"] > held_at[row["lead_id"]]
        }
        for row in rows:
            if row["lead_id"] in advanced:
                row["rule_version"] = None
        moves = [
            {
                "account_id": account_id,
                "lead_id": row["lead_id"],
                "pipeline_id": row["pipeline_id"],
                "old_status_id": known[row["lead_id"]],
                "status_id": row["status_id"],
                "occurred_at": row["updated_at"],
                "source": SOURCE,
            }
            for row in rows
            if row["lead_id"] in known
            and row["status_id"] is not None
            and known[row["lead_id"]] != row["status_id"]
        ]
        lead_store.upsert_snapshots(session=session, rows=rows)
        lead_store.insert_status_events(session=session, rows=moves)
        if advanced:
            inbox_store.enqueue_lead_updates(
                session=session,
                account_id=account_id,
                lead_ids=sorted(advanced),
                source=SOURCE,
                updated_at=advanced,
            )
        storage.save_checkpoint(session=session, checkpoint=checkpoint)
    return len(moves)


def _store_events(engine: Engine, rows: list[dict[str, Any]]) -> None:
    with session_scope(engine) as session:
        lead_store.insert_status_events(session=session, rows=rows)


async def _store_pipelines(api: BackfillApi, engine: Engine, account_id: int) -> None:
    pipelines = await api.list_pipelines()
    stages = [
        (pipeline.id, status.id, status.sort if status.sort is not None else index, status.name)
        for pipeline in pipelines
        for index, status in enumerate(pipeline.statuses)
    ]
    names = {pipeline.id: pipeline.name for pipeline in pipelines if pipeline.name}
    with session_scope(engine) as session:
        storage.replace_pipeline_stages(
            session=session, account_id=account_id, stages=stages, pipeline_names=names
        )


async def backfill_account(
    *,
    api: BackfillApi,
    engine: Engine,
    account_id: int,
    since: int | None,
    restart: bool = False,
    on_progress: Callable[[BackfillProgress], None] | None = None,
    as_of: datetime | None = None,
    own_client_id: str | None = None,
) -> BackfillResult:
    """Pulls leads updated since `since` (or since where the last run stopped) and their status history.

    Leads are classified as they stood at `as_of` (default: now) — time-dependent rules such as a decision
    date within N days read that moment, not the wall clock. `own_client_id`: LeadPact's amoCRM integration,
    whose own actions on leads are not a person's first touch."""
    with session_scope(engine) as session:
        previous = storage.get_checkpoint(session=session, account_id=account_id)
        version, ruleset = active_ruleset(session=session, account_id=account_id)
    resume = previous is not None and not restart and (since is None or since == previous.since)
    if previous is not None and resume:
        checkpoint = storage.StatsBackfillCheckpoint(
            account_id=account_id,
            since=previous.since,
            cursor_updated_at=previous.cursor_updated_at,
            leads_done=previous.leads_done,
            events_done=previous.events_done,
        )
        resumed_from: int | None = previous.cursor_updated_at
    else:
        start = since or 0
        checkpoint = storage.StatsBackfillCheckpoint(
            account_id=account_id, since=start, cursor_updated_at=start
        )
        resumed_from = None

    await _store_pipelines(api, engine, account_id)
    events_api = await _backfill_events(api, engine, account_id, checkpoint)
    # People's first actions on leads (speed to lead): from where the last pull stopped, or all of history.
    await pull_first_touches(api, engine, account_id, now=int(time.time()), own_client_id=own_client_id)

    params = {"filter[updated_at][from]": checkpoint.cursor_updated_at, "order[updated_at]": "asc"}
    page: list[Mapping[str, Any]] = []

    async def flush() -> None:
        if not page:
            return
        contacts = await _contacts_of(api, page)
        now = as_of if as_of is not None else datetime.now(UTC)
        rows = []
        for lead in page:
            refs = ((lead.get("_embedded") or {}).get("contacts")) or []
            lead_contacts = [
                contacts[ref["id"]] for ref in refs if isinstance(ref, Mapping) and ref.get("id") in contacts
            ]
            classification = classify_lead(ruleset, lead, contacts=lead_contacts, now=now)
            rows.append(
                lead_store.snapshot_row(
                    account_id,
                    lead,
                    classification,
                    rule_version=version,
                    classified_at=int(now.timestamp()),
                    lang="ru",
                )
            )
        checkpoint.cursor_updated_at = max(checkpoint.cursor_updated_at, *(row["updated_at"] for row in rows))
        checkpoint.leads_done += len(rows)
        checkpoint.events_done += _store_page(engine, account_id, rows, checkpoint)
        page.clear()
        if on_progress is not None:
            on_progress(
                BackfillProgress(checkpoint.leads_done, checkpoint.events_done, checkpoint.cursor_updated_at)
            )

    async for lead in api.iter_leads(params=params, with_=("contacts",)):
        page.append(lead.model_dump(mode="json", by_alias=True))
        if len(page) >= PAGE:
            await flush()
    await flush()
    checkpoint.finished_at = int(time.time())
    checkpoint.events_api = events_api
    with session_scope(engine) as session:
        storage.save_checkpoint(session=session, checkpoint=checkpoint)
    return BackfillResult(
        leads_done=checkpoint.leads_done,
        events_done=checkpoint.events_done,
        resumed_from=resumed_from,
        events_api=events_api,
    )


async def _contacts_of(api: BackfillApi, leads: Sequence[Mapping[str, Any]]) -> dict[int, dict[str, Any]]:
    ids = sorted(
        {
            ref["id"]
            for lead in leads
            for ref in ((lead.get("_embedded") or {}).get("contacts") or [])
            if isinstance(ref, Mapping) and isinstance(ref.get("id"), int)
        }
    )
    if not ids:
        return {}
    return {
        contact.id: contact.model_dump(mode="json", by_alias=True) for contact in await api.get_contacts(ids)
    }


async def _backfill_events(
    api: BackfillApi, engine: Engine, account_id: int, checkpoint: storage.StatsBackfillCheckpoint
) -> bool:
    """Status changes from amoCRM's events list; False when the account (or the sandbox) has none to give."""
    params = {"filter[type]": "lead_status_changed", "filter[created_at][from]": checkpoint.cursor_updated_at}
    batch: list[dict[str, Any]] = []
    try:
        async for event in api.paginate("events", "events", params=params, limit=EVENTS_PAGE_LIMIT):
            batch.append(event)
            if len(batch) >= 1000:
                rows = status_event_rows(account_id, batch)
                _store_events(engine, rows)
                checkpoint.events_done += len(rows)
                batch.clear()
    except (NotFound, Forbidden):
        # The account's plan or the integration's rights give no events list: status history stays
        # what webhooks and snapshots saw, and the figures built on it say so (see `history_known`).
        return False
    rows = status_event_rows(account_id, batch)
    _store_events(engine, rows)
    checkpoint.events_done += len(rows)
    return True
