"""Speed to lead: how soon a person first acts on a new lead (a note, a call, a task or a stage move), per
manager, and which open leads nobody has touched for too long. Pure: the leads and their first actions come in.

A lead's delay is its first action minus its creation, in whole minutes, counted only when that action happened by
`as_of`, so the figures of a past week read as they stood then. The median is over the touched leads; how many of the
manager's leads are still untouched is reported next to it, never folded into it as a zero or an infinity.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sync.stats.trends import median_of_histogram

# Open leads older than this are not listed as waiting: after two weeks a lead is no longer "new".
UNTOUCHED_WINDOW_SECONDS = 14 * 86_400
UNTOUCHED_LISTED = 20


@dataclass(frozen=True, slots=True)
class LeadTiming:
    lead_id: int
    name: str
    responsible_user_id: int | None
    created_at: int
    touched_at: int | None  # the first action by a person; None: none seen
    closed_at: int | None = None


@dataclass(frozen=True, slots=True)
class ManagerSpeed:
    user_id: int | None
    leads: int
    touched: int
    median_seconds: float | None  # None: none of the manager's leads was touched yet


@dataclass(frozen=True, slots=True)
class WaitingLead:
    lead_id: int
    name: str
    responsible_user_id: int | None
    waiting_seconds: int


@dataclass(frozen=True, slots=True)
class SpeedToLead:
    # Fastest median first; managers with no touched lead after them; leads with no manager last.
    managers: tuple[ManagerSpeed, ...]
    waiting: tuple[WaitingLead, ...]  # longest wait first, at most UNTOUCHED_LISTED
    waiting_total: int
    threshold_seconds: int


def touched_by(lead: LeadTiming, as_of: int) -> int | None:
    """When the lead was first touched, if that was by `as_of`."""
    return lead.touched_at if lead.touched_at is not None and lead.touched_at <= as_of else None


def is_waiting(lead: LeadTiming, *, as_of: int, threshold_seconds: int) -> bool:
    """Open at `as_of`, created within the window, older than the threshold and not touched by then."""
    open_then = lead.closed_at is None or lead.closed_at > as_of
    age = as_of - lead.created_at
    return (
        open_then and threshold_seconds < age <= UNTOUCHED_WINDOW_SECONDS and touched_by(lead, as_of) is None
    )


def speed_to_lead(
    delays: Mapping[int | None, Mapping[int | None, int]],
    candidates: Sequence[LeadTiming],
    *,
    as_of: int,
    threshold_seconds: int,
) -> SpeedToLead:
    """Per manager from `delays` (manager → {whole minutes to the first action, None: not touched by `as_of`:
    how many of the reported week's leads}), and the waiting leads among `candidates`."""
    managers = []
    for user_id, histogram in delays.items():
        # A clock a little behind amoCRM's can put the first note before the lead: that is no wait at all.
        touched: Counter[int] = Counter()
        for minutes, count in histogram.items():
            if minutes is not None:
                touched[max(0, minutes)] += count
        middle = median_of_histogram(dict(touched))
        managers.append(
            ManagerSpeed(
                user_id=user_id,
                leads=sum(histogram.values()),
                touched=sum(touched.values()),
                median_seconds=None if middle is None else middle * 60,
            )
        )
    managers.sort(
        key=lambda m: (m.user_id is None, m.median_seconds is None, m.median_seconds or 0.0, -m.leads)
    )
    waiting = [
        WaitingLead(
            lead_id=lead.lead_id,
            name=lead.name,
            responsible_user_id=lead.responsible_user_id,
            waiting_seconds=as_of - lead.created_at,
        )
        for lead in candidates
        if is_waiting(lead, as_of=as_of, threshold_seconds=threshold_seconds)
    ]
    waiting.sort(key=lambda w: (-w.waiting_seconds, w.lead_id))
    return SpeedToLead(
        managers=tuple(managers),
        waiting=tuple(waiting[:UNTOUCHED_LISTED]),
        waiting_total=len(waiting),
        threshold_seconds=threshold_seconds,
    )
