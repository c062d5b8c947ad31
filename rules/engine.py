"""Evaluating a rule set against one lead: channel, level, "qualified", and the one-line explanation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from typing import Any, Final

from rules.conditions import Condition, FieldSpec
from rules.i18n import LANGUAGES, Language, Text
from rules.loader import ChannelRule, Criterion, LevelRule, RuleSet, level_title
from rules.model import Classification, CriterionResult, CriterionStatus, LazyText, LevelName
from rules.values import MISSING, Invalid, LeadFacts

TARGET: Final = Text(ru="Целевой", en="Target")
NOT_TARGET: Final = Text(ru="Не целевой", en="Not target")
COUNT_MET: Final = Text(ru="{met} из {total}", en="{met} of {total}")
COUNT_NOT_MET: Final = Text(ru="{met} из {total}, нужно {required}", en="{met} of {total}, {required} needed")
CHANNEL: Final = Text(ru="Канал", en="Channel")
EXPERIMENTAL: Final = Text(ru="экспериментальный", en="experimental")
FALLBACK_LEVEL_REASON: Final[dict[str, Text]] = {
    "cold": Text(ru="обратился, но больше ничего не сообщил", en="contacted us but gave nothing more"),
    "warm": Text(ru="интерес без срока решения", en="interest without a decision date"),
    "hot": Text(ru="по умолчанию", en="by default"),
    "unknown": Text(ru="ни одно правило не подошло", en="no rule matched"),
}
UNREADABLE_LEAD: Final = Text(
    ru="сделку не удалось разобрать ({error})", en="the lead could not be read ({error})"
)


@dataclass(frozen=True, slots=True)
class Decision:
    """The verdict without explanations: what backtests over millions of leads need."""

    channel: str
    level: LevelName
    qualified: bool
    criteria_met: int


def evaluation_day(now: datetime, ruleset: RuleSet) -> date:
    """The calendar day in the rule set's time zone ("within 6 months" counts from it)."""
    moment = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    return moment.astimezone(ruleset.timezone).date()


def lead_facts(
    ruleset: RuleSet, lead: Mapping[str, Any], contacts: Sequence[Mapping[str, Any]], today: date
) -> LeadFacts:
    safe_contacts: Sequence[Mapping[str, Any]] = contacts
    if type(contacts) is not tuple and type(contacts) is not list:
        safe_contacts = contacts if isinstance(contacts, Sequence) and not isinstance(contacts, str) else ()
    return LeadFacts(lead, safe_contacts, today, ruleset.timezone)


def _channel(ruleset: RuleSet, facts: LeadFacts) -> ChannelRule:
    for rule in ruleset.channels:
        if rule.when.evaluate(facts):
            return rule
    return ruleset.fallback_channel


def _level(ruleset: RuleSet, facts: LeadFacts) -> LevelRule | None:
    for rule in ruleset.levels:
        if rule.when.evaluate(facts):
            return rule
    return None


def decide(ruleset: RuleSet, facts: LeadFacts) -> Decision:
    """Channel, level and qualified for already-indexed facts, without building any text."""
    channel = _channel(ruleset, facts)
    level_rule = _level(ruleset, facts)
    level = level_rule.level if level_rule is not None else ruleset.fallback_level
    met = 0
    for criterion in ruleset.qualification.criteria:
        if criterion.when.evaluate(facts) is True:
            met += 1
    required = ruleset.qualification.required_for(channel.name)
    return Decision(channel.name, level, met >= required, met)


def classify_strict(
    ruleset: RuleSet, lead: Mapping[str, Any], *, contacts: Sequence[Mapping[str, Any]] = (), now: datetime
) -> Classification:
    """`classify_lead` without the safety net, so tests can prove odd leads never reach it."""
    facts = lead_facts(ruleset, lead, contacts, evaluation_day(now, ruleset))
    return explain(ruleset, facts)


def explain(ruleset: RuleSet, facts: LeadFacts) -> Classification:
    """The full classification of indexed facts; its texts render when first read (see `LazyText`)."""
    channel = _channel(ruleset, facts)
    level_rule = _level(ruleset, facts)
    level: LevelName = level_rule.level if level_rule is not None else ruleset.fallback_level

    results: list[CriterionResult] = []
    met = 0
    today = facts.today
    for criterion in ruleset.qualification.criteria:
        memo = criterion.memo
        if memo is None:
            status, filled, total = _criterion_status(criterion, facts)
            result = CriterionResult(criterion.name, status, _Detail(criterion.when, facts), filled, total)
        else:
            specs = criterion.specs
            if len(specs) == 1:
                key: tuple[Any, ...] = (today, specs[0].read(facts))
            else:
                key = (today, *[spec.read(facts) for spec in specs])
            shared = memo.get(key)
            if shared is None:
                status, filled, total = _criterion_status(criterion, facts)
                detail = _SharedDetail(criterion.when, specs, key, facts.zone)
                shared = CriterionResult(criterion.name, status, detail, filled, total)
                if len(memo) >= CRITERION_MEMO_SIZE:
                    try:  # the oldest go first: yesterday's keys, rare values
                        memo.pop(next(iter(memo)), None)
                    except (RuntimeError, StopIteration):  # another thread changed the memo meanwhile
                        memo.clear()
                memo[key] = shared
            result = shared
        if result.status == "met":
            met += 1
        results.append(result)
    required = ruleset.qualification.required_for(channel.name)
    qualified = met >= required

    level_line = _LevelLine(ruleset, level, level_rule, facts)
    qualified_line = _QualifiedLine(results, qualified, met, required)
    return Classification(
        channel.name,
        channel.experimental,
        level,
        qualified,
        tuple(results),
        _FullLine(channel, level_line, qualified_line),
        ruleset.version,
        met,
        required,
        level_line,
        qualified_line,
    )


# Distinct (day, field values) results kept per criterion (each a few hundred bytes); the oldest go first.
CRITERION_MEMO_SIZE: Final = 512


def _criterion_status(criterion: Criterion, facts: LeadFacts) -> tuple[CriterionStatus, int, int]:
    outcome = criterion.when.evaluate(facts)
    specs = criterion.specs
    values = facts.values
    filled = 0
    for spec in specs:
        value = values.get(spec.alias)  # usually read (and kept) by `evaluate` just now
        if value is None:
            value = spec.read(facts)
        if value is not MISSING and type(value) is not Invalid:
            filled += 1
    total = len(specs)
    if outcome is True:
        return "met", filled, total
    if outcome is False and filled == total:
        return "failed", filled, total
    return "unknown", filled, total


class _Detail(LazyText):
    """A criterion's detail: its condition described against the lead's facts."""

    __slots__ = ("_condition", "_facts")

    def __init__(self, condition: Condition, facts: LeadFacts) -> None:
        self._condition = condition
        self._facts = facts
        self._ru = self._en = None

    def render(self, lang: Language) -> str:
        return self._condition.describe(self._facts, lang)


class _SharedDetail(LazyText):
    """A shared criterion's detail: described from the kept (day, values) only, never from a whole lead."""

    __slots__ = ("_condition", "_key", "_specs", "_zone")

    def __init__(
        self, condition: Condition, specs: tuple[FieldSpec, ...], key: tuple[Any, ...], zone: tzinfo
    ) -> None:
        self._condition = condition
        self._specs = specs
        self._key = key
        self._zone = zone
        self._ru = self._en = None

    def render(self, lang: Language) -> str:
        facts = LeadFacts({}, (), self._key[0], self._zone)
        for spec, value in zip(self._specs, self._key[1:], strict=True):
            facts.values[spec.alias] = value
        return self._condition.describe(facts, lang)


class _LevelLine(LazyText):
    """«Горячий: …» — the level and why."""

    __slots__ = ("_facts", "_level", "_rule", "_ruleset")

    def __init__(self, ruleset: RuleSet, level: LevelName, rule: LevelRule | None, facts: LeadFacts) -> None:
        self._ruleset = ruleset
        self._level = level
        self._rule = rule
        self._facts = facts
        self._ru = self._en = None

    def render(self, lang: Language) -> str:
        return _level_line(self._ruleset, self._level, self._rule, self._facts, lang)


class _QualifiedLine(LazyText):
    """«Целевой: …» — qualified or not, and the criteria behind it."""

    __slots__ = ("_met", "_qualified", "_required", "_results")

    def __init__(self, results: list[CriterionResult], qualified: bool, met: int, required: int) -> None:
        self._results = results
        self._qualified = qualified
        self._met = met
        self._required = required
        self._ru = self._en = None

    def render(self, lang: Language) -> str:
        return _qualified_line(self._results, self._qualified, self._met, self._required, lang)


class _FullLine(LazyText):
    """The one line a sales rep reads: level | qualified | channel."""

    __slots__ = ("_channel", "_level_line", "_qualified_line")

    def __init__(self, channel: ChannelRule, level_line: LazyText, qualified_line: LazyText) -> None:
        self._channel = channel
        self._level_line = level_line
        self._qualified_line = qualified_line
        self._ru = self._en = None

    def render(self, lang: Language) -> str:
        channel = self._channel
        channel_text = f"{CHANNEL(lang)}: {channel.title(lang)}"
        if channel.experimental:
            channel_text += f" ({EXPERIMENTAL(lang)})"
        return f"{self._level_line[lang]} | {self._qualified_line[lang]} | {channel_text}"


def _level_line(
    ruleset: RuleSet, level: LevelName, rule: LevelRule | None, facts: LeadFacts, lang: Language
) -> str:
    title = level_title(level)(lang)
    if rule is not None:
        reason = rule.explain(lang) if rule.explain is not None else rule.when.describe(facts, lang)
    elif ruleset.fallback_explain is not None:
        reason = ruleset.fallback_explain(lang)
    else:
        reason = FALLBACK_LEVEL_REASON[level](lang)
    return f"{title}: {reason}"


def _qualified_line(
    results: list[CriterionResult], qualified: bool, met: int, required: int, lang: Language
) -> str:
    total = len(results)
    if qualified:
        shown = [result.detail[lang] for result in results if result.status == "met"]
        count = COUNT_MET(lang, met=met, total=total)
        return f"{TARGET(lang)}: {'; '.join(shown)} ({count})"
    shown = [result.detail[lang] for result in results]
    count = COUNT_NOT_MET(lang, met=met, total=total, required=required)
    return f"{NOT_TARGET(lang)}: {'; '.join(shown)} ({count})"


def classify_lead(
    ruleset: RuleSet, lead: Mapping[str, Any], *, contacts: Sequence[Mapping[str, Any]] = (), now: datetime
) -> Classification:
    """Classify one amoCRM v4 lead. Odd values make criteria *unknown*; nothing a lead holds raises here."""
    try:
        return classify_strict(ruleset, lead, contacts=contacts, now=now)
    except (TypeError, ValueError, AttributeError, KeyError, OverflowError, RecursionError) as error:
        # The readers are built to be total; this net keeps one impossible lead from stopping a worker batch.
        return _unreadable(ruleset, type(error).__name__)


def _unreadable(ruleset: RuleSet, error: str) -> Classification:
    fallback = ruleset.fallback_channel
    explanation: dict[str, str] = {
        lang: f"{level_title('unknown')(lang)}: {UNREADABLE_LEAD(lang, error=error)}" for lang in LANGUAGES
    }
    return Classification(
        channel=fallback.name,
        experimental=fallback.experimental,
        level="unknown",
        qualified=False,
        criteria=(),
        explanation=explanation,
        rule_version=ruleset.version,
        criteria_required=ruleset.qualification.min_met,
        level_explanation=explanation,
        qualified_explanation={str(lang): NOT_TARGET(lang) for lang in LANGUAGES},
    )
