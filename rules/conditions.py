"""Conditions of a rule file, compiled once into small predicate objects with three-valued results.

A condition answers True, False or None (*unknown*: a field it needs is empty or unreadable).
`all`/`any`/`not` follow Kleene logic, so an empty field never turns into a "failed" verdict by accident.
Each condition can also describe itself for the one-line explanation, in Russian and English.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Final, Literal, Protocol

import rule_engine

from rules.i18n import Language, Text
from rules.model import FieldType
from rules.values import (
    MISSING,
    Duration,
    FactValue,
    Invalid,
    LeadFacts,
    _values_of,
    contact_has,
    lead_tags,
    read_boolean,
    read_date,
    read_number,
    read_text,
    read_values,
    show_value,
)

BuiltinSource = Literal[
    "price", "status_id", "pipeline_id", "responsible_user_id", "name", "created_at", "has_phone", "has_email"
]

UNKNOWN_EMPTY = Text(ru="{label}: неизвестно — поле пустое", en="{label}: unknown — field empty")
UNKNOWN_UNMAPPED = Text(
    ru="{label}: неизвестно — поле не сопоставлено", en="{label}: unknown — field not mapped"
)
UNKNOWN_INVALID = Text(
    ru="{label}: неизвестно — значение «{raw}» не распознано",
    en="{label}: unknown — value '{raw}' not recognised",
)


# JSON scalars: the values a field entry almost always holds (checked by exact type, the cheap way).
_PLAIN: Final = frozenset({str, int, float, bool})


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """A fact a rule can name: an amoCRM custom field (by code, name or id) or a built-in lead property."""

    alias: str
    kind: FieldType
    label: Text
    code: str | None = None
    name: str | None = None
    field_id: int | None = None
    builtin: BuiltinSource | None = None
    enums: Mapping[int, str] = field(default_factory=dict)
    # The role the rule file gave the field (budget, decision_maker, …); `unmapped`: the account's mapping
    # binds no field to it, so the value is unknown for a reason the admin can fix, not because it is empty.
    role: str | None = None
    unmapped: bool = False

    def read(self, facts: LeadFacts) -> FactValue:
        value: FactValue | None = facts.values.get(self.alias)
        if value is None:
            value = facts.values[self.alias] = self._read(facts)
        return value

    def _read(self, facts: LeadFacts) -> FactValue:
        if self.builtin is not None:
            return self._read_builtin(facts)
        entry = None
        if self.field_id is not None:
            entry = facts.by_id(self.field_id)
        if entry is None and self.code is not None:
            entry = facts.by_code.get(self.code)
        if entry is None and self.name is not None:
            entry = facts.by_name(self.name)
        if entry is None:
            return MISSING
        values = entry.get("values")
        if type(values) is list and len(values) == 1 and type(values[0]) is dict:
            # The common case, one plain value: read it without building intermediate lists.
            raw = values[0].get("value")
            if type(raw) in _PLAIN or (raw is not None and not isinstance(raw, list | dict)):
                kind = self.kind
                if kind == "text":
                    return read_text(raw)
                if kind == "number":
                    return read_number(raw)
                if kind == "boolean":
                    return read_boolean(raw)
                return read_date(raw, facts.zone)
        return read_values(_values_of(entry, self.enums), self.kind, facts.zone)

    def _read_builtin(self, facts: LeadFacts) -> FactValue:
        lead = facts.lead
        if self.builtin == "has_phone":
            return contact_has(facts.contacts, "PHONE")
        if self.builtin == "has_email":
            return contact_has(facts.contacts, "EMAIL")
        if self.builtin == "name":
            return read_text(lead.get("name"))
        if self.builtin == "created_at":
            return read_date(lead.get("created_at"), facts.zone)
        return read_number(lead.get(str(self.builtin)))


def builtin_fields() -> dict[str, FieldSpec]:
    """Lead properties every rule file can use without declaring them."""

    def spec(alias: str, kind: FieldType, ru: str, en: str, source: BuiltinSource) -> FieldSpec:
        return FieldSpec(alias=alias, kind=kind, label=Text(ru=ru, en=en), builtin=source)

    specs = [
        spec("price", "number", "бюджет сделки", "lead price", "price"),
        spec("status_id", "number", "статус", "status", "status_id"),
        spec("pipeline_id", "number", "воронка", "pipeline", "pipeline_id"),
        spec("responsible_user_id", "number", "ответственный", "responsible user", "responsible_user_id"),
        spec("lead_name", "text", "название сделки", "lead name", "name"),
        spec("created_at", "date", "дата создания", "created", "created_at"),
        spec("has_phone", "boolean", "есть телефон", "has phone", "has_phone"),
        spec("has_email", "boolean", "есть email", "has email", "has_email"),
    ]
    return {s.alias: s for s in specs}


def _unknown_text(spec: FieldSpec, value: FactValue, lang: Language) -> str:
    label = spec.label(lang)
    if isinstance(value, Invalid):
        return UNKNOWN_INVALID(lang, label=label, raw=value.raw)
    if spec.unmapped:
        return UNKNOWN_UNMAPPED(lang, label=label)
    return UNKNOWN_EMPTY(lang, label=label)


class Condition(Protocol):
    """A compiled condition: evaluate to True/False/None, name the fields it reads, explain itself."""

    @property
    def specs(self) -> tuple[FieldSpec, ...]: ...

    @property
    def key(self) -> tuple[Any, ...]:
        """A structural identity: equal keys mean equal conditions (used to spot shadowed rules)."""
        ...

    def evaluate(self, facts: LeadFacts) -> bool | None: ...

    def describe(self, facts: LeadFacts, lang: Language) -> str: ...


# --- leaves on one field ------------------------------------------------------------------------------------

CompareOp = Literal["equals", "not_equals", "gt", "gte", "lt", "lte"]
_SYMBOL: Final[dict[str, str]] = {
    "equals": "=",
    "not_equals": "≠",
    "gt": ">",
    "gte": "≥",
    "lt": "<",
    "lte": "≤",
}
_NEGATED: Final[dict[str, str]] = {
    "equals": "not_equals",
    "not_equals": "equals",
    "gt": "lte",
    "gte": "lt",
    "lt": "gte",
    "lte": "gt",
}
_COMPARE: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "equals": lambda a, b: a == b,
    "not_equals": lambda a, b: a != b,
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
}


@dataclass(frozen=True, slots=True)
class DateOperand:
    """A date in a rule: fixed (2027-01-01) or relative to the evaluation day (today, +6 months, -30 days)."""

    fixed: date | None = None
    offset: Duration | None = None

    def resolve(self, today: date) -> date:
        if self.fixed is not None:
            return self.fixed
        return self.offset.add_to(today) if self.offset is not None else today

    def show(self, lang: Language) -> str:
        if self.fixed is not None:
            return self.fixed.isoformat()
        if self.offset is None or self.offset.amount == 0:
            return "сегодня" if lang == "ru" else "today"
        sign = "+" if self.offset.amount > 0 else "−"
        base = "сегодня" if lang == "ru" else "today"
        return f"{base} {sign} {self.offset.show(lang)}"


Operand = float | bool | str | DateOperand


@dataclass(frozen=True, slots=True)
class Compare:
    spec: FieldSpec
    op: CompareOp
    operand: Operand

    @property
    def specs(self) -> tuple[FieldSpec, ...]:
        return (self.spec,)

    @property
    def key(self) -> tuple[Any, ...]:
        return ("compare", self.spec.alias, self.op, self.operand)

    def _actual_and_expected(self, facts: LeadFacts) -> tuple[Any, Any] | None:
        value = self.spec.read(facts)
        if value is MISSING or isinstance(value, Invalid):
            return None
        operand = self.operand
        if isinstance(operand, DateOperand):
            return (value, operand.resolve(facts.today)) if isinstance(value, date) else None
        if isinstance(value, tuple):  # text: any of the values, compared case-insensitively
            return (value, str(operand).casefold())
        if isinstance(operand, bool) != isinstance(value, bool):
            return None
        return (value, operand)

    def evaluate(self, facts: LeadFacts) -> bool | None:
        pair = self._actual_and_expected(facts)
        if pair is None:
            return None
        actual, expected = pair
        compare = _COMPARE[self.op]
        try:
            if isinstance(actual, tuple):
                if self.op == "not_equals":
                    return all(item.casefold() != expected for item in actual)
                return any(compare(item.casefold(), expected) for item in actual)
            return compare(actual, expected)
        except TypeError:
            return None

    def describe(self, facts: LeadFacts, lang: Language) -> str:
        value = self.spec.read(facts)
        outcome = self.evaluate(facts)
        if outcome is None:
            return _unknown_text(self.spec, value, lang)
        op = self.op if outcome else _NEGATED[self.op]
        operand = self.operand
        shown = operand.show(lang) if isinstance(operand, DateOperand) else show_value(operand, lang)
        actual = show_value(value, lang)
        if self.op == "equals" and outcome:
            return f"{self.spec.label(lang)} = {actual}"
        if self.op == "equals":
            needed = "нужно" if lang == "ru" else "needs"
            return f"{self.spec.label(lang)} = {actual} ({needed} {shown})"
        return f"{self.spec.label(lang)} {actual} {_SYMBOL[op]} {shown}"


@dataclass(frozen=True, slots=True)
class InList:
    spec: FieldSpec
    choices: frozenset[Any]
    negate: bool = False

    @property
    def specs(self) -> tuple[FieldSpec, ...]:
        return (self.spec,)

    @property
    def key(self) -> tuple[Any, ...]:
        return ("in", self.spec.alias, self.choices, self.negate)

    def evaluate(self, facts: LeadFacts) -> bool | None:
        value = facts.values.get(self.spec.alias)
        if value is None:
            value = self.spec.read(facts)
        if value is MISSING or type(value) is Invalid:
            return None
        found = False
        if type(value) is tuple:
            for item in value:
                if item.casefold() in self.choices:
                    found = True
                    break
        else:
            found = value in self.choices
        return found != self.negate

    def describe(self, facts: LeadFacts, lang: Language) -> str:
        value = self.spec.read(facts)
        outcome = self.evaluate(facts)
        if outcome is None:
            return _unknown_text(self.spec, value, lang)
        inside = outcome != self.negate
        suffix = "" if inside else (" — не из списка" if lang == "ru" else " — not in the list")
        return f"{self.spec.label(lang)} = {show_value(value, lang)}{suffix}"


@dataclass(frozen=True, slots=True)
class Matches:
    spec: FieldSpec
    pattern: re.Pattern[str]
    substring: bool = False

    @property
    def specs(self) -> tuple[FieldSpec, ...]:
        return (self.spec,)

    @property
    def key(self) -> tuple[Any, ...]:
        return ("matches", self.spec.alias, self.pattern.pattern, self.substring)

    def evaluate(self, facts: LeadFacts) -> bool | None:
        value = self.spec.read(facts)
        if not isinstance(value, tuple):
            return None
        return any(self.pattern.search(item) is not None for item in value)

    def describe(self, facts: LeadFacts, lang: Language) -> str:
        value = self.spec.read(facts)
        outcome = self.evaluate(facts)
        if outcome is None:
            return _unknown_text(self.spec, value, lang)
        shown = f"{self.spec.label(lang)} = {show_value(value, lang)}"
        if outcome:
            return shown
        return shown + (" — не подходит" if lang == "ru" else " — does not match")


@dataclass(frozen=True, slots=True)
class Filled:
    spec: FieldSpec
    expected: bool = True

    @property
    def specs(self) -> tuple[FieldSpec, ...]:
        return (self.spec,)

    @property
    def key(self) -> tuple[Any, ...]:
        return ("filled", self.spec.alias, self.expected)

    def evaluate(self, facts: LeadFacts) -> bool | None:
        value = facts.values.get(self.spec.alias)
        if value is None:
            value = self.spec.read(facts)
        return (value is not MISSING) == self.expected

    def describe(self, facts: LeadFacts, lang: Language) -> str:
        value = self.spec.read(facts)
        if value is MISSING:
            return _unknown_text(self.spec, value, lang)
        return f"{self.spec.label(lang)}: указано" if lang == "ru" else f"{self.spec.label(lang)} filled"


@dataclass(frozen=True, slots=True)
class Within:
    """A date lies from today up to `span` ahead (`ahead=True`) or from `span` ago up to today."""

    spec: FieldSpec
    span: Duration
    ahead: bool = True
    # The far end of the window by evaluation day: it depends only on the day, so it is computed once a day.
    bounds: dict[date, date] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def specs(self) -> tuple[FieldSpec, ...]:
        return (self.spec,)

    @property
    def key(self) -> tuple[Any, ...]:
        return ("within", self.spec.alias, self.span, self.ahead)

    def evaluate(self, facts: LeadFacts) -> bool | None:
        value = facts.values.get(self.spec.alias)
        if value is None:
            value = self.spec.read(facts)
        if type(value) is not date:
            return None
        today = facts.today
        bound = self.bounds.get(today)
        if bound is None:
            span = self.span if self.ahead else Duration(-self.span.amount, self.span.unit)
            bound = span.add_to(today)
            if len(self.bounds) >= 64:
                self.bounds.clear()
            self.bounds[today] = bound
        if self.ahead:
            return today <= value <= bound
        return bound <= value <= today

    def describe(self, facts: LeadFacts, lang: Language) -> str:
        value = self.spec.read(facts)
        if not isinstance(value, date):
            return _unknown_text(self.spec, value, lang)
        label, span, shown = self.spec.label(lang), self.span.show(lang), value.isoformat()
        if self.evaluate(facts):
            return (
                f"{label} {shown} — в пределах {span}"
                if lang == "ru"
                else f"{label} {shown} is within {span}"
            )
        passed = value < facts.today if self.ahead else value > facts.today
        if self.ahead and passed:
            return f"{label} {shown} уже прошла" if lang == "ru" else f"{label} {shown} has passed"
        if self.ahead:
            return (
                f"{label} {shown} — позже чем через {span}"
                if lang == "ru"
                else f"{label} {shown} is more than {span} away"
            )
        if passed:
            return f"{label} {shown} — в будущем" if lang == "ru" else f"{label} {shown} is in the future"
        return (
            f"{label} {shown} — раньше чем {span} назад"
            if lang == "ru"
            else f"{label} {shown} is more than {span} ago"
        )


# --- leaves without a field ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tags:
    names: tuple[str, ...]
    require_all: bool = False

    @property
    def specs(self) -> tuple[FieldSpec, ...]:
        return ()

    @property
    def key(self) -> tuple[Any, ...]:
        return ("tags", frozenset(self.names), self.require_all)

    def evaluate(self, facts: LeadFacts) -> bool | None:
        tags = facts.values.get("#tags")
        if tags is None:
            tags = facts.values["#tags"] = lead_tags(facts.lead)
        if self.require_all:
            return all(name in tags for name in self.names)
        return any(name in tags for name in self.names)

    def describe(self, facts: LeadFacts, lang: Language) -> str:
        names = ", ".join(self.names)
        if self.evaluate(facts):
            return f"тег «{names}»" if lang == "ru" else f"tag '{names}'"
        return f"нет тега «{names}»" if lang == "ru" else f"no tag '{names}'"


@dataclass(frozen=True, slots=True)
class Always:
    @property
    def specs(self) -> tuple[FieldSpec, ...]:
        return ()

    @property
    def key(self) -> tuple[Any, ...]:
        return ("always",)

    def evaluate(self, facts: LeadFacts) -> bool | None:
        return True

    def describe(self, facts: LeadFacts, lang: Language) -> str:
        return "всегда" if lang == "ru" else "always"


_ENGINE_TYPES: Final[dict[str, Any]] = {
    "number": rule_engine.DataType.FLOAT,
    "boolean": rule_engine.DataType.BOOLEAN,
    "text": rule_engine.DataType.STRING,
    "date": rule_engine.DataType.DATETIME,
}


@dataclass(frozen=True, slots=True)
class Expression:
    """A `rule-engine` expression over the declared fields (`budget >= 100000 and utm_source =~ "^ya"`).

    Slower than the structured conditions; use it for what they cannot say.
    """

    text: str
    rule: rule_engine.Rule = field(compare=False, hash=False)
    used: tuple[FieldSpec, ...] = ()

    @property
    def specs(self) -> tuple[FieldSpec, ...]:
        return self.used

    @property
    def key(self) -> tuple[Any, ...]:
        return ("expr", self.text)

    def evaluate(self, facts: LeadFacts) -> bool | None:
        symbols: dict[str, Any] = {}
        for spec in self.used:
            value = spec.read(facts)
            if value is MISSING or isinstance(value, Invalid):
                return None
            if isinstance(value, tuple):
                symbols[spec.alias] = value[0]
            elif isinstance(value, date):
                symbols[spec.alias] = datetime(value.year, value.month, value.day, tzinfo=facts.zone)
            else:
                symbols[spec.alias] = value
        symbols["tags"] = lead_tags(facts.lead)
        symbols["today"] = datetime(facts.today.year, facts.today.month, facts.today.day, tzinfo=facts.zone)
        try:
            return bool(self.rule.matches(symbols))
        except rule_engine.errors.EngineError:
            return None

    def describe(self, facts: LeadFacts, lang: Language) -> str:
        outcome = self.evaluate(facts)
        if outcome is None:
            missing = next(
                (s for s in self.used if s.read(facts) is MISSING or isinstance(s.read(facts), Invalid)), None
            )
            if missing is not None:
                return _unknown_text(missing, missing.read(facts), lang)
            return f"{self.text}: " + ("неизвестно" if lang == "ru" else "unknown")
        if outcome:
            return self.text
        return ("не выполнено: " if lang == "ru" else "not met: ") + self.text


def compile_expression(text: str, fields: Mapping[str, FieldSpec]) -> Expression:
    """Parse and type-check an expression; raises rule_engine errors (the loader reports them)."""
    used: dict[str, FieldSpec] = {}

    def resolve_type(name: str) -> Any:
        if name == "tags":
            return rule_engine.DataType.ARRAY(rule_engine.DataType.STRING)
        if name == "today":
            return rule_engine.DataType.DATETIME
        spec = fields.get(name)
        if spec is None:
            raise rule_engine.errors.SymbolResolutionError(name)
        used[name] = spec
        return _ENGINE_TYPES[spec.kind]

    context = rule_engine.Context(type_resolver=resolve_type, default_value=None)
    rule = rule_engine.Rule(text, context=context)
    return Expression(text=text, rule=rule, used=tuple(used.values()))


# --- combinations -------------------------------------------------------------------------------------------


def _unique_specs(children: tuple[Condition, ...]) -> tuple[FieldSpec, ...]:
    seen: dict[str, FieldSpec] = {}
    for child in children:
        for spec in child.specs:
            seen.setdefault(spec.alias, spec)
    return tuple(seen.values())


@dataclass(frozen=True, slots=True)
class AllOf:
    children: tuple[Condition, ...]

    @property
    def specs(self) -> tuple[FieldSpec, ...]:
        return _unique_specs(self.children)

    @property
    def key(self) -> tuple[Any, ...]:
        return ("all", frozenset(child.key for child in self.children))

    def evaluate(self, facts: LeadFacts) -> bool | None:
        result: bool | None = True
        for child in self.children:
            outcome = child.evaluate(facts)
            if outcome is False:
                return False
            if outcome is None:
                result = None
        return result

    def describe(self, facts: LeadFacts, lang: Language) -> str:
        outcome = self.evaluate(facts)
        if outcome is False:  # the first failing part is the reason
            failing = next(c for c in self.children if c.evaluate(facts) is False)
            return failing.describe(facts, lang)
        return ", ".join(child.describe(facts, lang) for child in self.children)


@dataclass(frozen=True, slots=True)
class AnyOf:
    children: tuple[Condition, ...]

    @property
    def specs(self) -> tuple[FieldSpec, ...]:
        return _unique_specs(self.children)

    @property
    def key(self) -> tuple[Any, ...]:
        return ("any", frozenset(child.key for child in self.children))

    def evaluate(self, facts: LeadFacts) -> bool | None:
        result: bool | None = False
        for child in self.children:
            outcome = child.evaluate(facts)
            if outcome is True:
                return True
            if outcome is None:
                result = None
        return result

    def describe(self, facts: LeadFacts, lang: Language) -> str:
        if self.evaluate(facts):  # the first matching part is the reason
            matching = next(c for c in self.children if c.evaluate(facts))
            return matching.describe(facts, lang)
        word = " или " if lang == "ru" else " or "
        return word.join(child.describe(facts, lang) for child in self.children)


@dataclass(frozen=True, slots=True)
class NotOf:
    child: Condition

    @property
    def specs(self) -> tuple[FieldSpec, ...]:
        return self.child.specs

    @property
    def key(self) -> tuple[Any, ...]:
        return ("not", self.child.key)

    def evaluate(self, facts: LeadFacts) -> bool | None:
        outcome = self.child.evaluate(facts)
        return None if outcome is None else not outcome

    def describe(self, facts: LeadFacts, lang: Language) -> str:
        return ("не: " if lang == "ru" else "not: ") + self.child.describe(facts, lang)


def reads_only_fields(condition: Condition) -> bool:
    """True when `condition` (and its description) depends on nothing but its fields' values and the day.

    Tags and expressions also read the raw lead; every other condition sees the lead only through `specs`.
    """
    if isinstance(condition, AllOf | AnyOf):
        return all(reads_only_fields(child) for child in condition.children)
    if isinstance(condition, NotOf):
        return reads_only_fields(condition.child)
    return isinstance(condition, Compare | InList | Matches | Filled | Within | Always)


def conjuncts(condition: Condition) -> frozenset[Any]:
    """The parts that must all hold for `condition` to hold (itself when it is not an `all`)."""
    if isinstance(condition, AllOf):
        return frozenset(part for child in condition.children for part in conjuncts(child))
    return frozenset({condition.key})


def disjuncts(condition: Condition) -> list[frozenset[Any]]:
    """Alternatives, each a set of parts that together make `condition` hold."""
    if isinstance(condition, AnyOf):
        return [part for child in condition.children for part in disjuncts(child)]
    return [conjuncts(condition)]


def shadows(earlier: Condition, later: Condition) -> bool:
    """True when every way `later` can match already makes `earlier` match, so `later` is never reached."""
    if isinstance(earlier, Always):
        return True
    earlier_options = disjuncts(earlier)
    return all(any(option <= alternative for option in earlier_options) for alternative in disjuncts(later))
