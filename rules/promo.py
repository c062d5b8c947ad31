"""What a promo is, what a lead looks like to a promo condition, and what a match tells the sales rep.

Pure values only: no database, no HTTP. A promo condition is a `rule-engine` expression (the same language as
the lead rules) over the facts of `lead_facts`: the classification (`channel`, `level`, `qualified`,
`experimental`), the lead's own numbers (`pipeline_id`, `status_id`, `price`, `responsible_user_id`), its
`tags`, and every coded custom field by its lower-cased code (`utm_source`, `utm_campaign`, `product`, …).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol


class ClassificationLike(Protocol):
    """The part of `rules.Classification` a promo condition may look at."""

    @property
    def channel(self) -> str | None: ...

    @property
    def level(self) -> str | None: ...

    @property
    def qualified(self) -> bool | None: ...


@dataclass(frozen=True, slots=True)
class Promo:
    """A promotion marketing runs: who it applies to, when, and the code the rep hands out."""

    key: str
    name: str
    description: str = ""
    condition: str = ""
    shared_code: str | None = None
    uses_coupon_pool: bool = False
    starts_on: date | None = None
    ends_on: date | None = None

    def is_running_on(self, day: date) -> bool:
        if self.starts_on is not None and day < self.starts_on:
            return False
        return self.ends_on is None or day <= self.ends_on


@dataclass(frozen=True, slots=True)
class PromoMatch:
    """A promo that applies to a lead now; a unique coupon (when the promo has a pool) is issued apart."""

    key: str
    name: str
    description: str
    shared_code: str | None
    uses_coupon_pool: bool
    ends_on: date | None

    @classmethod
    def of(cls, promo: Promo) -> PromoMatch:
        return cls(
            key=promo.key,
            name=promo.name,
            description=promo.description,
            shared_code=promo.shared_code,
            uses_coupon_pool=promo.uses_coupon_pool,
            ends_on=promo.ends_on,
        )


# amoCRM answers with these statuses in every pipeline; a closed lead gets no new promos or tags.
WON_STATUS_ID = 142
LOST_STATUS_ID = 143


def lead_facts(classification: ClassificationLike | None, lead: Mapping[str, Any]) -> dict[str, Any]:
    """The symbols a promo condition can use, from the classification and the v4 lead JSON."""
    facts: dict[str, Any] = {}
    for field in lead.get("custom_fields_values") or ():
        code = field.get("field_code")
        values = field.get("values") or ()
        if code and values:
            facts[str(code).lower()] = values[0].get("value")
    for key in ("pipeline_id", "status_id", "price", "responsible_user_id"):
        facts[key] = lead.get(key)
    tags: Sequence[Mapping[str, Any]] = (lead.get("_embedded") or {}).get("tags") or ()
    facts["tags"] = tuple(str(tag.get("name")) for tag in tags if tag.get("name"))
    facts["channel"] = classification.channel if classification else None
    facts["level"] = classification.level if classification else None
    facts["qualified"] = classification.qualified if classification else None
    facts["experimental"] = bool(getattr(classification, "experimental", False))
    return facts


def today_of(now: datetime) -> date:
    """Promo dates are calendar days; `now` carries its own time zone (UTC in the service)."""
    return now.date()
