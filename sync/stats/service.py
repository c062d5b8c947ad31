"""One account's figures for one period: the SQL aggregation, the active rules' settings, the pure metrics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import tzinfo

from sqlmodel import Session

from integration.i18n import Text
from integration.storage.rulesets import active_ruleset
from rules import RuleSet
from sync.stats.metrics import PeriodFigures, WonBasis, compute_period_figures
from sync.stats.periods import Period
from sync.stats.queries import FieldRef, load_stats_inputs

QUALIFIED_NORM_KEY = "qualified_share"


@dataclass(frozen=True, slots=True)
class StatsOptions:
    # A manager needs this many leads in the period before being named best or worst.
    min_manager_sample: int = 10
    # A channel needs this many classified leads before its % qualified is judged against the norm.
    min_quality_sample: int = 10
    # None: the fields the active rule file's qualification criteria read; () : no completeness at all.
    completeness_fields: Sequence[FieldRef | str] | None = None
    won_basis: WonBasis = "close_date"


@dataclass(frozen=True, slots=True)
class RulesContext:
    """What the figures take from the active rules: channels, which are experimental, the norm, the time zone."""

    version: int
    channels: frozenset[str]
    experimental: frozenset[str]
    qualified_norm: float | None
    timezone: tzinfo
    channel_titles: Mapping[str, Text]
    completeness_fields: tuple[FieldRef, ...]


def qualification_fields(ruleset: RuleSet) -> tuple[FieldRef, ...]:
    """The amoCRM lead fields the rule file's qualification criteria read, in criteria order.

    The one place that decides which fields completeness is counted over. `ruleset` comes compiled with the
    account's field mapping (`active_ruleset`), so a field bound by role carries the mapped field's id; a role
    the mapping leaves out carries nothing and its completeness is unknown, not 0. Built-in lead properties
    such as the price are not fields a person fills."""
    found: dict[str, FieldRef] = {}
    for criterion in ruleset.qualification.criteria:
        for spec in criterion.specs:
            if spec.builtin is None and spec.alias not in found:
                found[spec.alias] = FieldRef(
                    key=spec.alias, code=spec.code, name=spec.name, field_id=spec.field_id
                )
    return tuple(found.values())


def rules_context(*, session: Session, account_id: int) -> RulesContext:
    version, ruleset = active_ruleset(session=session, account_id=account_id)
    channels = frozenset(ruleset.channel_names)
    return RulesContext(
        version=version,
        channels=channels,
        experimental=frozenset(name for name in channels if ruleset.is_experimental(name)),
        qualified_norm=ruleset.norms.get(QUALIFIED_NORM_KEY),
        timezone=ruleset.timezone,
        channel_titles={name: ruleset.channel_title(name) for name in ruleset.channel_names},
        completeness_fields=qualification_fields(ruleset),
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
    fields = rules.completeness_fields if options.completeness_fields is None else options.completeness_fields
    inputs = load_stats_inputs(
        session.connection(),
        account_id=account_id,
        period=period,
        as_of=as_of,
        tz=rules.timezone,
        field_codes=fields,
        won_basis=options.won_basis,
    )
    return compute_period_figures(
        inputs,
        experimental_channels=set(rules.experimental),
        qualified_norm=rules.qualified_norm,
        min_manager_sample=options.min_manager_sample,
        completeness_fields=[item.key if isinstance(item, FieldRef) else item for item in fields],
        min_quality_sample=options.min_quality_sample,
        unmapped_fields=frozenset(
            item.key for item in fields if isinstance(item, FieldRef) and not item.mapped
        ),
    )
