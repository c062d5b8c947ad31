"""One account's figures for one period: the SQL aggregation, the active rules' settings, the pure metrics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import tzinfo

from sqlmodel import Session

from integration.storage.rulesets import active_ruleset
from sync.stats.metrics import PeriodFigures, compute_period_figures
from sync.stats.periods import Period
from sync.stats.queries import BANT_FIELD_CODES, load_stats_inputs

QUALIFIED_NORM_KEY = "qualified_share"


@dataclass(frozen=True, slots=True)
class StatsOptions:
    # A manager needs this many leads in the period before being named best or worst.
    min_manager_sample: int = 10
    completeness_fields: Sequence[str] = BANT_FIELD_CODES


@dataclass(frozen=True, slots=True)
class RulesContext:
    """What the figures take from the active rules: channels, which are experimental, the norm, the time zone."""

    version: int
    channels: frozenset[str]
    experimental: frozenset[str]
    qualified_norm: float | None
    timezone: tzinfo


def rules_context(*, session: Session, account_id: int) -> RulesContext:
    version, ruleset = active_ruleset(session=session, account_id=account_id)
    channels = frozenset(ruleset.channel_names)
    return RulesContext(
        version=version,
        channels=channels,
        experimental=frozenset(name for name in channels if ruleset.is_experimental(name)),
        qualified_norm=ruleset.norms.get(QUALIFIED_NORM_KEY),
        timezone=ruleset.timezone,
    )


def figures_for(
    *,
    session: Session,
    account_id: int,
    period: Period,
    as_of: int,
    options: StatsOptions = StatsOptions(),
) -> PeriodFigures:
    """Every metric of docs/metrics.md for the account and period, as of `as_of` (unix seconds)."""
    rules = rules_context(session=session, account_id=account_id)
    inputs = load_stats_inputs(
        session.connection(),
        account_id=account_id,
        period=period,
        as_of=as_of,
        tz=rules.timezone,
        field_codes=options.completeness_fields,
    )
    return compute_period_figures(
        inputs,
        experimental_channels=set(rules.experimental),
        qualified_norm=rules.qualified_norm,
        min_manager_sample=options.min_manager_sample,
        completeness_fields=options.completeness_fields,
    )
