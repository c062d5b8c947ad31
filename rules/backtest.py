"""Backtest: what would change if a candidate rule file replaced the active one, over stored leads.

Counts leads that change channel, level and "qualified"; per channel, the resulting % qualified and bonus base
(the number of qualified leads marketing is paid on); and how well each version's "qualified" predicted won
deals (share of won among qualified vs. not qualified, over closed leads).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from rules.engine import Decision, decide, evaluation_day, explain, lead_facts
from rules.i18n import Language, Text
from rules.loader import RuleSet
from rules.values import LeadFacts

WON_STATUS: Final = 142
LOST_STATUS: Final = 143


@dataclass(frozen=True, slots=True)
class BacktestLead:
    """A stored lead (amoCRM v4 JSON) and, when closed, whether it was won."""

    lead: Mapping[str, Any]
    contacts: Sequence[Mapping[str, Any]] = ()
    won: bool | None = None

    @classmethod
    def from_lead(cls, lead: Mapping[str, Any], contacts: Sequence[Mapping[str, Any]] = ()) -> BacktestLead:
        """Won/lost from amoCRM's fixed statuses 142 and 143; any other status is still open."""
        status = lead.get("status_id") if isinstance(lead, Mapping) else None
        won = True if status == WON_STATUS else False if status == LOST_STATUS else None
        return cls(lead=lead, contacts=contacts, won=won)


@dataclass(frozen=True, slots=True)
class Verdict:
    channel: str
    level: str
    qualified: bool


@dataclass(frozen=True, slots=True)
class ChannelStats:
    channel: str
    leads_active: int
    leads_candidate: int
    qualified_active: int
    qualified_candidate: int
    changed: int

    @property
    def share_active(self) -> float:
        return self.qualified_active / self.leads_active if self.leads_active else 0.0

    @property
    def share_candidate(self) -> float:
        return self.qualified_candidate / self.leads_candidate if self.leads_candidate else 0.0


@dataclass(frozen=True, slots=True)
class Prediction:
    """How "qualified" lined up with outcomes, over closed (won or lost) leads."""

    qualified_closed: int = 0
    qualified_won: int = 0
    other_closed: int = 0
    other_won: int = 0

    @property
    def won_share_qualified(self) -> float | None:
        return self.qualified_won / self.qualified_closed if self.qualified_closed else None

    @property
    def won_share_other(self) -> float | None:
        return self.other_won / self.other_closed if self.other_closed else None

    def to_json(self) -> dict[str, Any]:
        return {
            "qualified_closed": self.qualified_closed,
            "qualified_won": self.qualified_won,
            "not_qualified_closed": self.other_closed,
            "not_qualified_won": self.other_won,
            "won_share_qualified": self.won_share_qualified,
            "won_share_not_qualified": self.won_share_other,
        }


@dataclass(frozen=True, slots=True)
class ChangedLead:
    lead_id: Any
    before: Verdict
    after: Verdict
    reason_before: Mapping[str, str]
    reason_after: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class BacktestReport:
    total: int
    active_version: int
    candidate_version: int
    changed_channel: int
    changed_level: int
    changed_qualified: int
    qualified_active: int
    qualified_candidate: int
    channels: tuple[ChannelStats, ...]
    prediction_active: Prediction
    prediction_candidate: Prediction
    samples: tuple[ChangedLead, ...] = field(default=())
    became_qualified: int = 0
    stopped_qualified: int = 0
    # The first few lead ids of each direction, to name in the plain-words preview.
    became_examples: tuple[Any, ...] = ()
    stopped_examples: tuple[Any, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-ready data for `leadpact rules backtest --json`."""
        return {
            "total": self.total,
            "active_version": self.active_version,
            "candidate_version": self.candidate_version,
            "changed": {
                "channel": self.changed_channel,
                "level": self.changed_level,
                "qualified": self.changed_qualified,
            },
            "qualified": {"active": self.qualified_active, "candidate": self.qualified_candidate},
            # Its own key, so readers of the "qualified" object above see the shape they always saw.
            "qualified_moves": {"became": self.became_qualified, "stopped": self.stopped_qualified},
            "channels": [
                {
                    "channel": c.channel,
                    "leads": {"active": c.leads_active, "candidate": c.leads_candidate},
                    "qualified_share": {"active": c.share_active, "candidate": c.share_candidate},
                    "bonus_base": {"active": c.qualified_active, "candidate": c.qualified_candidate},
                    "changed": c.changed,
                }
                for c in self.channels
            ],
            "prediction": {
                "active": self.prediction_active.to_json(),
                "candidate": self.prediction_candidate.to_json(),
            },
            "samples": [
                {
                    "lead_id": s.lead_id,
                    "before": _verdict_json(s.before),
                    "after": _verdict_json(s.after),
                    "reason_before": dict(s.reason_before),
                    "reason_after": dict(s.reason_after),
                }
                for s in self.samples
            ],
        }

    def plain(self, lang: Language = "ru", names: Mapping[Any, str] | None = None) -> str:
        """One sentence for the two heads: who would become or stop being qualified, and the bonus base."""
        named = names or {}

        def leads(ids: tuple[Any, ...], total: int) -> str:
            shown = ", ".join(f"#{lead_id} {named.get(lead_id, '')}".strip() for lead_id in ids)
            return f"{shown}, …" if total > len(ids) else shown

        if not self.became_qualified and not self.stopped_qualified:
            return PLAIN_UNCHANGED(lang, base=self.qualified_active, total=self.total)
        parts = []
        if self.became_qualified:
            parts.append(
                PLAIN_BECOME(
                    lang, n=self.became_qualified, leads=leads(self.became_examples, self.became_qualified)
                )
            )
        if self.stopped_qualified:
            parts.append(
                PLAIN_STOP(
                    lang, n=self.stopped_qualified, leads=leads(self.stopped_examples, self.stopped_qualified)
                )
            )
        base = PLAIN_BASE(
            lang, total=self.total, active=self.qualified_active, candidate=self.qualified_candidate
        )
        sentence = "; ".join(parts) + "; " + base
        return sentence[0].upper() + sentence[1:]

    def summary(self, lang: Language = "ru") -> str:
        """A few lines a marketing or sales lead can read before signing off."""
        lines = [
            HEADLINE(lang, total=self.total, active=self.active_version, candidate=self.candidate_version),
            CHANGES(
                lang,
                channel=self.changed_channel,
                level=self.changed_level,
                qualified=self.changed_qualified,
            ),
            QUALIFIED_TOTAL(
                lang,
                active=self.qualified_active,
                candidate=self.qualified_candidate,
                active_share=_percent(self.qualified_active, self.total),
                candidate_share=_percent(self.qualified_candidate, self.total),
            ),
            CHANNEL_HEADER(lang),
        ]
        for c in self.channels:
            lines.append(
                CHANNEL_LINE(
                    lang,
                    channel=c.channel,
                    leads=c.leads_candidate,
                    active=f"{c.share_active:.0%}",
                    candidate=f"{c.share_candidate:.0%}",
                    base_active=c.qualified_active,
                    base_candidate=c.qualified_candidate,
                    changed=c.changed,
                )
            )
        versions = ((ACTIVE(lang), self.prediction_active), (CANDIDATE(lang), self.prediction_candidate))
        for label, prediction in versions:
            lines.append(
                PREDICTION_LINE(
                    lang,
                    label=label,
                    qualified=_share(prediction.won_share_qualified),
                    other=_share(prediction.won_share_other),
                    closed=prediction.qualified_closed + prediction.other_closed,
                )
            )
        if self.samples:
            lines.append(SAMPLES(lang))
            for sample in self.samples:
                lines.append(f"  #{sample.lead_id}: {sample.reason_before.get(lang, '')}")
                lines.append(f"    → {sample.reason_after.get(lang, '')}")
        return "\n".join(lines)


PLAIN_BECOME = Text(ru="станут целевыми — {n} ({leads})", en="would become qualified: {n} ({leads})")
PLAIN_STOP = Text(
    ru="перестанут быть целевыми — {n} ({leads})", en="would stop being qualified: {n} ({leads})"
)
PLAIN_BASE = Text(
    ru="база бонуса маркетинга (целевые среди последних {total} лидов) изменится с {active} до {candidate}.",
    en="the marketing bonus base (qualified among the latest {total} leads) moves from {active} to {candidate}.",
)
PLAIN_UNCHANGED = Text(
    ru="Ни один из последних {total} лидов не изменит статус «целевой»: база бонуса остаётся {base}.",
    en="None of the latest {total} leads changes its qualified flag: the bonus base stays {base}.",
)
HEADLINE = Text(
    ru="Проверено сделок: {total} (активная версия v{active} → кандидат v{candidate})",
    en="Leads checked: {total} (active v{active} → candidate v{candidate})",
)
CHANGES = Text(
    ru="Изменится: канал у {channel}, уровень у {level}, «целевой» у {qualified}",
    en="Would change: channel for {channel}, level for {level}, qualified for {qualified}",
)
QUALIFIED_TOTAL = Text(
    ru="Целевых: {active} ({active_share}) → {candidate} ({candidate_share})",
    en="Qualified: {active} ({active_share}) → {candidate} ({candidate_share})",
)
CHANNEL_HEADER = Text(
    ru="По каналам (% целевых, база бонуса, изменений):", en="Per channel (% qualified, bonus base, changed):"
)
CHANNEL_LINE = Text(
    ru="  {channel}: сделок {leads}; {active} → {candidate}; база {base_active} → {base_candidate}; "
    "изменений {changed}",
    en="  {channel}: {leads} leads; {active} → {candidate}; base {base_active} → {base_candidate}; "
    "changed {changed}",
)
ACTIVE = Text(ru="активная", en="active")
CANDIDATE = Text(ru="кандидат", en="candidate")
PREDICTION_LINE = Text(
    ru="Прогноз выигрыша ({label}): среди целевых выиграно {qualified}, среди прочих {other} "
    "(закрытых: {closed})",
    en="Win prediction ({label}): won among qualified {qualified}, among the rest {other} (closed: {closed})",
)
SAMPLES = Text(ru="Примеры изменившихся сделок:", en="Examples of changed leads:")


def _percent(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else "—"


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _verdict_json(verdict: Verdict) -> dict[str, Any]:
    return {"channel": verdict.channel, "level": verdict.level, "qualified": verdict.qualified}


class _Tally:
    """Mutable counters for one backtest run (local to the call, never shared)."""

    def __init__(self) -> None:
        self.leads: dict[str, Counter[str]] = {"active": Counter(), "candidate": Counter()}
        self.qualified: dict[str, Counter[str]] = {"active": Counter(), "candidate": Counter()}
        self.changed_by_channel: Counter[str] = Counter()
        self.outcomes: dict[str, Counter[str]] = {"active": Counter(), "candidate": Counter()}

    def count(self, side: str, decision: Decision, won: bool | None) -> None:
        self.leads[side][decision.channel] += 1
        if decision.qualified:
            self.qualified[side][decision.channel] += 1
        if won is not None:
            group = "qualified" if decision.qualified else "other"
            self.outcomes[side][f"{group}_closed"] += 1
            if won:
                self.outcomes[side][f"{group}_won"] += 1

    def prediction(self, side: str) -> Prediction:
        o = self.outcomes[side]
        return Prediction(o["qualified_closed"], o["qualified_won"], o["other_closed"], o["other_won"])


PLAIN_EXAMPLES = 5


def backtest(
    candidate: RuleSet,
    active: RuleSet,
    leads: Iterable[BacktestLead],
    now: datetime,
    *,
    sample_size: int = 10,
    progress: Callable[[int], None] | None = None,
    progress_every: int = 1000,
) -> BacktestReport:
    """Evaluate both rule sets over `leads` (streamed, so millions fit in memory) and compare the verdicts."""
    day_candidate, day_active = evaluation_day(now, candidate), evaluation_day(now, active)
    tally = _Tally()
    samples: list[ChangedLead] = []
    total = changed_channel = changed_level = changed_qualified = 0
    became: list[Any] = []
    stopped: list[Any] = []
    became_total = stopped_total = 0
    for item in leads:
        total += 1
        facts_active = lead_facts(active, item.lead, item.contacts, day_active)
        facts_candidate = lead_facts(candidate, item.lead, item.contacts, day_candidate)
        before = decide(active, facts_active)
        after = decide(candidate, facts_candidate)
        tally.count("active", before, item.won)
        tally.count("candidate", after, item.won)
        channel_moved = before.channel != after.channel
        level_moved = before.level != after.level
        qualified_moved = before.qualified != after.qualified
        changed_channel += channel_moved
        changed_level += level_moved
        changed_qualified += qualified_moved
        if qualified_moved and after.qualified:
            became_total += 1
            if len(became) < PLAIN_EXAMPLES:
                became.append(item.lead.get("id"))
        elif qualified_moved and before.qualified:
            stopped_total += 1
            if len(stopped) < PLAIN_EXAMPLES:
                stopped.append(item.lead.get("id"))
        if channel_moved or level_moved or qualified_moved:
            tally.changed_by_channel[after.channel] += 1
            if len(samples) < sample_size:
                samples.append(_sample(item, active, facts_active, candidate, facts_candidate))
        if progress is not None and total % progress_every == 0:
            progress(progress_every)
    if progress is not None and total % progress_every:
        progress(total % progress_every)
    names = list(candidate.channel_names) + [
        n for n in active.channel_names if n not in candidate.channel_names
    ]
    channels = tuple(
        ChannelStats(
            channel=name,
            leads_active=tally.leads["active"][name],
            leads_candidate=tally.leads["candidate"][name],
            qualified_active=tally.qualified["active"][name],
            qualified_candidate=tally.qualified["candidate"][name],
            changed=tally.changed_by_channel[name],
        )
        for name in names
    )
    return BacktestReport(
        total=total,
        active_version=active.version,
        candidate_version=candidate.version,
        changed_channel=changed_channel,
        changed_level=changed_level,
        changed_qualified=changed_qualified,
        qualified_active=sum(tally.qualified["active"].values()),
        qualified_candidate=sum(tally.qualified["candidate"].values()),
        channels=channels,
        prediction_active=tally.prediction("active"),
        prediction_candidate=tally.prediction("candidate"),
        samples=tuple(samples),
        became_qualified=became_total,
        stopped_qualified=stopped_total,
        became_examples=tuple(became),
        stopped_examples=tuple(stopped),
    )


def _sample(
    item: BacktestLead,
    active: RuleSet,
    facts_active: LeadFacts,
    candidate: RuleSet,
    facts_candidate: LeadFacts,
) -> ChangedLead:
    before = explain(active, facts_active)
    after = explain(candidate, facts_candidate)
    lead_id = item.lead.get("id") if isinstance(item.lead, Mapping) else None
    return ChangedLead(
        lead_id=lead_id,
        before=Verdict(before.channel, before.level, before.qualified),
        after=Verdict(after.channel, after.level, after.qualified),
        reason_before=before.explanation,
        reason_after=after.explanation,
    )
