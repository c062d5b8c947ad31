"""Reading a rule file as YAML nodes that remember their line and column, and collecting the issues found."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any, Final

import yaml
from yaml.nodes import Node, ScalarNode

from rules.i18n import Text
from rules.model import RuleIssue

MAX_RULE_FILE_BYTES: Final = 1_000_000
# libyaml's loader is ~15x faster and keeps the same line/column marks; the pure-Python one is the fallback.
_LOADER: Final[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# Deeply nested conditions would only come from a generated or hostile file; refuse them instead of recursing.
MAX_NESTING: Final = 40

TOO_LARGE = Text(
    ru="файл правил слишком большой: {size} байт, допустимо не больше {limit}",
    en="rule file is too large: {size} bytes, at most {limit} allowed",
)
TOO_LARGE_HINT = Text(
    ru="правила одного аккаунта умещаются в несколько килобайт; проверьте, тот ли это файл",
    en="one account's rules fit in a few kilobytes; check that this is the right file",
)
BAD_YAML = Text(ru="ошибка синтаксиса YAML: {problem}", en="YAML syntax error: {problem}")
BAD_YAML_HINT = Text(
    ru="проверьте отступы (пробелы, не табы), двоеточия и кавычки",
    en="check indentation (spaces, not tabs), colons and quotes",
)
EMPTY_FILE = Text(ru="файл правил пуст", en="the rule file is empty")
EMPTY_FILE_HINT = Text(
    ru="начните с примера: leadpact rules show-default",
    en="start from the example: leadpact rules show-default",
)
MULTIPLE_DOCS = Text(ru="в файле несколько YAML-документов", en="the file holds several YAML documents")
MULTIPLE_DOCS_HINT = Text(ru="оставьте один документ (уберите '---')", en="keep one document (remove '---')")
DID_YOU_MEAN = Text(ru="возможно, вы имели в виду «{guess}»", en="did you mean '{guess}'?")
ALLOWED = Text(ru="допустимо: {choices}", en="allowed: {choices}")


def with_params(text: Text, **params: Any) -> Text:
    """A text with its placeholders filled in both languages (`Text` parameters are localised too)."""
    ru = {key: value("ru") if isinstance(value, Text) else value for key, value in params.items()}
    en = {key: value("en") if isinstance(value, Text) else value for key, value in params.items()}
    return Text(ru=text("ru", **ru), en=text("en", **en))


class Problems:
    """Collects issues for one file; every issue names the node's line and column (1-based)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.issues: list[RuleIssue] = []

    def add(self, node: Node | None, message: Text, hint: Text) -> None:
        line, column = (node.start_mark.line + 1, node.start_mark.column + 1) if node is not None else (1, 1)
        self.issues.append(RuleIssue(self.source, line, column, message, hint))

    def add_at(self, line: int, column: int, message: Text, hint: Text) -> None:
        self.issues.append(RuleIssue(self.source, line, column, message, hint))


def suggestion(word: str, choices: Iterable[str]) -> Text:
    """A fix hint naming the closest allowed word, or listing the allowed words."""
    options = sorted(set(choices))
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if close:
        return with_params(DID_YOU_MEAN, guess=close[0])
    return with_params(ALLOWED, choices=", ".join(options[:25]))


def _problem_text(error: yaml.YAMLError) -> str:
    problem = getattr(error, "problem", None) or getattr(error, "context", None) or str(error)
    return str(problem)


def compose(text: str, problems: Problems) -> Node | None:
    """The YAML node tree of `text`, or None after recording why it cannot be read."""
    size = len(text.encode("utf-8", errors="replace"))
    if size > MAX_RULE_FILE_BYTES:
        problems.add(None, with_params(TOO_LARGE, size=size, limit=MAX_RULE_FILE_BYTES), TOO_LARGE_HINT)
        return None
    try:
        documents = list(yaml.compose_all(text, Loader=_LOADER))
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        problems.add_at(line, column, with_params(BAD_YAML, problem=_problem_text(error)), BAD_YAML_HINT)
        return None
    except (yaml.YAMLError, RecursionError, ValueError) as error:
        problem = _problem_text(error) if isinstance(error, yaml.YAMLError) else type(error).__name__
        problems.add(None, with_params(BAD_YAML, problem=problem), BAD_YAML_HINT)
        return None
    documents = [doc for doc in documents if doc is not None]
    if not documents:
        problems.add(None, EMPTY_FILE, EMPTY_FILE_HINT)
        return None
    if len(documents) > 1:
        problems.add(documents[1], MULTIPLE_DOCS, MULTIPLE_DOCS_HINT)
        return None
    return documents[0]


def scalar_value(node: ScalarNode) -> Any:
    """The Python value of a scalar node, as PyYAML's safe loader builds it (int, float, bool, str…)."""
    constructor = yaml.constructor.SafeConstructor()
    build = yaml.constructor.SafeConstructor.yaml_constructors.get(node.tag)
    if build is None:
        return node.value
    try:
        return build(constructor, node)
    except (yaml.YAMLError, ValueError, OverflowError):
        return node.value


def key_text(node: Node) -> str:
    return str(node.value) if isinstance(node, ScalarNode) else ""
