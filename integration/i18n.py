"""Every text a user sees exists in Russian and English.

Texts are constants declared next to the code that shows them (`Text(ru=..., en=...)`); there is no registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Language = Literal["ru", "en"]
LANGUAGES: tuple[Language, ...] = ("ru", "en")


def choose_language(requested: str | None, accept_language: str, default: Language) -> Language:
    """A page's language: `?lang=` when it names one we speak, else the browser's preference, else the default."""
    if requested in LANGUAGES:
        return "en" if requested == "en" else "ru"
    if accept_language.lower().startswith("en"):
        return "en"
    return default


@dataclass(frozen=True, slots=True)
class Text:
    ru: str
    en: str

    def __call__(self, lang: Language = "ru", /, **params: Any) -> str:
        template = self.ru if lang == "ru" else self.en
        return template.format(**params) if params else template

    def both(self, **params: Any) -> dict[Language, str]:
        return {"ru": self("ru", **params), "en": self("en", **params)}
