"""Every page picks its language by one rule: `?lang=`, then LEADPACT_LANGUAGE when set, then the browser."""

from __future__ import annotations

from integration.i18n import choose_language


class TestChooseLanguage:
    def test_explicit_lang_parameter_wins(self) -> None:
        """`?lang=en` shows English even to a Russian browser on a Russian install, and vice versa."""
        assert choose_language("en", "ru-RU,ru;q=0.9", "ru") == "en"
        assert choose_language("ru", "en-US", "en") == "ru"

    def test_browser_preference_then_configured_default(self) -> None:
        """Without `?lang` and without LEADPACT_LANGUAGE, an English browser gets English; otherwise Russian."""
        assert choose_language(None, "en-GB,en;q=0.8", "ru") == "en"
        assert choose_language(None, "de-DE", "ru") == "ru"
        assert choose_language("fr", "", "en") == "en"

    def test_configured_language_beats_the_browser(self) -> None:
        """With LEADPACT_LANGUAGE set, an English browser still gets the configured Russian; `?lang=` still wins."""
        assert choose_language(None, "en-US,en;q=0.9", "ru", default_is_set=True) == "ru"
        assert choose_language("en", "ru-RU", "ru", default_is_set=True) == "en"
        assert choose_language(None, "ru-RU", "en", default_is_set=True) == "en"
