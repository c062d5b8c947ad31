"""The measured effect of the account's open hypotheses (composition: storage + one grouped SQL count per
hypothesis + the pure arithmetic of `rules.hypotheses`). docs/metrics.md states the method and the verdict.

All open hypotheses together cost one grouped query over the leads created in the union of their 2·N-day
windows, read through the (account_id, created_at) index: no lead is loaded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlmodel import Session

from integration.i18n import Text
from integration.storage import hypotheses as hypothesis_store
from integration.storage.hypotheses import Hypothesis
from rules.hypotheses import Direction, Effect, Metric, Side, measure, window_days
from sync.reports.model import ReportNames, TrackedHypothesis
from sync.stats.metrics import WON_STATUS, SpendEntry
from sync.stats.periods import Period
from sync.stats.queries import load_spend

ALL_CHANNELS = Text(ru="все каналы", en="all channels")
UNKNOWN_OWNER = Text(ru="неизвестен", en="unknown")


def owner_name(owner_id: int | None, names: ReportNames) -> Text:
    """The owner by amoCRM name; a hypothesis recorded without one reads "unknown"."""
    return UNKNOWN_OWNER if owner_id is None else names.person(owner_id)


def _midnight(day: date, tz: tzinfo) -> int:
    return int(datetime.combine(day, datetime.min.time(), tzinfo=tz).timestamp())


@dataclass(frozen=True, slots=True)
class Window:
    """A hypothesis's windows in unix seconds: before = [start, middle), after = [middle, end)."""

    channel: str | None
    start: int
    middle: int
    end: int
    won_cut_before: int  # a before lead counts as won when won before this moment
    won_cut_after: int


def window_counts(
    connection: Connection, *, account_id: int, windows: Sequence[Window]
) -> list[dict[int, tuple[int, int, int, int]]]:
    """Per window, its before (0) and after (1) side: (leads, classified, qualified, won) — all from ONE grouped
    query over the union of the windows (the (account_id, created_at) index), whatever the number of windows.

    Leads are bucketed by the windows' edges and wins by the cut moments, so every window is a sum of buckets."""
    edges = sorted({edge for window in windows for edge in (window.start, window.middle, window.end)})
    if len(edges) < 2:  # no window has started: nothing to count
        return [{0: (0, 0, 0, 0), 1: (0, 0, 0, 0)} for _ in windows]
    cuts = sorted({cut for window in windows for cut in (window.won_cut_before, window.won_cut_after)})
    params: dict[str, object] = {
        "account_id": account_id,
        "first": edges[0],
        "last": edges[-1],
        "won": WON_STATUS,
    }

    def bind(value: int) -> str:
        name = f"p{len(params)}"
        params[name] = value
        return f":{name}"

    def bind_text(value: str) -> str:
        name = f"p{len(params)}"
        params[name] = value
        return f":{name}"

    created = " ".join(
        f"WHEN l.created_at < {bind(edge)} THEN {index}" for index, edge in enumerate(edges[1:])
    )
    closed = " ".join(f"WHEN l.closed_at < {bind(cut)} THEN {index}" for index, cut in enumerate(cuts))
    # Only the channels some window looks at are told apart (0: any other); the rest only adds to "all".
    channels = sorted({window.channel for window in windows if window.channel is not None})
    channel_case = (
        "CASE l.channel "
        + " ".join(f"WHEN {bind_text(name)} THEN {i}" for i, name in enumerate(channels, 1))
        + " ELSE 0 END"
        if channels
        else "0"
    )
    deleted = "NOT l.is_deleted" if connection.dialect.name == "postgresql" else "l.is_deleted = 0"
    # SQLite sorts every row it groups: bucket, channel, quality and the won cut travel packed in one integer.
    won_slots = len(cuts) + 2
    channel_slots = len(channels) + 1
    shape = f"""((CASE {created} END * {channel_slots} + {channel_case}) * 3
                 + CASE WHEN l.qualified IS NULL THEN 0 WHEN l.qualified THEN 2 ELSE 1 END) * {won_slots}
                + CASE WHEN l.status_id = :won AND l.closed_at IS NOT NULL
                       THEN CASE {closed} ELSE {len(cuts)} END + 1 ELSE 0 END"""
    no_flatten = "" if connection.dialect.name == "postgresql" else "LIMIT -1"
    sql = f"""
        SELECT shape, COUNT(*) AS leads FROM (
            SELECT {shape} AS shape
            FROM lead_snapshots AS l
            WHERE l.account_id = :account_id AND {deleted}
              AND l.created_at >= :first AND l.created_at < :last
            {no_flatten}
        ) AS bucketed
        GROUP BY shape
    """
    rows = []
    for row in connection.execute(text(sql), params):
        rest, won_plus = divmod(int(row.shape), won_slots)
        rest, quality = divmod(rest, 3)
        bucket, channel_index = divmod(rest, channel_slots)
        channel = channels[channel_index - 1] if channel_index else None
        rows.append((bucket, channel, quality, won_plus - 1, int(row.leads)))
    result = []
    for window in windows:
        sums = {0: [0, 0, 0, 0], 1: [0, 0, 0, 0]}
        cut_index = {0: cuts.index(window.won_cut_before), 1: cuts.index(window.won_cut_after)}
        for bucket, channel, quality, won, leads in rows:
            if window.channel is not None and channel != window.channel:
                continue
            low, high = edges[bucket], edges[bucket + 1]
            if window.start <= low and high <= window.middle:
                side = 0
            elif window.middle <= low and high <= window.end:
                side = 1
            else:
                continue
            counts = sums[side]
            counts[0] += leads
            counts[1] += leads if quality else 0
            counts[2] += leads if quality == 2 else 0
            counts[3] += leads if 0 <= won <= cut_index[side] else 0
        result.append({side: (c[0], c[1], c[2], c[3]) for side, c in sums.items()})
    return result


def window_spend(spend: Sequence[SpendEntry], channel: str | None, first: date, last: date) -> float | None:
    """Spend of [first, last] (inclusive), each entry spread evenly over its days; None when none overlaps."""
    window = Period(first, last)
    total, found = 0.0, False
    for entry in spend:
        if channel is not None and entry.channel != channel:
            continue
        overlap = entry.period.overlap_days(window)
        if overlap:
            found = True
            total += float(entry.amount) * overlap / ((entry.period.end - entry.period.start).days + 1)
    return total if found else None


def _sides(
    metric: str, counts: Mapping[int, tuple[int, int, int, int]], spend: tuple[float | None, float | None]
) -> tuple[Side, Side]:
    sides = []
    for index in (0, 1):
        leads, classified, qualified, won = counts[index]
        if metric == "qualified_pct":
            sides.append(Side(units=classified, successes=qualified))
        elif metric == "conversion":
            sides.append(Side(units=leads, successes=won))
        elif metric == "cpl":
            sides.append(Side(units=leads, spend=spend[index]))
        else:
            sides.append(Side(units=qualified, spend=spend[index]))
    return sides[0], sides[1]


def window_of(hypothesis: Hypothesis, *, as_of: int, tz: tzinfo) -> tuple[int, Window]:
    """N and the windows of a hypothesis as of `as_of` (day edges are midnights in the account's time zone)."""
    as_of_day = datetime.fromtimestamp(as_of, tz).date()
    days = window_days((as_of_day - hypothesis.starts_on).days)
    window = Window(
        channel=hypothesis.channel,
        start=_midnight(hypothesis.starts_on - timedelta(days=days), tz),
        middle=_midnight(hypothesis.starts_on, tz),
        end=_midnight(hypothesis.starts_on + timedelta(days=days), tz),
        won_cut_before=as_of - days * 86400,
        won_cut_after=as_of,
    )
    return days, window


def effect_of(
    hypothesis: Hypothesis,
    days: int,
    counts: Mapping[int, tuple[int, int, int, int]],
    spend: Sequence[SpendEntry],
) -> Effect:
    spent: tuple[float | None, float | None] = (None, None)
    if days and hypothesis.metric in ("cpl", "cpql"):
        start = hypothesis.starts_on
        spent = (
            window_spend(spend, hypothesis.channel, start - timedelta(days=days), start - timedelta(days=1)),
            window_spend(spend, hypothesis.channel, start, start + timedelta(days=days - 1)),
        )
    before, after = _sides(hypothesis.metric, counts, spent)
    metric: Metric = hypothesis.metric  # type: ignore[assignment]
    direction: Direction = hypothesis.direction  # type: ignore[assignment]
    return measure(metric, direction, days, before, after)


def tracked_hypotheses(
    *, session: Session, account_id: int, as_of: int, tz: tzinfo, names: ReportNames
) -> tuple[TrackedHypothesis, ...]:
    """The account's open hypotheses with their effect as of `as_of`."""
    rows = hypothesis_store.list_hypotheses(session=session, account_id=account_id)
    if not rows:
        return ()
    connection = session.connection()
    spend = load_spend(connection, account_id=account_id)
    windows = [window_of(row, as_of=as_of, tz=tz) for row in rows]
    counts = window_counts(connection, account_id=account_id, windows=[window for _, window in windows])
    result = []
    for row, (days, _), sides in zip(rows, windows, counts, strict=True):
        assert row.id is not None
        result.append(
            TrackedHypothesis(
                id=row.id,
                text=row.text,
                owner=owner_name(row.owner_id, names),
                metric=row.metric,
                direction=row.direction,
                segment=names.channel(row.channel) if row.channel is not None else ALL_CHANNELS,
                starts_on=row.starts_on,
                effect=effect_of(row, days, sides, spend),
            )
        )
    return tuple(result)
