"""Which promos apply to a lead: compile the conditions once, index them, evaluate only the likely ones.

A `rule-engine` evaluation costs tens of microseconds, so checking 500 promos one by one per lead would take
~10 ms. Most promo conditions pin the lead to one campaign, channel or source (`utm_campaign == "spring"`,
`channel in ["ads", "seo"]`), so `compile_promos` files each promo under the first such equality it finds in
the top-level `and` of its condition; a lead then only evaluates the promos filed under its own values plus
the few promos without any such equality.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import rule_engine
import rule_engine.ast as rule_ast

from rules.promo import ClassificationLike, Promo, PromoMatch, lead_facts, today_of

# Most selective first: a campaign narrows more than a source, a source more than its channel, and a
# channel more than a level. `tags` is a list: a lead is looked up under each of its tags.
INDEX_DIMENSIONS: tuple[str, ...] = (
    "utm_campaign",
    "utm_content",
    "utm_source",
    "product",
    "tags",
    "channel",
    "pipeline_id",
    "level",
)
LIST_DIMENSIONS = frozenset({"tags"})


class PromoConditionError(ValueError):
    """A promo condition that is not a valid rule-engine expression."""

    def __init__(self, condition: str, detail: str) -> None:
        super().__init__(f"invalid condition {condition!r}: {detail}")
        self.condition = condition
        self.detail = detail


def compile_condition(condition: str) -> rule_engine.Rule | None:
    """The compiled condition, or None when it is empty (the promo applies to every lead)."""
    if not condition.strip():
        return None
    try:
        return rule_engine.Rule(condition, context=rule_engine.Context(default_value=None))
    except rule_engine.errors.EngineError as error:
        raise PromoConditionError(condition, str(getattr(error, "message", error))) from None


@dataclass(frozen=True, slots=True)
class CompiledPromo:
    position: int
    promo: Promo
    rule: rule_engine.Rule | None

    def applies_to(self, facts: Mapping[str, Any]) -> bool:
        if self.rule is None:
            return True
        try:
            return bool(self.rule.matches(facts))
        except (rule_engine.errors.EngineError, TypeError, ValueError, ArithmeticError):
            # A condition that cannot be evaluated on this lead's facts (e.g. `"vip" in tags` on a lead
            # without tags) simply does not apply; it must never stop the lead's evaluation.
            return False


@dataclass(frozen=True, slots=True)
class PromoBook:
    """Compiled promos, indexed for fast matching. Build once per change of the promo list."""

    index: Mapping[str, Mapping[str, tuple[CompiledPromo, ...]]]
    unindexed: tuple[CompiledPromo, ...]
    promos: tuple[Promo, ...] = field(default=())

    def __len__(self) -> int:
        return len(self.promos)


def index_value(value: Any) -> str | None:
    """One spelling per value, so the literal `5` in a condition meets the lead's `pipeline_id` 5."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal | float | int):
        number = Decimal(value)
        return str(int(number)) if number == number.to_integral_value() else str(number)
    if isinstance(value, str):
        return value
    return None


def _conjuncts(expression: Any) -> Iterable[Any]:
    if isinstance(expression, rule_ast.LogicExpression) and expression.type == "and":
        yield from _conjuncts(expression.left)
        yield from _conjuncts(expression.right)
    else:
        yield expression


def _literal(expression: Any) -> str | None:
    if isinstance(expression, rule_ast.StringExpression | rule_ast.FloatExpression):
        return index_value(expression.value)
    return None


def _equalities(expression: Any) -> dict[str, tuple[str, ...]]:
    """symbol → the values it must hold, from `s == v`, `v == s`, `s in [v1, v2]` and `v in s` conjuncts."""
    found: dict[str, tuple[str, ...]] = {}
    for part in _conjuncts(expression):
        if isinstance(part, rule_ast.ComparisonExpression) and part.type == "eq":
            for symbol, literal in ((part.left, part.right), (part.right, part.left)):
                value = _literal(literal)
                if isinstance(symbol, rule_ast.SymbolExpression) and value is not None:
                    found.setdefault(symbol.name, (value,))
        elif (
            isinstance(part, rule_ast.ContainsExpression)
            and isinstance(part.member, rule_ast.SymbolExpression)
            and isinstance(part.container, rule_ast.ArrayExpression)
            and part.container.is_reduced
        ):
            values = tuple(_literal(item) for item in part.container.value)
            if values and all(value is not None for value in values):
                found.setdefault(part.member.name, tuple(v for v in values if v is not None))
        elif (
            isinstance(part, rule_ast.ContainsExpression)
            and isinstance(part.container, rule_ast.SymbolExpression)
            and part.container.name in LIST_DIMENSIONS
        ):
            member = _literal(part.member)
            if member is not None:
                found.setdefault(part.container.name, (member,))
    return found


def compile_promos(promos: Sequence[Promo]) -> PromoBook:
    """Compile and index the promos (raises `PromoConditionError` on the first invalid condition)."""
    index: dict[str, dict[str, list[CompiledPromo]]] = defaultdict(lambda: defaultdict(list))
    unindexed: list[CompiledPromo] = []
    for position, promo in enumerate(promos):
        rule = compile_condition(promo.condition)
        compiled = CompiledPromo(position=position, promo=promo, rule=rule)
        equalities = _equalities(rule.statement.expression) if rule is not None else {}
        dimension = next((name for name in INDEX_DIMENSIONS if name in equalities), None)
        if dimension is None:
            unindexed.append(compiled)
            continue
        for value in equalities[dimension]:
            index[dimension][value].append(compiled)
    return PromoBook(
        index={
            dimension: {value: tuple(items) for value, items in by_value.items()}
            for dimension, by_value in index.items()
        },
        unindexed=tuple(unindexed),
        promos=tuple(promos),
    )


def candidate_promos(book: PromoBook, facts: Mapping[str, Any]) -> list[CompiledPromo]:
    """The promos worth evaluating for these facts (a superset of those that match)."""
    candidates = list(book.unindexed)
    for dimension, by_value in book.index.items():
        fact = facts.get(dimension)
        if dimension in LIST_DIMENSIONS:
            found = {id(c): c for item in (fact or ()) for c in by_value.get(index_value(item) or "", ())}
            candidates.extend(found.values())
            continue
        value = index_value(fact)
        if value is not None:
            candidates.extend(by_value.get(value, ()))
    return candidates


def match_promos(
    promos: PromoBook | Sequence[Promo],
    classification: ClassificationLike | None,
    lead: Mapping[str, Any],
    now: datetime,
) -> list[PromoMatch]:
    """The promos running today whose condition holds for this lead, in the order they were defined."""
    book = promos if isinstance(promos, PromoBook) else compile_promos(promos)
    facts = lead_facts(classification, lead)
    today: date = today_of(now)
    matched = [
        candidate
        for candidate in candidate_promos(book, facts)
        if candidate.promo.is_running_on(today) and candidate.applies_to(facts)
    ]
    matched.sort(key=lambda candidate: candidate.position)
    return [PromoMatch.of(candidate.promo) for candidate in matched]


def format_active_promos(matches: Sequence[PromoMatch]) -> str:
    """The text of the lead's "Active promos" field: `Name: CODE` per promo, `; `-separated."""
    parts = [f"{match.name}: {match.shared_code}" if match.shared_code else match.name for match in matches]
    return "; ".join(parts)
