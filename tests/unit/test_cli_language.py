"""The command line speaks LEADPACT_LANGUAGE: help texts and the framework's own errors."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from leadpact.cli.language import HELP_OPTION_RU, choose_side, localise_help, translate_usage_error

CLI = [sys.executable, "-c", "from leadpact.cli import main; main()"]


def _run(lang: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AMOCRM_", "DATABASE_URL"))}
    env |= {"LEADPACT_LANGUAGE": lang, "COLUMNS": "120", "NO_COLOR": "1", "TERM": "dumb"}
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=60)


class TestHelpSides:
    def test_bilingual_help_keeps_the_chosen_side_whichever_comes_first(self) -> None:
        """ "Порт / Port" and "Port / порт" both read "Port" in English and the Russian half in Russian."""
        assert choose_side("Запустить LeadPact / Run LeadPact", "en") == "Run LeadPact"
        assert choose_side("Interface to listen on / адрес", "ru") == "адрес"
        assert choose_side("demo | realistic (by hand) / demo | realistic (вручную)", "en") == (
            "demo | realistic (by hand)"
        )
        assert choose_side("amoCRM account id", "ru") == "amoCRM account id"

    def test_framework_errors_in_russian_and_unchanged_in_english(self) -> None:
        """ "Missing option" and a bad integer read in Russian for a Russian install, as they were for English."""
        assert translate_usage_error("Missing option '--period'.", "ru") == (
            "Не указан обязательный параметр '--period'."
        )
        assert translate_usage_error("Invalid value for '--leads': 'x' is not a valid integer.", "ru") == (
            "Неверное значение '--leads': 'x' — не целое число."
        )
        assert translate_usage_error("Missing option '--period'.", "en") == "Missing option '--period'."

    def test_usage_line_and_help_option_in_russian_and_untouched_in_english(self) -> None:
        """The framework's own "Usage: … [OPTIONS] COMMAND [ARGS]..." and "Show this message and exit." read in
        Russian for a Russian install, in every sub-command, and stay English for an English one."""
        import typer

        from leadpact.cli import app

        for lang, usage, help_text, account in (
            (
                "ru",
                "Использование: rules [ПАРАМЕТРЫ] КОМАНДА [АРГУМЕНТЫ]...",
                HELP_OPTION_RU,
                "Номер аккаунта amoCRM",
            ),
            (
                "en",
                "Usage: rules [OPTIONS] COMMAND [ARGS]...",
                "Show this message and exit.",
                "amoCRM account id",
            ),
        ):
            command = typer.main.get_command(app)
            localise_help(command, lang)
            rules = command.commands["rules"]  # type: ignore[attr-defined]
            assert rules.get_usage(rules.make_context("rules", [], resilient_parsing=True)).strip() == usage
            diff = rules.commands["diff"]
            diff_context = diff.make_context("diff", ["1", "2", "--account", "1"])
            assert diff.get_usage(diff_context).startswith(usage.split(" ")[0] + " diff ")
            assert diff.get_help_option(diff_context).help == help_text
            assert [p.help for p in diff.params if p.name == "account"] == [account]


@pytest.mark.slow
class TestCommandLine:
    def test_help_and_a_missing_option_follow_leadpact_language(self) -> None:
        """`leadpact serve --help` has no Russian in English and Russian panels in Russian; a missing option is
        refused in the chosen language with exit code 2."""
        english = _run("en", "serve", "--help")
        assert english.returncode == 0 and "Run LeadPact" in english.stdout
        assert "Запустить" not in english.stdout and "порт" not in english.stdout
        russian = _run("ru", "serve", "--help")
        assert "Запустить LeadPact" in russian.stdout and "Параметры" in russian.stdout
        assert "Run LeadPact" not in russian.stdout
        refused = _run("ru", "plan", "set")
        assert refused.returncode == 2 and "Не указан обязательный параметр '--period'" in refused.stderr
        assert "Использование:" in russian.stdout and "Показать эту справку и выйти." in russian.stdout
        assert "Usage:" not in russian.stdout and "Show this message" not in russian.stdout
        refused_en = _run("en", "plan", "set")
        assert refused_en.returncode == 2 and "Missing option '--period'" in refused_en.stderr
