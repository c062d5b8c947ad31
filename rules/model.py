"""The values the rule engine hands out: issues found in a rule file, and the classification of a lead."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

from rules.i18n import LANGUAGES, Language, Text

LevelName = Literal["hot", "warm", "cold", "unknown"]
LEVELS: tuple[LevelName, ...] = ("hot", "warm", "cold")
CriterionStatus = Literal["met", "failed", "unknown"]
FieldType = Literal["number", "boolean", "text", "date"]
FIELD_TYPES: tuple[FieldType, ...] = ("number", "boolean", "text", "date")


@dataclass(frozen=True, slots=True)
class RuleIssue:
    """One problem in a rule file, pointing at the place to fix (1-based line and column)."""

    file: str
    line: int
    column: int
    message: Text
    hint: Text

    def format(self, lang: Language = "en") -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message(lang)} ({self.hint(lang)})"

    def __str__(self) -> str:
        return self.format("en")


class RuleFileError(ValueError):
    """A rule file that cannot be used; `issues` lists every problem found, each with line and column."""

    def __init__(self, issues: list[RuleIssue]) -> None:
        self.issues = tuple(issues)
        first = str(issues[0]) if issues else "invalid rule file"
        more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
        super().__init__(first + more)


@dataclass(frozen=True, slots=True)
class CatalogField:
    """One custom field of an amoCRM account as its custom-field list describes it."""

    id: int
    name: str
    type: str
    code: str | None = None
    enums: Mapping[int, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FieldCatalog:
    """The lead fields an account has; callers build it from amoCRM's `GET /api/v4/leads/custom_fields`."""

    fields: tuple[CatalogField, ...]

    def by_code(self, code: str) -> CatalogField | None:
        wanted = code.upper()
        return next((f for f in self.fields if f.code and f.code.upper() == wanted), None)

    def by_name(self, name: str) -> CatalogField | None:
        wanted = name.strip().casefold()
        return next((f for f in self.fields if f.name.strip().casefold() == wanted), None)

    @classmethod
    def from_amocrm(cls, custom_fields: list[Mapping[str, object]]) -> FieldCatalog:
        """Build from the raw `_embedded.custom_fields` items of amoCRM's API (tolerates missing keys)."""
        result = []
        for item in custom_fields:
            raw_enums = item.get("enums") or []
            enums: dict[int, str] = {}
            if isinstance(raw_enums, list):
                for enum in raw_enums:
                    if isinstance(enum, Mapping) and isinstance(enum.get("id"), int):
                        enums[int(enum["id"])] = str(enum.get("value", ""))
            field_id = item.get("id")
            if not isinstance(field_id, int):
                continue
            code = item.get("code")
            result.append(
                CatalogField(
                    id=field_id,
                    name=str(item.get("name") or ""),
                    type=str(item.get("type") or "text"),
                    code=str(code) if code else None,
                    enums=enums,
                )
            )
        return cls(fields=tuple(result))


class LazyText(Mapping[str, str]):
    """A ru/en text rendered on first read of each language, then kept.

    Classifying is hot (every webhook, every backtest row) while explanations are read far less often, and
    usually in one language; deferring the rendering keeps evaluation fast without changing what callers see.
    Subclasses may override `render` instead of passing a callable (one object per text, no closure).
    """

    __slots__ = ("_en", "_render", "_ru")

    def __init__(self, render: Callable[[Language], str]) -> None:
        self._render = render
        self._ru: str | None = None
        self._en: str | None = None

    def render(self, lang: Language) -> str:
        return self._render(lang)

    def __getitem__(self, lang: str) -> str:
        if lang == "ru":
            text = self._ru
            if text is None:
                text = self._ru = self.render("ru")
            return text
        if lang == "en":
            text = self._en
            if text is None:
                text = self._en = self.render("en")
            return text
        raise KeyError(lang)

    def __iter__(self) -> Iterator[str]:
        return iter(LANGUAGES)

    def __len__(self) -> int:
        return len(LANGUAGES)

    def __repr__(self) -> str:
        return repr(dict(self))


@dataclass(frozen=True, slots=True)
class CriterionResult:
    """One qualification criterion (e.g. budget) for a lead: met, failed, or unknown (a field is empty)."""

    name: str
    status: CriterionStatus
    detail: Mapping[str, str]
    fields_filled: int
    fields_total: int

    @property
    def complete(self) -> bool:
        return self.fields_filled == self.fields_total


@dataclass(frozen=True, slots=True)
class Classification:
    """What the rules made of a lead, with one line a sales rep can read (`explanation["ru"|"en"]`)."""

    channel: str
    experimental: bool
    level: LevelName
    qualified: bool
    criteria: tuple[CriterionResult, ...]
    explanation: Mapping[str, str]
    rule_version: int
    criteria_met: int = 0
    criteria_required: int = 0
    level_explanation: Mapping[str, str] = field(default_factory=dict)
    qualified_explanation: Mapping[str, str] = field(default_factory=dict)

    def reason(self, lang: Language = "ru") -> str:
        return self.explanation.get(lang) or self.explanation.get("en", "")

    @property
    def completeness(self) -> float:
        """Share of criteria whose fields were all filled (1.0 when there are no criteria)."""
        if not self.criteria:
            return 1.0
        return sum(1 for c in self.criteria if c.complete) / len(self.criteria)

    @property
    def criteria_unknown(self) -> int:
        return sum(1 for c in self.criteria if c.status == "unknown")
