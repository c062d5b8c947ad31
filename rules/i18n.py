"""Every text a user sees exists in Russian and English: the `Text` type and the languages we speak.

It lives in `rules`, the lowest layer, because rule explanations are texts and `rules` imports nothing of
LeadPact outside itself; every other layer imports it from here or through `integration.i18n`.
Texts are constants declared next to the code that shows them (`Text(ru=..., en=...)`); there is no registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Language = Literal["ru", "en"]
LANGUAGES: tuple[Language, ...] = ("ru", "en")


@dataclass(frozen=True, slots=True)
class Text:
    ru: str
    en: str

    def __call__(self, lang: Language = "ru", /, **params: Any) -> str:
        template = self.ru if lang == "ru" else self.en
        return template.format(**params) if params else template

    def both(self, **params: Any) -> dict[Language, str]:
        return {"ru": self("ru", **params), "en": self("en", **params)}
