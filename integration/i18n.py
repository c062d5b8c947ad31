"""Every text a user sees exists in Russian and English.

`Text` and `Language` live in `rules.i18n` (the lowest layer, so the pure rule engine can use them); they are
re-exported here for the layers above. Choosing a page's language from a request belongs here.
"""

from __future__ import annotations

from rules.i18n import LANGUAGES, Language, Text

__all__ = ["LANGUAGES", "Language", "Text", "choose_language"]


def choose_language(requested: str | None, accept_language: str, default: Language) -> Language:
    """A page's language: `?lang=` when it names one we speak, else the browser's preference, else the default."""
    if requested in LANGUAGES:
        return "en" if requested == "en" else "ru"
    if accept_language.lower().startswith("en"):
        return "en"
    return default
