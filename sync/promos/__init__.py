"""Promos, coupons and event attendees: what marketing runs, matched to each lead and shown to the rep.

Pure: `rules.promo` (the `Promo` model, moved to the domain layer), `matching`, `importing`, `events`, `tabular`, the planning half of `catalog` — the names below.
Edge (database or amoCRM), imported from their modules: `sync.promos.service` (`import_promos`,
`load_promo_book`, `promo_fields_for_lead`), `sync.promos.event_import`, `sync.promos.catalog.sync_promo_catalog`.
`integration.storage` uses `rules.promo`, never this package (the layers in `.importlinter`).
"""

from rules.promo import Promo, PromoMatch, lead_facts
from sync.promos.matching import PromoBook, compile_promos, format_active_promos, match_promos

__all__ = [
    "Promo",
    "PromoBook",
    "PromoMatch",
    "compile_promos",
    "format_active_promos",
    "lead_facts",
    "match_promos",
]
