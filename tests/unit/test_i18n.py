"""Every page picks its language the same way: explicit choice, then the browser, then the setting."""

from __future__ import annotations

from integration.i18n import choose_language


class TestChooseLanguage:
    def test_explicit_lang_parameter_wins(self) -> None:
        """`?lang=en` shows English even to a Russian browser on a Russian install, and vice versa."""
        assert choose_language("en", "ru-RU,ru;q=0.9", "ru") == "en"
        assert choose_language("ru", "en-US", "en") == "ru"

    def test_browser_preference_then_configured_default(self) -> None:
        """Without `?lang`, an English browser gets English; otherwise the install's language."""
        assert choose_language(None, "en-GB,en;q=0.8", "ru") == "en"
        assert choose_language(None, "de-DE", "ru") == "ru"
        assert choose_language("fr", "", "en") == "en"
