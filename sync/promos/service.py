"""Promos at the edge: storing imported definitions, and what a lead evaluation writes back.

The worker calls `promo_fields_for_lead` on every lead evaluation (it opens its own short transaction), adds
`sync.promos.writeback.plan_promo_field_values(...)` to the lead's PATCH, and posts `note(lang)` when a promo
starts applying. Keep one `PromoBook` per batch (`load_promo_book`) so conditions are compiled once, not per
lead. `enqueue_leads_with_ended_promos` runs on a schedule so ended promos leave the leads' fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from integration.db import session_scope
from integration.i18n import Language, Text
from integration.storage import inbox as inbox_store
from integration.storage import promos as store
from rules.promo import LOST_STATUS_ID, WON_STATUS_ID, ClassificationLike, PromoMatch, today_of
from sync.promos.importing import CODE_TAKEN, PromoFile, RowError
from sync.promos.matching import PromoBook, compile_promos, format_active_promos, match_promos

POOL_EMPTY = Text(
    ru="Акция «{name}»: купоны закончились — сделка {lead_id} осталась без купона. Загрузите новые коды.",
    en="Promo “{name}”: the coupon pool is empty — lead {lead_id} got no coupon. Upload more codes.",
)
PROMO_STARTED_NOTE = Text(
    ru="LeadPact: к сделке применима акция «{name}». {details}",
    en="LeadPact: promo “{name}” now applies to this lead. {details}",
)
SHARED_CODE = Text(ru="Промокод: {code}.", en="Promo code: {code}.")
COUPON = Text(ru="Персональный купон: {code}.", en="Personal coupon: {code}.")
ENDS = Text(ru="Действует до {date}.", en="Valid until {date}.")


@dataclass(frozen=True, slots=True)
class ImportOutcome:
    promos_saved: int
    coupons_added: int
    errors: tuple[RowError, ...]

    @property
    def ok(self) -> bool:
        return not self.errors


def import_promos(
    *,
    session: Session,
    account_id: int,
    promo_file: PromoFile,
    now: int,
    source: str = store.PromoSource.IMPORT,
) -> ImportOutcome:
    """Stores every promo of a valid file, or nothing at all when any row has a problem.

    Besides the file's own problems, a code already owned by another stored promo is refused. Call inside one
    unit of work, so a failure half-way also stores nothing.
    """
    errors = list(promo_file.errors)
    all_codes = [code for d in promo_file.definitions for code in d.coupon_codes]
    owners = store.codes_in_use(session=session, account_id=account_id, codes=all_codes)
    for definition in promo_file.definitions:
        for code in definition.coupon_codes:
            owner = owners.get(code)
            if owner is not None and owner != definition.promo.key:
                errors.append(
                    RowError(definition.row, "coupons", CODE_TAKEN, {"value": code, "other": owner})
                )
    if errors:
        return ImportOutcome(0, 0, tuple(sorted(errors, key=lambda error: error.row)))
    added = 0
    for definition in promo_file.definitions:
        record = store.save_promo(
            session=session, account_id=account_id, promo=definition.promo, source=source, now=now
        )
        assert record.id is not None
        added += store.add_coupon_codes(
            session=session, account_id=account_id, promo_id=record.id, codes=definition.coupon_codes
        )
    return ImportOutcome(len(promo_file.definitions), added, ())


def load_promo_book(*, engine: Engine, account_id: int, now: datetime) -> PromoBook:
    """The account's running promos, compiled and indexed (build once per worker batch, not per lead)."""
    with session_scope(engine) as session:
        promos = store.load_running_promos(session=session, account_id=account_id, today=today_of(now))
    return compile_promos(promos)


@dataclass(frozen=True, slots=True)
class PoolEmpty:
    """A visible warning: the lead should have had a coupon but the pool is used up."""

    promo_key: str
    promo_name: str
    lead_id: int

    def message(self, lang: Language = "ru") -> str:
        return POOL_EMPTY(lang, name=self.promo_name, lead_id=self.lead_id)


@dataclass(frozen=True, slots=True)
class PromoFields:
    """What one evaluation writes to the lead: the "Active promos" and "Coupon" field values, and a note."""

    active_promos: str
    coupon: str | None
    matches: tuple[PromoMatch, ...]
    started: tuple[PromoMatch, ...]
    coupons_by_promo: Mapping[str, str]
    warnings: tuple[PoolEmpty, ...]

    def note(self, lang: Language = "ru") -> str | None:
        """The note announcing the promos that started applying with this evaluation (None if none did)."""
        if not self.started:
            return None
        paragraphs = []
        for match in self.started:
            details = []
            if match.shared_code:
                details.append(SHARED_CODE(lang, code=match.shared_code))
            if match.key in self.coupons_by_promo:
                details.append(COUPON(lang, code=self.coupons_by_promo[match.key]))
            if match.ends_on:
                details.append(ENDS(lang, date=match.ends_on.strftime("%d.%m.%Y")))
            details.append(match.description)
            paragraphs.append(
                PROMO_STARTED_NOTE(lang, name=match.name, details=" ".join(d for d in details if d))
            )
        return "\n".join(paragraphs)


def is_closed(lead: Mapping[str, Any]) -> bool:
    return lead.get("status_id") in (WON_STATUS_ID, LOST_STATUS_ID)


def promo_fields_for_lead(
    *,
    engine: Engine,
    account_id: int,
    lead_id: int,
    classification: ClassificationLike | None,
    lead: Mapping[str, Any],
    now: datetime,
    book: PromoBook | None = None,
) -> PromoFields:
    """Matches the lead against the running promos, issues its coupons and remembers what applies now.

    Runs its own short transaction per lead: coupon rows stay locked only for this lead's issuing, so
    several workers never wait on (or deadlock with) each other's whole batches. A coupon issued here stays
    issued even if the caller's later write to amoCRM fails; the next evaluation finds and writes the same one.
    A closed (won/lost) lead keeps the coupons it already has but is issued no new ones.
    """
    book = book if book is not None else load_promo_book(engine=engine, account_id=account_id, now=now)
    matches = match_promos(book, classification, lead, now)
    unix_now = int(now.timestamp())
    coupons: dict[str, str] = {}
    warnings: list[PoolEmpty] = []
    closed = is_closed(lead)
    with session_scope(engine) as session:
        started_keys = set(
            store.record_lead_promos(
                session=session,
                account_id=account_id,
                lead_id=lead_id,
                promo_keys=[m.key for m in matches],
                now=unix_now,
            )
        )
        for match in matches:
            if not match.uses_coupon_pool:
                continue
            record = store.get_promo(session=session, account_id=account_id, key=match.key)
            if record is None or record.id is None:
                continue
            if closed:
                code = store.issued_code(
                    session=session, account_id=account_id, promo_id=record.id, lead_id=lead_id
                )
            else:
                code = store.issue_coupon(
                    session=session, account_id=account_id, promo_id=record.id, lead_id=lead_id, now=unix_now
                )
                if code is None:
                    # Returned, not logged here: the caller logs it once, in the account's language.
                    warnings.append(PoolEmpty(match.key, match.name, lead_id))
            if code is not None:
                coupons[match.key] = code
    return PromoFields(
        active_promos=format_active_promos(matches),
        coupon=", ".join(coupons.values()) or None,
        matches=tuple(matches),
        started=tuple(match for match in matches if match.key in started_keys),
        coupons_by_promo=coupons,
        warnings=tuple(warnings),
    )


def enqueue_leads_with_ended_promos(*, engine: Engine, account_id: int, now: datetime) -> int:
    """Asks the worker to re-evaluate leads still showing an ended or archived promo; returns how many.

    Run on a schedule (e.g. daily just after midnight): the events carry no timestamp, so the worker never
    mistakes them for stale duplicates and always re-reads the lead, dropping the ended promo from its fields.
    """
    with session_scope(engine) as session:
        lead_ids = store.leads_with_ended_promos(session=session, account_id=account_id, today=today_of(now))
        inbox_store.enqueue_lead_updates(
            session=session, account_id=account_id, lead_ids=lead_ids, source="promos", now=now.timestamp()
        )
    return len(lead_ids)
