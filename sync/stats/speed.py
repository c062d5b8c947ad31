"""Speed to lead: how soon a person first acts on a new lead (a note, a call, a task or a stage move), per
manager, and which open leads nobody has touched for too long. Pure: the leads and their first actions come in.

A lead's delay is its first action minus its creation, counted only when that action happened by `as_of`, so
the figures of a past week read as they stood then. The median is over the touched leads; how many of the
manager's leads are still untouched is reported next to it, never folded into it as a zero or an infinity.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import median

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
    new_leads: Sequence[LeadTiming],
    candidates: Sequence[LeadTiming],
    *,
    as_of: int,
    threshold_seconds: int,
) -> SpeedToLead:
    """Per manager over `new_leads` (the reported week's), and the waiting ones among `candidates`."""
    delays: dict[int | None, list[int]] = defaultdict(list)
    counts: dict[int | None, int] = defaultdict(int)
    for lead in new_leads:
        if lead.created_at > as_of:
            continue
        counts[lead.responsible_user_id] += 1
        touched = touched_by(lead, as_of)
        if touched is not None:
            # A clock a little behind amoCRM's can put the first note before the lead: that is no wait at all.
            delays[lead.responsible_user_id].append(max(0, touched - lead.created_at))
    managers = [
        ManagerSpeed(
            user_id=user_id,
            leads=count,
            touched=len(delays[user_id]),
            median_seconds=float(median(delays[user_id])) if delays[user_id] else None,
        )
        for user_id, count in counts.items()
    ]
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
