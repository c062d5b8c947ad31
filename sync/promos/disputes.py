"""Disputed classifications, summarised for the weekly report and handed to the backtest (pure)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol


class DisputeLike(Protocol):
    @property
    def lead_id(self) -> int: ...

    @property
    def channel(self) -> str | None: ...

    @property
    def level(self) -> str | None: ...

    @property
    def reason(self) -> str: ...

    @property
    def created_at(self) -> int: ...


@dataclass(frozen=True, slots=True)
class DisputeGroup:
    """How many leads of one channel and level reps flagged as misqualified, with their most common reasons."""

    channel: str | None
    level: str | None
    leads: int
    top_reasons: tuple[tuple[str, int], ...]


def summarise_disputes(disputes: Iterable[DisputeLike], *, top: int = 3) -> list[DisputeGroup]:
    """Groups by (channel, level), largest first; a lead flagged twice counts once, with its latest reason."""
    latest: dict[int, DisputeLike] = {}
    for dispute in disputes:
        known = latest.get(dispute.lead_id)
        if known is None or dispute.created_at >= known.created_at:
            latest[dispute.lead_id] = dispute
    groups: dict[tuple[str | None, str | None], list[DisputeLike]] = {}
    for dispute in latest.values():
        groups.setdefault((dispute.channel, dispute.level), []).append(dispute)
    summary = [
        DisputeGroup(
            channel=channel,
            level=level,
            leads=len(items),
            top_reasons=tuple(Counter(item.reason.strip() for item in items).most_common(top)),
        )
        for (channel, level), items in groups.items()
    ]
    summary.sort(key=lambda group: (-group.leads, group.channel or "", group.level or ""))
    return summary


def disputed_levels(disputes: Iterable[DisputeLike]) -> Mapping[int, str | None]:
    """lead id → the level reps disputed (latest flag), for the backtest to weigh rules against."""
    latest: dict[int, DisputeLike] = {}
    for dispute in disputes:
        known = latest.get(dispute.lead_id)
        if known is None or dispute.created_at >= known.created_at:
            latest[dispute.lead_id] = dispute
    return {lead_id: dispute.level for lead_id, dispute in latest.items()}
