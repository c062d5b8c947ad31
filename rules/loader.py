"""Turning rule-file text into a `RuleSet`, reporting every problem with its line, column and a fix hint."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, tzinfo
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import rule_engine
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from rules.conditions import (
    AllOf,
    Always,
    AnyOf,
    Compare,
    CompareOp,
    Condition,
    DateOperand,
    FieldSpec,
    Filled,
    InList,
    Matches,
    NotOf,
    Operand,
    Tags,
    Within,
    builtin_fields,
    compile_expression,
    reads_only_fields,
    shadows,
)
from rules.i18n import Text
from rules.model import (
    FIELD_TYPES,
    LEVELS,
    CatalogField,
    CriterionResult,
    FieldCatalog,
    FieldType,
    LevelName,
    RuleFileError,
    RuleIssue,
)
from rules.roles import ROLE_NAMES, FieldMapping, Role, fits, propose_mapping, role_named
from rules.source import MAX_NESTING, Problems, compose, key_text, scalar_value, suggestion, with_params
from rules.values import Duration

FORMAT_VERSION: Final = 1


@dataclass(frozen=True, slots=True)
class ChannelRule:
    name: str
    title: Text
    experimental: bool
    when: Condition


@dataclass(frozen=True, slots=True)
class LevelRule:
    level: LevelName
    when: Condition
    explain: Text | None = None


@dataclass(frozen=True, slots=True)
class Criterion:
    name: str
    title: Text
    when: Condition
    # The fields the criterion reads, fixed at load time (completeness is counted over them per lead).
    specs: tuple[FieldSpec, ...] = ()
    # When `when` depends only on `specs` and the day, leads with equal values share one immutable
    # `CriterionResult`: the engine keeps them here by (day, values), bounded (see `rules.engine`).
    memo: dict[tuple[Any, ...], CriterionResult] | None = field(
        default=None, init=False, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "memo", {} if reads_only_fields(self.when) else None)


@dataclass(frozen=True, slots=True)
class Qualification:
    criteria: tuple[Criterion, ...]
    min_met: int
    overrides: Mapping[str, int] = field(default_factory=dict)

    def required_for(self, channel: str) -> int:
        return self.overrides.get(channel, self.min_met)


@dataclass(frozen=True, slots=True)
class RuleSet:
    """A validated rule file, compiled for evaluation; `version` is the stored version (0: default pack)."""

    text: str
    timezone: tzinfo
    fields: Mapping[str, FieldSpec]
    channels: tuple[ChannelRule, ...]
    fallback_channel: ChannelRule
    levels: tuple[LevelRule, ...]
    fallback_level: LevelName
    fallback_explain: Text | None
    qualification: Qualification
    norms: Mapping[str, float]
    version: int = 0
    title: str = ""
    # The account's role → field binding this set was compiled with (`None`: role fields bound by code).
    mapping: FieldMapping | None = None

    def with_version(self, version: int) -> RuleSet:
        return replace(self, version=version)

    @property
    def channel_names(self) -> tuple[str, ...]:
        """Every channel a lead can land in, in rule order (the fallback last unless a rule shares its name)."""
        return tuple(dict.fromkeys((*(c.name for c in self.channels), self.fallback_channel.name)))

    def channel_title(self, name: str) -> Text:
        for channel in (*self.channels, self.fallback_channel):
            if channel.name == name:
                return channel.title
        return Text(ru=name, en=name)

    def is_experimental(self, name: str) -> bool:
        return any(c.experimental for c in (*self.channels, self.fallback_channel) if c.name == name)


# --- texts --------------------------------------------------------------------------------------------------

T = Text
NOT_A_MAPPING = T(ru="ожидался словарь (ключ: значение)", en="expected a mapping (key: value)")
NOT_A_LIST = T(ru="ожидался список (строки с '- ')", en="expected a list (lines starting with '- ')")
NOT_A_SCALAR = T(ru="ожидалось одно значение", en="expected a single value")
UNKNOWN_KEY = T(ru="неизвестный ключ «{key}»", en="unknown key '{key}'")
MISSING_KEY = T(ru="не хватает ключа «{key}»", en="missing key '{key}'")
MISSING_KEY_HINT = T(ru="добавьте «{key}: …»", en="add '{key}: …'")
DUPLICATE_KEY = T(ru="ключ «{key}» повторяется", en="key '{key}' appears twice")
DUPLICATE_KEY_HINT = T(ru="оставьте один из них", en="keep only one of them")
BAD_FORMAT = T(ru="неподдерживаемая версия формата: {value}", en="unsupported format version: {value}")
BAD_FORMAT_HINT = T(ru="укажите format: 1", en="use format: 1")
BAD_TIMEZONE = T(ru="неизвестный часовой пояс «{value}»", en="unknown time zone '{value}'")
BAD_TIMEZONE_HINT = T(ru="например Europe/Moscow или UTC", en="for example Europe/Moscow or UTC")
BAD_NAME = T(ru="недопустимое имя «{value}»", en="invalid name '{value}'")
BAD_NAME_HINT = T(
    ru="латинские буквы, цифры и _, начиная с буквы", en="latin letters, digits and _, starting with a letter"
)
FIELD_NEEDS_ADDRESS = T(
    ru="поле «{alias}» без role, code и name", en="field '{alias}' has neither role nor code nor name"
)
FIELD_NEEDS_ADDRESS_HINT = T(
    ru="укажите role: budget (поле аккаунта сопоставит администратор) или code: BUDGET / name: «Бюджет»",
    en="give role: budget (an admin maps the account's field) or code: BUDGET / name: 'Budget'",
)
UNKNOWN_FIELD_ROLE = T(ru="неизвестная роль поля «{value}»", en="unknown field role '{value}'")
NO_FIELD_FOR_ROLE = T(
    ru="в аккаунте не найдено поле для роли «{role}»", en="no field of the account found for role '{role}'"
)
NO_FIELD_FOR_ROLE_HINT = T(
    ru="сопоставьте поле на странице /admin/mapping или создайте его там",
    en="map a field on the /admin/mapping page, or create it there",
)
BAD_FIELD_TYPE = T(ru="неизвестный тип поля «{value}»", en="unknown field type '{value}'")
BUILTIN_CLASH = T(ru="«{alias}» — встроенное поле", en="'{alias}' is a built-in field")
BUILTIN_CLASH_HINT = T(ru="выберите другое имя", en="choose another name")
UNKNOWN_FIELD = T(ru="неизвестное поле «{name}»", en="unknown field '{name}'")
UNKNOWN_FIELD_HINT = T(
    ru="объявите его в разделе fields (code или name); {choices}",
    en="declare it under fields (code or name); {choices}",
)
NOT_IN_ACCOUNT = T(ru="в аккаунте нет поля {what}", en="the account has no field {what}")
NOT_IN_ACCOUNT_HINT = T(
    ru="проверьте код/название в настройках полей amoCRM{guess}",
    en="check the code/name in amoCRM's field settings{guess}",
)
ACCOUNT_TYPE_MISMATCH = T(
    ru="поле {what} в amoCRM имеет тип {amo_type}, а в правилах — {kind}",
    en="field {what} is of type {amo_type} in amoCRM but {kind} in the rules",
)
ACCOUNT_TYPE_MISMATCH_HINT = T(ru="исправьте type поля", en="fix the field's type")
UNKNOWN_OPERATOR = T(ru="неизвестное условие «{key}»", en="unknown condition '{key}'")
CONDITION_EMPTY = T(ru="пустое условие", en="empty condition")
CONDITION_EMPTY_HINT = T(
    ru="например {field: budget, gte: 100000} или always: true",
    en="for example {field: budget, gte: 100000} or always: true",
)
CONDITION_SHAPE_HINT = T(
    ru="условие — это field с проверками, tag/tags_any/tags_all, expr, always, all, any или not",
    en="a condition is field with checks, tag/tags_any/tags_all, expr, always, all, any or not",
)
NO_CHECK = T(ru="у поля «{name}» нет проверки", en="field '{name}' has no check")
NO_CHECK_HINT = T(
    ru="добавьте, например, filled: true или gte: 100000", en="add for example filled: true or gte: 100000"
)
TYPE_MISMATCH = T(
    ru="«{op}» нельзя сравнить: поле «{name}» типа {kind}, а значение {value!r}",
    en="wrong type in comparison '{op}': field '{name}' is {kind} but the value is {value!r}",
)
TYPE_MISMATCH_HINT = T(ru="для {kind} ожидается {expected}", en="{kind} expects {expected}")
OP_NOT_FOR_TYPE = T(
    ru="проверка «{op}» не подходит для поля «{name}» типа {kind}",
    en="check '{op}' does not apply to field '{name}' of type {kind}",
)
OP_NOT_FOR_TYPE_HINT = T(ru="подходят: {choices}", en="applicable: {choices}")
BAD_REGEX = T(
    ru="регулярное выражение не компилируется: {error}", en="regular expression does not compile: {error}"
)
BAD_REGEX_HINT = T(
    ru="проверьте скобки и экранирование (\\\\. для точки)",
    en="check brackets and escaping (\\\\. for a dot)",
)
BAD_DURATION = T(ru="не понимаю срок «{value}»", en="cannot read the period '{value}'")
BAD_DURATION_HINT = T(
    ru="пишите как «6 months», «30 days», «2 weeks», «1 year»",
    en="write it as '6 months', '30 days', '2 weeks', '1 year'",
)
UNKNOWN_PARAM = T(ru="неизвестный параметр «{name}»", en="unknown parameter '{name}'")
BAD_EXPR = T(ru="ошибка в выражении: {error}", en="error in expression: {error}")
BAD_EXPR_HINT = T(
    ru='синтаксис rule-engine: budget >= 100000 and utm_source =~ "^ya"',
    en='rule-engine syntax: budget >= 100000 and utm_source =~ "^ya"',
)
TOO_DEEP = T(ru="условие вложено слишком глубоко", en="condition nested too deeply")
TOO_DEEP_HINT = T(
    ru="упростите условие (не больше {limit} уровней)", en="simplify it (at most {limit} levels)"
)
DUPLICATE_CHANNEL = T(ru="канал «{name}» объявлен дважды", en="channel '{name}' is declared twice")
DUPLICATE_CHANNEL_HINT = T(
    ru="объедините условия через any или переименуйте канал (первое объявление — строка {line})",
    en="merge the conditions with any or rename the channel (first declared on line {line})",
)
SHADOWED = T(
    ru="правило недостижимо: его перекрывает правило «{earlier}» в строке {line}",
    en="unreachable rule: shadowed by rule '{earlier}' on line {line}",
)
SHADOWED_HINT = T(
    ru="переставьте более узкое правило выше или уточните условие",
    en="move the narrower rule above it or make the conditions differ",
)
UNKNOWN_LEVEL = T(ru="неизвестный уровень «{name}»", en="unknown level '{name}'")
LEVEL_WITHOUT_RULE = T(ru="у уровня «{name}» нет правила", en="level '{name}' has no rule")
LEVEL_WITHOUT_RULE_HINT = T(
    ru="добавьте правило «- level: {name}» в levels или сделайте его fallback_level",
    en="add a rule '- level: {name}' under levels or make it the fallback_level",
)
BAD_MIN_MET = T(
    ru="min_met = {value}, а критериев {count}",
    en="min_met is {value} but there are {count} criteria",
)
BAD_MIN_MET_HINT = T(ru="число от 1 до {count}", en="a whole number from 1 to {count}")
DUPLICATE_CRITERION = T(ru="критерий «{name}» повторяется", en="criterion '{name}' appears twice")
UNKNOWN_CHANNEL = T(ru="неизвестный канал «{name}»", en="unknown channel '{name}'")
BAD_SHARE = T(
    ru="доля должна быть от 0 до 1, а не {value!r}", en="a share must be between 0 and 1, not {value!r}"
)
BAD_SHARE_HINT = T(ru="например 0.5 для 50 %", en="for example 0.5 for 50 %")
BAD_BOOL = T(ru="ожидалось true или false, а не {value!r}", en="expected true or false, not {value!r}")
BAD_BOOL_HINT = T(ru="напишите true или false", en="write true or false")
BAD_TEXT = T(ru="ожидался текст или {{ru: …, en: …}}", en="expected a text or {{ru: …, en: …}}")
BAD_TEXT_HINT = T(
    ru="например title: {{ru: Директ, en: Direct}}", en="for example title: {{ru: Директ, en: Direct}}"
)

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_TOP_KEYS: Final = (
    "format",
    "title",
    "timezone",
    "params",
    "fields",
    "channels",
    "fallback_channel",
    "levels",
    "fallback_level",
    "qualified",
    "norms",
)
_FIELD_OPS: Final = (
    "equals",
    "not_equals",
    "gt",
    "gte",
    "lt",
    "lte",
    "in",
    "not_in",
    "matches",
    "contains",
    "filled",
    "within_next",
    "within_last",
)
_OPS_BY_TYPE: Final[dict[str, tuple[str, ...]]] = {
    "number": ("equals", "not_equals", "gt", "gte", "lt", "lte", "in", "not_in", "filled"),
    "boolean": ("equals", "not_equals", "filled"),
    "text": ("equals", "not_equals", "in", "not_in", "matches", "contains", "filled"),
    "date": ("equals", "not_equals", "gt", "gte", "lt", "lte", "within_next", "within_last", "filled"),
}
_CONDITION_KEYS: Final = ("field", "tag", "tags_any", "tags_all", "expr", "always", "all", "any", "not")
_LEVEL_TITLES: Final[dict[str, Text]] = {
    "hot": T(ru="Горячий", en="Hot"),
    "warm": T(ru="Тёплый", en="Warm"),
    "cold": T(ru="Холодный", en="Cold"),
    "unknown": T(ru="Неизвестно", en="Unknown"),
}
_EXPECTED: Final[dict[str, Text]] = {
    "number": T(ru="число", en="a number"),
    "boolean": T(ru="true или false", en="true or false"),
    "text": T(ru="текст", en="a text"),
    "date": T(ru="дата (2027-03-01) или срок (+6 months)", en="a date (2027-03-01) or a period (+6 months)"),
}


def level_title(level: str) -> Text:
    return _LEVEL_TITLES.get(level, _LEVEL_TITLES["unknown"])


class _Reader:
    """Walks the YAML nodes of one file; keeps going after a problem so every issue is reported at once."""

    def __init__(
        self, problems: Problems, catalog: FieldCatalog | None, account_mapping: FieldMapping | None = None
    ) -> None:
        self.problems = problems
        self.catalog = catalog
        self.account_mapping = account_mapping
        self.fields: dict[str, FieldSpec] = builtin_fields()
        self.params: dict[str, Any] = {}

    # -- small helpers

    def mapping(self, node: Node, allowed: tuple[str, ...] | None = None) -> dict[str, tuple[Node, Node]]:
        """Key → (key node, value node); reports non-mappings, duplicate and (if `allowed`) unknown keys."""
        if not isinstance(node, MappingNode):
            self.problems.add(node, NOT_A_MAPPING, CONDITION_SHAPE_HINT if allowed is None else NOT_A_MAPPING)
            return {}
        result: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            key = key_text(key_node)
            if key in result:
                self.problems.add(key_node, with_params(DUPLICATE_KEY, key=key), DUPLICATE_KEY_HINT)
                continue
            if allowed is not None and key not in allowed:
                self.problems.add(key_node, with_params(UNKNOWN_KEY, key=key), suggestion(key, allowed))
                continue
            result[key] = (key_node, value_node)
        return result

    def sequence(self, node: Node) -> list[Node]:
        if not isinstance(node, SequenceNode):
            self.problems.add(node, NOT_A_LIST, NOT_A_LIST)
            return []
        return list(node.value)

    def scalar(self, node: Node) -> Any:
        if not isinstance(node, ScalarNode):
            self.problems.add(node, NOT_A_SCALAR, NOT_A_SCALAR)
            return None
        return scalar_value(node)

    def name(self, node: Node) -> str | None:
        value = self.scalar(node)
        if value is None:
            return None
        if not isinstance(value, str) or not _NAME.match(value):
            self.problems.add(node, with_params(BAD_NAME, value=value), BAD_NAME_HINT)
            return None
        return value

    def boolean(self, node: Node) -> bool | None:
        value = self.scalar(node)
        if not isinstance(value, bool):
            self.problems.add(node, with_params(BAD_BOOL, value=value), BAD_BOOL_HINT)
            return None
        return value

    def text(self, node: Node, fallback: str) -> Text:
        if isinstance(node, ScalarNode):
            value = scalar_value(node)
            return Text(ru=str(value), en=str(value))
        if isinstance(node, MappingNode):
            items = self.mapping(node, ("ru", "en"))
            ru = (
                scalar_value(items["ru"][1])
                if "ru" in items and isinstance(items["ru"][1], ScalarNode)
                else None
            )
            en = (
                scalar_value(items["en"][1])
                if "en" in items and isinstance(items["en"][1], ScalarNode)
                else None
            )
            if ru is not None or en is not None:
                return Text(ru=str(ru if ru is not None else en), en=str(en if en is not None else ru))
        self.problems.add(node, BAD_TEXT, BAD_TEXT_HINT)
        return Text(ru=fallback, en=fallback)

    def operand_value(self, node: Node) -> tuple[Any, Node]:
        """A value in a condition; `$name` refers to `params`."""
        if isinstance(node, SequenceNode):
            return [self.operand_value(item)[0] for item in node.value], node
        value = self.scalar(node)
        if isinstance(value, str) and value.startswith("$"):
            name = value[1:]
            if name not in self.params:
                self.problems.add(node, with_params(UNKNOWN_PARAM, name=name), suggestion(name, self.params))
                return None, node
            return self.params[name], node
        return value, node

    def duration(self, node: Node) -> Duration | None:
        value, _ = self.operand_value(node)
        if value is None:
            return None
        parsed = Duration.parse(str(value)) if isinstance(value, str) else None
        if parsed is None:
            self.problems.add(node, with_params(BAD_DURATION, value=value), BAD_DURATION_HINT)
        return parsed

    # -- sections

    def read_params(self, node: Node) -> None:
        for key, (key_node, value_node) in self.mapping(node).items():
            if not _NAME.match(key):
                self.problems.add(key_node, with_params(BAD_NAME, value=key), BAD_NAME_HINT)
                continue
            if isinstance(value_node, SequenceNode):
                self.params[key] = [self.scalar(item) for item in value_node.value]
            else:
                self.params[key] = self.scalar(value_node)

    def read_fields(self, node: Node) -> None:
        builtins = builtin_fields()
        for alias, (key_node, value_node) in self.mapping(node).items():
            if not _NAME.match(alias):
                self.problems.add(key_node, with_params(BAD_NAME, value=alias), BAD_NAME_HINT)
                continue
            if alias in builtins or alias in ("tags", "today"):
                self.problems.add(key_node, with_params(BUILTIN_CLASH, alias=alias), BUILTIN_CLASH_HINT)
                continue
            items = self.mapping(value_node, ("role", "code", "name", "type", "label"))
            code = self.scalar(items["code"][1]) if "code" in items else None
            name = self.scalar(items["name"][1]) if "name" in items else None
            role = self.field_role(items["role"][1]) if "role" in items else None
            if "role" in items and role is None:
                continue
            if role is not None and code is None and name is None:
                code = role.code  # where the account has no mapping yet, the role's usual code is tried
            if code is None and name is None:
                self.problems.add(
                    key_node, with_params(FIELD_NEEDS_ADDRESS, alias=alias), FIELD_NEEDS_ADDRESS_HINT
                )
                continue
            kind: FieldType = role.kind if role is not None else "text"
            if "type" in items:
                raw_kind = self.scalar(items["type"][1])
                if raw_kind in FIELD_TYPES:
                    kind = raw_kind
                else:
                    self.problems.add(
                        items["type"][1],
                        with_params(BAD_FIELD_TYPE, value=raw_kind),
                        suggestion(str(raw_kind), FIELD_TYPES),
                    )
            label = self.text(items["label"][1], alias) if "label" in items else Text(ru=alias, en=alias)
            spec = FieldSpec(
                alias=alias,
                kind=kind,
                label=label,
                code=str(code).upper() if code is not None else None,
                name=str(name).strip().casefold() if name is not None else None,
                role=role.name if role is not None else None,
            )
            if spec.role is not None and (self.account_mapping is not None or self.catalog is not None):
                self.fields[alias] = self._bind_role(spec, key_node)
            else:
                self.fields[alias] = self._bind_to_account(spec, key_node)

    def field_role(self, node: Node) -> Role | None:
        value = self.scalar(node)
        role = role_named(value) if isinstance(value, str) else None
        if role is None:
            self.problems.add(
                node, with_params(UNKNOWN_FIELD_ROLE, value=value), suggestion(str(value), ROLE_NAMES)
            )
        return role

    def _bind_role(self, spec: FieldSpec, node: Node) -> FieldSpec:
        """Bind a role field to the account's mapped field by id; with no mapping, to the catalog's proposal.

        A role the mapping leaves out stays *not mapped*: classification goes on (its criteria are unknown and
        say «поле не сопоставлено»), and `unmapped_roles` makes checks and activation say so loudly.
        """
        assert spec.role is not None
        found: CatalogField | None
        if self.account_mapping is not None:
            found = self.account_mapping.get(spec.role)
            if found is None:
                return replace(spec, code=None, name=None, unmapped=True)
        else:
            assert self.catalog is not None
            role = role_named(spec.role)
            hint = spec.code or spec.name
            proposal = propose_mapping(self.catalog, [role] if role else [], hints={spec.role: hint or ""})
            chosen = proposal.get(spec.role)
            if chosen is None:
                self.problems.add(
                    node, with_params(NO_FIELD_FOR_ROLE, role=spec.role), NO_FIELD_FOR_ROLE_HINT
                )
                return replace(spec, code=None, name=None, unmapped=True)
            found = chosen.field
        if not fits(spec.kind, found):
            self.problems.add(
                node,
                with_params(
                    ACCOUNT_TYPE_MISMATCH, what=f"«{found.name}»", amo_type=found.type, kind=spec.kind
                ),
                ACCOUNT_TYPE_MISMATCH_HINT,
            )
        return replace(spec, field_id=found.id, code=None, name=None, enums=dict(found.enums))

    def _bind_to_account(self, spec: FieldSpec, node: Node) -> FieldSpec:
        """Map the field to the account's field id (and enum labels) when the account's catalog is known."""
        if self.catalog is None:
            return spec
        found = (self.catalog.by_code(spec.code) if spec.code else None) or (
            self.catalog.by_name(spec.name) if spec.name else None
        )
        what = f"code {spec.code}" if spec.code else f"«{spec.name}»"
        if found is None:
            names = [f.code or f.name for f in self.catalog.fields]
            close = suggestion(spec.code or spec.name or "", names)
            guess = Text(ru="; " + close("ru"), en="; " + close("en"))
            self.problems.add(
                node, with_params(NOT_IN_ACCOUNT, what=what), with_params(NOT_IN_ACCOUNT_HINT, guess=guess)
            )
            return spec
        if spec.kind != "text" and not fits(spec.kind, found):
            self.problems.add(
                node,
                with_params(ACCOUNT_TYPE_MISMATCH, what=what, amo_type=found.type, kind=spec.kind),
                ACCOUNT_TYPE_MISMATCH_HINT,
            )
        return replace(spec, field_id=found.id, enums=dict(found.enums))

    # -- conditions

    def condition(self, node: Node, depth: int = 0) -> Condition | None:
        if depth > MAX_NESTING:
            self.problems.add(node, TOO_DEEP, with_params(TOO_DEEP_HINT, limit=MAX_NESTING))
            return None
        if not isinstance(node, MappingNode) or not node.value:
            self.problems.add(
                node,
                CONDITION_EMPTY if isinstance(node, MappingNode) else NOT_A_MAPPING,
                CONDITION_EMPTY_HINT,
            )
            return None
        keys = [key_text(key) for key, _ in node.value]
        if "field" in keys:
            return self.field_condition(node)
        items = self.mapping(node, _CONDITION_KEYS)
        parts: list[Condition] = []
        for key, (key_node, value_node) in items.items():
            part = self.keyed_condition(key, key_node, value_node, depth)
            if part is not None:
                parts.append(part)
        if len(parts) != len(items) or not items:
            return None
        return parts[0] if len(parts) == 1 else AllOf(tuple(parts))

    def keyed_condition(self, key: str, key_node: Node, value_node: Node, depth: int) -> Condition | None:
        if key in ("all", "any"):
            children_nodes = self.sequence(value_node)
            if not children_nodes:
                self.problems.add(value_node, CONDITION_EMPTY, CONDITION_EMPTY_HINT)
                return None
            children = [self.condition(child, depth + 1) for child in children_nodes]
            if any(child is None for child in children):
                return None
            ready = tuple(c for c in children if c is not None)
            return AllOf(ready) if key == "all" else AnyOf(ready)
        if key == "not":
            child = self.condition(value_node, depth + 1)
            return NotOf(child) if child is not None else None
        if key == "always":
            return Always() if self.boolean(value_node) is True else None
        if key in ("tag", "tags_any", "tags_all"):
            raw, _ = self.operand_value(value_node)
            names = raw if isinstance(raw, list) else [raw]
            if not names or any(not isinstance(n, str | int) or not str(n).strip() for n in names):
                self.problems.add(value_node, NOT_A_LIST, NOT_A_LIST)
                return None
            return Tags(tuple(str(n).strip().casefold() for n in names), require_all=key == "tags_all")
        if key == "expr":
            return self.expression(value_node)
        self.problems.add(key_node, with_params(UNKNOWN_OPERATOR, key=key), suggestion(key, _CONDITION_KEYS))
        return None

    def expression(self, node: Node) -> Condition | None:
        text = self.scalar(node)
        if not isinstance(text, str) or not text.strip():
            self.problems.add(node, CONDITION_EMPTY, BAD_EXPR_HINT)
            return None
        try:
            return compile_expression(text, self.fields)
        except rule_engine.errors.SymbolResolutionError as error:
            name = str(getattr(error, "symbol_name", error))
            self.problems.add(
                node,
                with_params(UNKNOWN_FIELD, name=name),
                self._unknown_field_hint(name),
            )
        except rule_engine.errors.RegexSyntaxError as error:
            self.problems.add(
                node, with_params(BAD_REGEX, error=error.error or error.message), BAD_REGEX_HINT
            )
        except (rule_engine.errors.EngineError, ValueError, TypeError, RecursionError) as error:
            detail = getattr(error, "message", None) or type(error).__name__
            self.problems.add(node, with_params(BAD_EXPR, error=detail), BAD_EXPR_HINT)
        return None

    def _unknown_field_hint(self, name: str) -> Text:
        return with_params(UNKNOWN_FIELD_HINT, choices=suggestion(name, [*self.fields, "tags"]))

    def field_condition(self, node: MappingNode) -> Condition | None:
        items = self.mapping(node, ("field", *_FIELD_OPS))
        if "field" not in items:
            return None
        name_node = items["field"][1]
        name = self.scalar(name_node)
        spec = self.fields.get(str(name)) if name is not None else None
        if spec is None:
            self.problems.add(
                name_node, with_params(UNKNOWN_FIELD, name=name), self._unknown_field_hint(str(name))
            )
            return None
        checks = [
            (key, key_node, value_node) for key, (key_node, value_node) in items.items() if key != "field"
        ]
        if not checks:
            self.problems.add(name_node, with_params(NO_CHECK, name=spec.alias), NO_CHECK_HINT)
            return None
        parts = [self.field_check(spec, key, key_node, value_node) for key, key_node, value_node in checks]
        if any(part is None for part in parts):
            return None
        ready = tuple(p for p in parts if p is not None)
        return ready[0] if len(ready) == 1 else AllOf(ready)

    def field_check(self, spec: FieldSpec, op: str, key_node: Node, value_node: Node) -> Condition | None:
        allowed = _OPS_BY_TYPE[spec.kind]
        if op not in allowed:
            self.problems.add(
                key_node,
                with_params(OP_NOT_FOR_TYPE, op=op, name=spec.alias, kind=spec.kind),
                with_params(OP_NOT_FOR_TYPE_HINT, choices=", ".join(allowed)),
            )
            return None
        if op == "filled":
            expected = self.boolean(value_node)
            return Filled(spec, expected) if expected is not None else None
        if op in ("within_next", "within_last"):
            span = self.duration(value_node)
            if span is None:
                return None
            return Within(spec, Duration(abs(span.amount), span.unit), ahead=op == "within_next")
        value, where = self.operand_value(value_node)
        if value is None and isinstance(value_node, ScalarNode) and scalar_value(value_node) is not None:
            return None  # an unknown $param, already reported
        if op in ("matches", "contains"):
            if not isinstance(value, str):
                self._type_error(spec, op, value, where)
                return None
            try:
                pattern = re.compile(value if op == "matches" else re.escape(value), re.IGNORECASE)
            except re.error as error:
                self.problems.add(where, with_params(BAD_REGEX, error=str(error)), BAD_REGEX_HINT)
                return None
            return Matches(spec, pattern, substring=op == "contains")
        if op in ("in", "not_in"):
            if not isinstance(value, list) or not value:
                self.problems.add(where, NOT_A_LIST, NOT_A_LIST)
                return None
            choices = [self._typed_operand(spec, op, item, where) for item in value]
            if any(choice is None for choice in choices):
                return None
            normalised = frozenset(c.casefold() if isinstance(c, str) else c for c in choices)
            return InList(spec, normalised, negate=op == "not_in")
        operand = self._typed_operand(spec, op, value, where)
        if operand is None:
            return None
        assert op in ("equals", "not_equals", "gt", "gte", "lt", "lte")
        compare_op: CompareOp = op  # type: ignore[assignment]
        return Compare(spec, compare_op, operand)

    def _typed_operand(self, spec: FieldSpec, op: str, value: Any, where: Node) -> Operand | None:
        kind = spec.kind
        if kind == "number" and isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if kind == "boolean" and isinstance(value, bool):
            return value
        if kind == "text" and isinstance(value, str | int | float) and not isinstance(value, bool):
            return str(value)
        if kind == "date":
            if isinstance(value, datetime):
                return DateOperand(fixed=value.date())
            if isinstance(value, date):
                return DateOperand(fixed=value)
            if isinstance(value, str):
                if value.strip().casefold() in ("today", "now"):
                    return DateOperand()
                if value.strip()[:1] in "+-" and (span := Duration.parse(value)) is not None:
                    return DateOperand(offset=span)
                try:
                    return DateOperand(fixed=date.fromisoformat(value.strip()))
                except ValueError:
                    pass
        self._type_error(spec, op, value, where)
        return None

    def _type_error(self, spec: FieldSpec, op: str, value: Any, where: Node) -> None:
        self.problems.add(
            where,
            with_params(TYPE_MISMATCH, op=op, name=spec.alias, kind=spec.kind, value=value),
            with_params(TYPE_MISMATCH_HINT, kind=spec.kind, expected=_EXPECTED[spec.kind]),
        )

    # -- rule lists

    def channels(self, node: Node) -> list[tuple[ChannelRule, Node]]:
        result: list[tuple[ChannelRule, Node]] = []
        first_seen: dict[str, int] = {}
        for item in self.sequence(node):
            items = self.mapping(item, ("name", "title", "experimental", "when"))
            if "name" not in items:
                self.problems.add(
                    item, with_params(MISSING_KEY, key="name"), with_params(MISSING_KEY_HINT, key="name")
                )
                continue
            name_node = items["name"][1]
            name = self.name(name_node)
            if name is None:
                continue
            if name in first_seen:
                self.problems.add(
                    name_node,
                    with_params(DUPLICATE_CHANNEL, name=name),
                    with_params(DUPLICATE_CHANNEL_HINT, line=first_seen[name]),
                )
                continue
            first_seen[name] = name_node.start_mark.line + 1
            when = self._when(items, item)
            experimental = self.boolean(items["experimental"][1]) if "experimental" in items else False
            title = self.text(items["title"][1], name) if "title" in items else Text(ru=name, en=name)
            if when is not None:
                result.append((ChannelRule(name, title, bool(experimental), when), item))
        return result

    def _when(self, items: dict[str, tuple[Node, Node]], owner: Node) -> Condition | None:
        if "when" not in items:
            self.problems.add(
                owner, with_params(MISSING_KEY, key="when"), with_params(MISSING_KEY_HINT, key="when")
            )
            return None
        return self.condition(items["when"][1])

    def levels(self, node: Node) -> list[tuple[LevelRule, Node]]:
        result: list[tuple[LevelRule, Node]] = []
        for item in self.sequence(node):
            items = self.mapping(item, ("level", "when", "explain"))
            if "level" not in items:
                self.problems.add(
                    item, with_params(MISSING_KEY, key="level"), with_params(MISSING_KEY_HINT, key="level")
                )
                continue
            level_node = items["level"][1]
            level = self.scalar(level_node)
            if level not in LEVELS:
                self.problems.add(
                    level_node, with_params(UNKNOWN_LEVEL, name=level), suggestion(str(level), LEVELS)
                )
                continue
            when = self._when(items, item)
            explain = self.text(items["explain"][1], str(level)) if "explain" in items else None
            if when is not None:
                result.append((LevelRule(level, when, explain), item))
        return result

    def check_shadowing(self, rules: list[tuple[str, Condition, Node]]) -> None:
        for index, (_name, condition, node) in enumerate(rules):
            for earlier_name, earlier, earlier_node in rules[:index]:
                if shadows(earlier, condition):
                    self.problems.add(
                        node,
                        _shadowed_text(earlier_name, earlier_node.start_mark.line + 1),
                        SHADOWED_HINT,
                    )
                    break

    def qualification(self, node: Node, channel_names: set[str]) -> Qualification | None:
        items = self.mapping(node, ("min_met", "criteria", "overrides"))
        criteria: list[Criterion] = []
        seen: set[str] = set()
        if "criteria" not in items:
            self.problems.add(
                node, with_params(MISSING_KEY, key="criteria"), with_params(MISSING_KEY_HINT, key="criteria")
            )
            return None
        for item in self.sequence(items["criteria"][1]):
            fields = self.mapping(item, ("name", "title", "when"))
            if "name" not in fields:
                self.problems.add(
                    item, with_params(MISSING_KEY, key="name"), with_params(MISSING_KEY_HINT, key="name")
                )
                continue
            name = self.name(fields["name"][1])
            if name is None:
                continue
            if name in seen:
                self.problems.add(
                    fields["name"][1], with_params(DUPLICATE_CRITERION, name=name), DUPLICATE_KEY_HINT
                )
                continue
            seen.add(name)
            title = self.text(fields["title"][1], name) if "title" in fields else Text(ru=name, en=name)
            when = self._when(fields, item)
            if when is not None:
                criteria.append(Criterion(name, title, when, when.specs))
        count = len(criteria)
        min_met = self._min_met(items["min_met"][1], count) if "min_met" in items else count
        overrides: dict[str, int] = {}
        if "overrides" in items:
            for channel, (key_node, value_node) in self.mapping(items["overrides"][1]).items():
                if channel not in channel_names:
                    self.problems.add(
                        key_node,
                        with_params(UNKNOWN_CHANNEL, name=channel),
                        suggestion(channel, channel_names),
                    )
                    continue
                override = self.mapping(value_node, ("min_met",))
                if "min_met" in override:
                    value = self._min_met(override["min_met"][1], count)
                    if value is not None:
                        overrides[channel] = value
        if min_met is None:
            return None
        return Qualification(tuple(criteria), min_met, overrides)

    def _min_met(self, node: Node, count: int) -> int | None:
        value = self.scalar(node)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= max(count, 1):
            self.problems.add(
                node,
                with_params(BAD_MIN_MET, value=value, count=count),
                with_params(BAD_MIN_MET_HINT, count=count),
            )
            return None
        return value

    def norms(self, node: Node) -> dict[str, float]:
        result: dict[str, float] = {}
        for key, (_, value_node) in self.mapping(node, ("qualified_share",)).items():
            value = self.scalar(value_node)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                self.problems.add(value_node, with_params(BAD_SHARE, value=value), BAD_SHARE_HINT)
                continue
            result[key] = float(value)
        return result


def _shadowed_text(earlier: str, line: int) -> Text:
    return with_params(SHADOWED, earlier=earlier, line=line)


def _parse(
    text: str, source: str, catalog: FieldCatalog | None, mapping: FieldMapping | None = None
) -> tuple[RuleSet | None, list[RuleIssue]]:
    problems = Problems(source)
    root = compose(text, problems)
    if root is None:
        return None, problems.issues
    reader = _Reader(problems, catalog, mapping)
    top = reader.mapping(root, _TOP_KEYS)
    if not isinstance(root, MappingNode):
        return None, problems.issues
    for required in ("channels", "fallback_channel", "levels", "qualified"):
        if required not in top:
            problems.add(
                root, with_params(MISSING_KEY, key=required), with_params(MISSING_KEY_HINT, key=required)
            )
    if "format" in top and reader.scalar(top["format"][1]) != FORMAT_VERSION:
        problems.add(
            top["format"][1], with_params(BAD_FORMAT, value=reader.scalar(top["format"][1])), BAD_FORMAT_HINT
        )
    zone: tzinfo = ZoneInfo("UTC")
    if "timezone" in top:
        zone_name = reader.scalar(top["timezone"][1])
        try:
            zone = ZoneInfo(str(zone_name))
        except (ZoneInfoNotFoundError, ValueError):
            problems.add(top["timezone"][1], with_params(BAD_TIMEZONE, value=zone_name), BAD_TIMEZONE_HINT)
    if "params" in top:
        reader.read_params(top["params"][1])
    if "fields" in top:
        reader.read_fields(top["fields"][1])

    channels = reader.channels(top["channels"][1]) if "channels" in top else []
    reader.check_shadowing([(c.name, c.when, node) for c, node in channels])
    # The fallback may reuse a named channel's name: leads no rule matched are counted there too.
    fallback = _fallback_channel(reader, top)
    levels = reader.levels(top["levels"][1]) if "levels" in top else []
    reader.check_shadowing([(rule.level, rule.when, node) for rule, node in levels])
    fallback_level: LevelName = "unknown"
    fallback_explain: Text | None = None
    if "fallback_level" in top:
        fallback_level, fallback_explain = _fallback_level(reader, top["fallback_level"][1])
    if "levels" in top:
        covered = {rule.level for rule, _ in levels} | {fallback_level}
        for level in LEVELS:
            if level not in covered and not _level_reported(problems, top["levels"][1]):
                problems.add(
                    top["levels"][0],
                    with_params(LEVEL_WITHOUT_RULE, name=level),
                    with_params(LEVEL_WITHOUT_RULE_HINT, name=level),
                )
    channel_names = {c.name for c, _ in channels} | ({fallback.name} if fallback else set())
    qualification = reader.qualification(top["qualified"][1], channel_names) if "qualified" in top else None
    norms = reader.norms(top["norms"][1]) if "norms" in top else {}
    title = str(reader.scalar(top["title"][1]) or "") if "title" in top else ""
    if problems.issues or fallback is None or qualification is None:
        return None, problems.issues
    ruleset = RuleSet(
        text=text,
        timezone=zone,
        fields=reader.fields,
        channels=tuple(c for c, _ in channels),
        fallback_channel=fallback,
        levels=tuple(rule for rule, _ in levels),
        fallback_level=fallback_level,
        fallback_explain=fallback_explain,
        qualification=qualification,
        norms=norms,
        title=title,
        mapping=mapping,
    )
    return ruleset, []


def _level_reported(problems: Problems, node: Node) -> bool:
    """Levels whose rules had errors are not also reported as missing (one cause, one message)."""
    start, end = node.start_mark.line + 1, node.end_mark.line + 1
    return any(start <= issue.line <= end for issue in problems.issues)


def _fallback_channel(reader: _Reader, top: dict[str, tuple[Node, Node]]) -> ChannelRule | None:
    if "fallback_channel" not in top:
        return None
    node = top["fallback_channel"][1]
    if isinstance(node, ScalarNode):
        name = reader.name(node)
        return ChannelRule(name, Text(ru=name, en=name), False, Always()) if name else None
    items = reader.mapping(node, ("name", "title", "experimental"))
    if "name" not in items:
        reader.problems.add(
            node, with_params(MISSING_KEY, key="name"), with_params(MISSING_KEY_HINT, key="name")
        )
        return None
    name = reader.name(items["name"][1])
    if name is None:
        return None
    title = reader.text(items["title"][1], name) if "title" in items else Text(ru=name, en=name)
    experimental = reader.boolean(items["experimental"][1]) if "experimental" in items else False
    return ChannelRule(name, title, bool(experimental), Always())


def _fallback_level(reader: _Reader, node: Node) -> tuple[LevelName, Text | None]:
    if isinstance(node, MappingNode):
        items = reader.mapping(node, ("level", "explain"))
        level = reader.scalar(items["level"][1]) if "level" in items else None
        explain = reader.text(items["explain"][1], str(level)) if "explain" in items else None
        where = items["level"][1] if "level" in items else node
    else:
        level, explain, where = reader.scalar(node), None, node
    if level not in LEVELS:
        reader.problems.add(where, with_params(UNKNOWN_LEVEL, name=level), suggestion(str(level), LEVELS))
        return "unknown", None
    return level, explain


def check_ruleset(
    text: str,
    *,
    source: str = "<rules>",
    fields: FieldCatalog | None = None,
    mapping: FieldMapping | None = None,
) -> list[RuleIssue]:
    """Every problem in a rule file (empty when it can be activated), with line, column and a fix hint.

    With `fields` (the account's catalog) and no `mapping`, role fields are checked against the proposal a
    catalog gives; with a `mapping`, they are bound to its fields (see `rules.usage.unmapped_roles`).
    """
    try:
        _, issues = _parse(text, source, fields, mapping)
    except RecursionError:
        return [RuleIssue(source, 1, 1, TOO_DEEP, with_params(TOO_DEEP_HINT, limit=MAX_NESTING))]
    return issues


def load_ruleset(
    text: str,
    *,
    source: str = "<rules>",
    fields: FieldCatalog | None = None,
    mapping: FieldMapping | None = None,
) -> RuleSet:
    """A compiled rule set; raises `RuleFileError` listing every issue when the file cannot be used.

    `mapping` binds role fields to the account's fields by id; a role it leaves out reads as *not mapped*.
    """
    try:
        ruleset, issues = _parse(text, source, fields, mapping)
    except RecursionError:
        issues = [RuleIssue(source, 1, 1, TOO_DEEP, with_params(TOO_DEEP_HINT, limit=MAX_NESTING))]
        ruleset = None
    if ruleset is None:
        raise RuleFileError(issues)
    return ruleset
