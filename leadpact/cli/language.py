"""The command line speaks the chosen language (LEADPACT_LANGUAGE): help texts, panel titles and the framework's
own errors ("Missing option …").

Help texts are written once in both languages, "Русский / English" (or the other way round), next to the option
they describe; `localise_help` keeps the side in the chosen language. The framework's messages (Typer's copy of
click) are English f-strings, so `translate_usage_error` reads them back by pattern and says them in Russian.
"""

from __future__ import annotations

import re
from typing import Any

from integration.i18n import Language

_CYRILLIC = re.compile(r"[А-Яа-яЁё]")
_SEPARATOR = " / "


def choose_side(text: str | None, lang: Language) -> str | None:
    """The half of a bilingual "ru / en" (or "en / ru") help text in `lang`; other texts unchanged."""
    if not text or _SEPARATOR not in text:
        return text
    parts = text.split(_SEPARATOR)
    for cut in range(1, len(parts)):
        left, right = _SEPARATOR.join(parts[:cut]), _SEPARATOR.join(parts[cut:])
        left_ru, right_ru = bool(_CYRILLIC.search(left)), bool(_CYRILLIC.search(right))
        if left_ru != right_ru:
            russian, english = (left, right) if left_ru else (right, left)
            chosen = russian if lang == "ru" else english
            return chosen.strip()
    return text


def localise_help(command: Any, lang: Language) -> None:
    """Walks the command tree and keeps each help text's side in `lang`; in Russian also the framework's own
    lines: the "Usage:" prefix, the "[OPTIONS]"/"COMMAND [ARGS]..." placeholders and the --help option's text."""
    for attribute in ("help", "short_help"):
        setattr(command, attribute, choose_side(getattr(command, attribute, None), lang))
    for param in getattr(command, "params", ()):
        if getattr(param, "help", None):
            param.help = choose_side(param.help, lang)
    if lang == "ru":
        _russian_framework_lines(command)
    for sub in (getattr(command, "commands", None) or {}).values():
        localise_help(sub, lang)


USAGE_PREFIX_RU = "Использование: "
OPTIONS_METAVAR_RU = "[ПАРАМЕТРЫ]"
SUBCOMMAND_METAVAR_RU = "КОМАНДА [АРГУМЕНТЫ]..."


def _russian_framework_lines(command: Any) -> None:
    """The command's usage line and --help text in Russian, through the framework's per-command attributes."""
    from typer._click.core import Context
    from typer._click.formatting import HelpFormatter

    class _RussianFormatter(HelpFormatter):
        def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
            super().write_usage(prog, args, USAGE_PREFIX_RU if prefix is None else prefix)

    class _RussianContext(command.context_class):  # type: ignore[misc]
        formatter_class = _RussianFormatter

    if isinstance(command.context_class, type) and issubclass(command.context_class, Context):
        command.context_class = _RussianContext
    if getattr(command, "options_metavar", None) == "[OPTIONS]":
        command.options_metavar = OPTIONS_METAVAR_RU
    if getattr(command, "subcommand_metavar", None) == "COMMAND [ARGS]...":
        command.subcommand_metavar = SUBCOMMAND_METAVAR_RU
    if hasattr(command, "get_help_option"):
        help_option = command.get_help_option(Context(command))
        if help_option is not None:
            help_option.help = HELP_OPTION_RU


# The framework's English messages, as Typer's click copy words them, and how they read in Russian.
_RUSSIAN_ERRORS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^Missing option (.+?)\.(.*)$", re.S), r"Не указан обязательный параметр \1.\2"),
    (re.compile(r"^Missing argument (.+?)\.(.*)$", re.S), r"Не указан обязательный аргумент \1.\2"),
    (re.compile(r"^Missing parameter:? ?(.*?)\.?$", re.S), r"Не указан обязательный параметр \1."),
    (
        re.compile(r"^No such option: (\S+?)\s*\(Possible options: (.+)\)$", re.S),
        r"Нет параметра \1 (есть: \2)",
    ),
    (
        re.compile(r"^No such option: (\S+?)\s*Did you mean (\S+?)\?$", re.S),
        r"Нет параметра \1. Может быть, \2?",
    ),
    (re.compile(r"^No such option: (.+)$", re.S), r"Нет параметра \1."),
    (re.compile(r"^No such command (.+?)\.$", re.S), r"Нет команды \1."),
    (re.compile(r"^Option (.+?) requires an argument\.$", re.S), r"Параметру \1 нужно значение."),
    (re.compile(r"^Option (.+?) requires (\d+) arguments\.$", re.S), r"Параметру \1 нужно значений: \2."),
    (re.compile(r"^Got unexpected extra arguments? \((.*)\)$", re.S), r"Лишние аргументы: \1."),
    (re.compile(r"^Invalid value for (.+?): (.*)$", re.S), r"Неверное значение \1: \2"),
    (re.compile(r"^Invalid value: (.*)$", re.S), r"Неверное значение: \1"),
)
_RUSSIAN_DETAILS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(\S+) is not a valid integer(?: range)?\."), r"\1 — не целое число."),
    (re.compile(r"(\S+) is not a valid float(?: range)?\."), r"\1 — не число."),
    (re.compile(r"(\S+) is not a valid boolean\."), r"\1 — не да/нет (true/false)."),
    (re.compile(r"(\S+) is not one of (.+)\."), r"\1 — не одно из: \2."),
    (re.compile(r"Path (\S+) does not exist\."), r"Путь \1 не существует."),
    (re.compile(r"Input should be a valid integer[^.]*"), "нужно целое число"),
    (re.compile(r"Input should be a valid number[^.]*"), "нужно число"),
    (re.compile(r"Input should be a valid boolean[^.]*"), "нужно да/нет (true/false)"),
    (re.compile(r"File (\S+) does not exist\."), r"Файл \1 не существует."),
)


def translate_usage_error(message: str, lang: Language) -> str:
    """The framework's usage error in `lang` (English messages pass through unchanged)."""
    if lang == "en":
        return message
    translated = message
    for pattern, replacement in _RUSSIAN_ERRORS:
        if pattern.match(message):
            translated = pattern.sub(replacement, message, count=1)
            break
    for pattern, replacement in _RUSSIAN_DETAILS:
        translated = pattern.sub(replacement, translated)
    return translated


RICH_TITLES_RU = {
    "ARGUMENTS_PANEL_TITLE": "Аргументы",
    "OPTIONS_PANEL_TITLE": "Параметры",
    "COMMANDS_PANEL_TITLE": "Команды",
    "ERRORS_PANEL_TITLE": "Ошибка",
    "ABORTED_TEXT": "Прервано.",
    "RICH_HELP": "Подсказка: [blue]'{command_path} {help_option}'[/]",
    "DEFAULT_STRING": "[по умолчанию: {}]",
    "REQUIRED_LONG_STRING": "[обязательно]",
    "DEPRECATED_STRING": "(устарело) ",
}
HELP_OPTION_RU = "Показать эту справку и выйти."
