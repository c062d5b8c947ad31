"""Reading people's first actions on leads from amoCRM, for speed to lead (`sync.stats.speed`).

Two lists answer it, each one call per round when nothing is new:
- the events list (`GET /api/v4/events`): notes (`common_note_added`), calls (`incoming_call`,
  `outgoing_call`) and stage moves (`lead_status_changed`) on leads, by a person (`created_by` > 0; amoCRM
  writes 0 for robots and automations);
- the tasks list (`GET /api/v4/tasks`, tasks on leads), since a task's events name the task, not its lead.
Actions of LeadPact itself do not count: events our integration made carry its `oauth_client_uuid`, and the
tasks it set for disputes are known by id.

An account whose plan refuses the events list still gets the tasks; the pull says the events were unreadable.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import and_, false, or_, text
from sqlalchemy import select as columns_of
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from integration.amocrm.errors import Forbidden, NotFound
from integration.amocrm.models import Task
from integration.db import session_scope
from integration.storage import promos as promo_store
from integration.storage import touches as touch_store
from integration.storage.leads import LeadSnapshot
from integration.storage.touches import LeadFirstTouch
from sync.stats.queries import live_sql
from sync.stats.speed import UNTOUCHED_WINDOW_SECONDS, LeadTiming

TOUCH_EVENT_KINDS = {
    "common_note_added": "note",
    "incoming_call": "call",
    "outgoing_call": "call",
    "lead_status_changed": "stage",
}
# Each round re-reads a little before where the last one stopped: an event amoCRM records a moment late is
# still seen (storing the same first action twice changes nothing).
OVERLAP_SECONDS = 600


class TouchApi(Protocol):
    def paginate(
        self, path: str, entity: str, *, params: Any = None, limit: int = 250
    ) -> AsyncIterator[dict[str, Any]]: ...
    def iter_tasks(self, *, params: Any = None) -> AsyncIterator[Task]: ...


@dataclass(frozen=True, slots=True)
class TouchPull:
    touches: int  # first-action candidates read (before keeping the earliest per lead)
    events_api: bool  # False: the events list was refused, so notes, calls and stage moves are not known


def touch_rows_from_events(
    account_id: int, events: Iterable[Mapping[str, Any]], *, own_client_id: str | None = None
) -> list[dict[str, Any]]:
    """People's actions on leads among amoCRM events, as first-touch candidates."""
    rows = []
    for event in events:
        kind = TOUCH_EVENT_KINDS.get(str(event.get("type")))
        lead_id, user_id, at = event.get("entity_id"), event.get("created_by"), event.get("created_at")
        if kind is None or event.get("entity_type") not in ("lead", "leads"):
            continue
        if (
            not (isinstance(lead_id, int) and isinstance(user_id, int) and isinstance(at, int))
            or user_id <= 0
        ):
            continue
        if own_client_id and event.get("oauth_client_uuid") == own_client_id:
            continue
        rows.append(
            {"account_id": account_id, "lead_id": lead_id, "touched_at": at, "kind": kind, "user_id": user_id}
        )
    return rows


def touch_rows_from_tasks(
    account_id: int, tasks: Iterable[Task], *, own_task_ids: Collection[int] = ()
) -> list[dict[str, Any]]:
    """Tasks people set on leads, as first-touch candidates."""
    return [
        {
            "account_id": account_id,
            "lead_id": task.entity_id,
            "touched_at": task.created_at,
            "kind": "task",
            "user_id": task.created_by,
        }
        for task in tasks
        if task.entity_type == "leads"
        and task.entity_id is not None
        and task.created_at is not None
        and (task.created_by or 0) > 0
        and task.id not in own_task_ids
    ]


async def pull_first_touches(
    api: TouchApi,
    engine: Engine,
    account_id: int,
    *,
    now: int,
    since: int | None = None,
    own_client_id: str | None = None,
) -> TouchPull:
    """Reads the actions since `since` (default: where the last pull stopped, or the whole history) and keeps
    each lead's earliest; the account's cursor then stands at `now`."""
    with session_scope(engine) as session:
        if since is None:
            cursor = touch_store.pulled_until(session=session, account_id=account_id)
            since = 0 if cursor is None else max(0, cursor - OVERLAP_SECONDS)
        own_tasks = {
            dispute.task_id
            for dispute in promo_store.list_disputes(session=session, account_id=account_id)
            if dispute.task_id is not None
        }
    rows: list[dict[str, Any]] = []
    events_api = True
    params = {
        "filter[type]": ",".join(TOUCH_EVENT_KINDS),
        "filter[entity]": "lead",
        "filter[created_at][from]": since,
    }
    try:
        events = [event async for event in api.paginate("events", "events", params=params, limit=100)]
        rows.extend(touch_rows_from_events(account_id, events, own_client_id=own_client_id))
    except (NotFound, Forbidden):
        events_api = False
    tasks = [
        task
        async for task in api.iter_tasks(
            params={"filter[entity_type]": "leads", "filter[updated_at][from]": since}
        )
    ]
    rows.extend(touch_rows_from_tasks(account_id, tasks, own_task_ids=own_tasks))
    with session_scope(engine) as session:
        touch_store.record_first_touches(session=session, rows=rows)
        touch_store.set_pulled_until(session=session, account_id=account_id, moment=now)
    return TouchPull(touches=len(rows), events_api=events_api)


def _timing(row: Any) -> LeadTiming:
    return LeadTiming(
        lead_id=row.lead_id,
        name=row.name,
        # amoCRM's 0 is "nobody": such leads are the "no manager" row, as in manager conversion.
        responsible_user_id=row.responsible_user_id if (row.responsible_user_id or 0) > 0 else None,
        created_at=row.created_at,
        touched_at=row.touched_at,
        closed_at=row.closed_at,
    )


def _timings_query(account_id: int) -> Any:
    return (
        columns_of(
            col(LeadSnapshot.lead_id),
            col(LeadSnapshot.name),
            col(LeadSnapshot.responsible_user_id),
            col(LeadSnapshot.created_at),
            col(LeadSnapshot.closed_at),
            col(LeadFirstTouch.touched_at),
        )
        .outerjoin(
            LeadFirstTouch,
            and_(
                col(LeadFirstTouch.account_id) == col(LeadSnapshot.account_id),
                col(LeadFirstTouch.lead_id) == col(LeadSnapshot.lead_id),
            ),
        )
        .where(col(LeadSnapshot.account_id) == account_id, col(LeadSnapshot.is_deleted) == false())
    )


def delay_histograms(
    session: Session, *, account_id: int, created_from: int, created_until: int, as_of: int
) -> dict[int | None, dict[int | None, int]]:
    """Manager → {whole minutes from creation to the first action (None: not touched by `as_of`): leads}, over
    the leads created in [from, until) by `as_of` — grouped in the database, so a week of 100 000 leads comes
    back as a few thousand rows."""
    connection = session.connection()
    statement = text(
        f"""SELECT CASE WHEN l.responsible_user_id > 0 THEN l.responsible_user_id END AS manager,
                   CASE WHEN t.touched_at <= :as_of THEN (t.touched_at - l.created_at) / 60 END AS minutes,
                   COUNT(*) AS leads
            FROM lead_snapshots AS l
            LEFT JOIN lead_first_touches AS t ON t.account_id = l.account_id AND t.lead_id = l.lead_id
            WHERE {live_sql(connection.dialect.name)}
              AND l.created_at >= :start AND l.created_at < :end AND l.created_at <= :as_of
            GROUP BY 1, 2"""
    )
    params = {"account_id": account_id, "start": created_from, "end": created_until, "as_of": as_of}
    histograms: dict[int | None, dict[int | None, int]] = {}
    for manager, minutes, leads in connection.execute(statement, params):
        bucket = None if minutes is None else int(minutes)
        histogram = histograms.setdefault(None if manager is None else int(manager), {})
        histogram[bucket] = histogram.get(bucket, 0) + int(leads)
    return histograms


def waiting_lead_timings(
    session: Session, *, account_id: int, as_of: int, threshold_seconds: int
) -> list[LeadTiming]:
    """The leads waiting at `as_of` (`sync.stats.speed.is_waiting`), filtered in the database: of the tens of
    thousands of recent leads only the few nobody touched come back."""
    statement = _timings_query(account_id).where(
        col(LeadSnapshot.created_at) >= as_of - UNTOUCHED_WINDOW_SECONDS,
        col(LeadSnapshot.created_at) < as_of - threshold_seconds,
        or_(col(LeadSnapshot.closed_at).is_(None), col(LeadSnapshot.closed_at) > as_of),
        or_(col(LeadFirstTouch.touched_at).is_(None), col(LeadFirstTouch.touched_at) > as_of),
    )
    return [_timing(row) for row in session.execute(statement)]
