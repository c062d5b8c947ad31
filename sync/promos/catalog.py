"""The amoCRM catalog "LeadPact promos": provisioned by LeadPact, kept in step with our promos both ways.

Marketers edit promos where they already work. Each element is one promo: its name is the promo's name, and
custom fields (found by code) hold the key, description, condition, shared code, coupons and dates.

Sync is a three-way merge per promo, keyed on a fingerprint of the promo as last agreed with the catalog:
only the catalog changed → take it; only LeadPact changed → write it to the catalog; both changed → the catalog
wins (marketers work there). Elements without a LeadPact promo become promos; promos never sent become
elements; a promo whose element was deleted in amoCRM is archived. Coupon codes flow one way, catalog → pool
(codes are never written back: pools can hold thousands). An invalid element is reported by name and field and
left out; the rest syncs.

Dates are written as noon UTC of the day and read back rounded to the nearest day, so an account in any time
zone within ±12 h sees the same calendar day as we do.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from typing import Any, Protocol

from sqlalchemy.engine import Engine
from sqlmodel import Session

from integration.db import session_scope
from integration.i18n import Language, Text
from integration.storage import accounts as account_store
from integration.storage import promos as store
from rules.promo import Promo
from sync.promos.event_import import as_json
from sync.promos.importing import CODE_TAKEN, PromoDefinition, RowError, validate_row

CATALOG_KEY = "catalog.promos"
CATALOG_NAME = Text(ru="Акции LeadPact", en="LeadPact promos")


@dataclass(frozen=True, slots=True)
class CatalogField:
    key: str
    code: str
    type: str
    name: Text


CATALOG_FIELDS: tuple[CatalogField, ...] = (
    CatalogField("key", "LP_PROMO_KEY", "text", Text(ru="Ключ акции", en="Promo key")),
    CatalogField(
        "description", "LP_PROMO_DESCRIPTION", "textarea", Text(ru="Описание для менеджера", en="For the rep")
    ),
    CatalogField(
        "condition",
        "LP_PROMO_CONDITION",
        "textarea",
        Text(ru="Условие (язык правил)", en="Condition (rule language)"),
    ),
    CatalogField("code", "LP_PROMO_CODE", "text", Text(ru="Общий промокод", en="Shared code")),
    CatalogField(
        "coupons",
        "LP_PROMO_COUPONS",
        "textarea",
        Text(ru="Уникальные купоны (через пробел)", en="Unique coupons"),
    ),
    CatalogField("starts_on", "LP_PROMO_STARTS", "date", Text(ru="Начало", en="Starts")),
    CatalogField("ends_on", "LP_PROMO_ENDS", "date", Text(ru="Окончание", en="Ends")),
)


class CatalogApi(Protocol):
    """The part of `integration.amocrm.AccountApi` the catalog sync uses."""

    async def list_catalogs(self) -> list[Any]: ...

    async def create_catalogs(self, catalogs: Sequence[Mapping[str, Any]]) -> list[Any]: ...

    async def list_custom_fields(self, entity: str = ...) -> list[Any]: ...

    async def create_custom_fields(self, entity: str, fields: Sequence[Mapping[str, Any]]) -> list[Any]: ...

    def iter_catalog_elements(self, catalog_id: int, *, params: Any = None) -> Any: ...

    async def create_catalog_elements(
        self, catalog_id: int, elements: Sequence[Mapping[str, Any]]
    ) -> list[Any]: ...

    async def update_catalog_elements(
        self, catalog_id: int, elements: Sequence[Mapping[str, Any]]
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class CatalogIds:
    catalog_id: int
    field_ids: Mapping[str, int]


# ---- pure: conversions and planning ----------------------------------------------------------------------


def fingerprint(promo: Promo) -> str:
    """Identifies a promo's content (not its coupons), to tell which side changed since the last sync."""
    content = {
        "key": promo.key,
        "name": promo.name,
        "description": promo.description,
        "condition": promo.condition,
        "shared_code": promo.shared_code,
        "starts_on": promo.starts_on.isoformat() if promo.starts_on else None,
        "ends_on": promo.ends_on.isoformat() if promo.ends_on else None,
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def date_to_amo(day: date) -> int:
    return int(datetime.combine(day, time(12, 0), tzinfo=UTC).timestamp())


def date_from_amo(value: Any) -> Any:
    """A catalog date (unix seconds) as a calendar day; other values are returned as they are.

    Our own writes are noon UTC (that day). amoCRM's date pickers store the account's local midnight, which
    for time zones within ±12 h lies within 12 hours before or after midnight UTC of the same day.
    """
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = int(value)
        if seconds % 86400 == 43200:
            return datetime.fromtimestamp(seconds, tz=UTC).date()
        return datetime.fromtimestamp(seconds + 12 * 3600, tz=UTC).date()
    return value


def element_fields(element: Mapping[str, Any], ids: CatalogIds) -> dict[str, Any]:
    """The element's raw promo fields (as an import row) by our field key."""
    key_by_id = {field_id: key for key, field_id in ids.field_ids.items()}
    key_by_code = {spec.code: spec.key for spec in CATALOG_FIELDS}
    raw: dict[str, Any] = {"name": element.get("name")}
    for custom in element.get("custom_fields_values") or ():
        key = key_by_id.get(custom.get("field_id")) or key_by_code.get(str(custom.get("field_code") or ""))
        values = custom.get("values") or ()
        if key is None or not values:
            continue
        value = values[0].get("value")
        raw[key] = date_from_amo(value) if key in ("starts_on", "ends_on") else value
    return raw


def element_to_definition(
    element: Mapping[str, Any], ids: CatalogIds
) -> tuple[PromoDefinition | None, list[RowError]]:
    """The promo an element describes; errors carry the element id as their row."""
    return validate_row(int(element["id"]), element_fields(element, ids))


def promo_to_element(promo: Promo, ids: CatalogIds, element_id: int | None = None) -> dict[str, Any]:
    """The catalog element for a promo (coupons are not written: the pool lives in LeadPact)."""
    values: dict[str, Any] = {
        "key": promo.key,
        "description": promo.description,
        "condition": promo.condition,
        "code": promo.shared_code or "",
        "starts_on": date_to_amo(promo.starts_on) if promo.starts_on else None,
        "ends_on": date_to_amo(promo.ends_on) if promo.ends_on else None,
    }
    custom = [
        {"field_id": ids.field_ids[key], "values": [{"value": value}]}
        for key, value in values.items()
        if key in ids.field_ids and value not in (None, "")
    ]
    element: dict[str, Any] = {"name": promo.name, "custom_fields_values": custom}
    if element_id is not None:
        element["id"] = element_id
    return element


@dataclass(frozen=True, slots=True)
class LocalPromo:
    promo: Promo
    element_id: int | None
    synced_hash: str | None


@dataclass(frozen=True, slots=True)
class RemotePromo:
    element_id: int
    definition: PromoDefinition


@dataclass(frozen=True, slots=True)
class CatalogPlan:
    """What a sync does on each side."""

    pull: tuple[RemotePromo, ...]  # catalog → LeadPact (create or update the promo, add coupons)
    push_new: tuple[Promo, ...]  # LeadPact → new catalog elements
    push_update: tuple[tuple[int, Promo], ...]  # LeadPact → existing elements
    archive: tuple[str, ...]  # keys of promos whose element was deleted in amoCRM
    coupons_only: tuple[RemotePromo, ...] = ()  # unchanged promos whose catalog coupons may have grown


def plan_catalog_sync(local: Sequence[LocalPromo], remote: Sequence[RemotePromo]) -> CatalogPlan:
    local_by_element = {item.element_id: item for item in local if item.element_id is not None}
    local_by_key = {item.promo.key: item for item in local}
    pull: list[RemotePromo] = []
    coupons_only: list[RemotePromo] = []
    push_update: list[tuple[int, Promo]] = []
    seen_keys: set[str] = set()
    for element in remote:
        mine = local_by_element.get(element.element_id) or local_by_key.get(element.definition.promo.key)
        remote_hash = fingerprint(element.definition.promo)
        seen_keys.add(element.definition.promo.key)
        if mine is None:
            pull.append(element)
            continue
        seen_keys.add(mine.promo.key)
        local_hash = fingerprint(mine.promo)
        remote_changed = remote_hash != mine.synced_hash
        local_changed = local_hash != mine.synced_hash
        if remote_hash == local_hash:
            # Same content on both sides: record the agreement (and the link) if it is new, else only coupons.
            agreed = mine.synced_hash == remote_hash and mine.element_id == element.element_id
            (coupons_only if agreed else pull).append(element)
        elif remote_changed:
            pull.append(element)  # catalog changed (alone, or both did: the catalog wins)
        elif local_changed:
            push_update.append((element.element_id, mine.promo))
    remote_ids = {element.element_id for element in remote}
    push_new = tuple(
        item.promo for item in local if item.element_id is None and item.promo.key not in seen_keys
    )
    archive = tuple(
        item.promo.key
        for item in local
        if item.element_id is not None
        and item.element_id not in remote_ids
        and item.promo.key not in seen_keys
    )
    return CatalogPlan(
        pull=tuple(pull),
        push_new=push_new,
        push_update=tuple(push_update),
        archive=archive,
        coupons_only=tuple(coupons_only),
    )


# ---- edge: provisioning and applying ---------------------------------------------------------------------


async def ensure_promo_catalog(
    api: CatalogApi, *, engine: Engine, account_id: int, lang: Language
) -> CatalogIds:
    """Finds or creates the catalog and its fields (by code); remembers their ids. Idempotent."""
    with session_scope(engine) as session:
        known = {f.key: f.amo_id for f in account_store.list_fields(session=session, account_id=account_id)}
    catalog_id = known.get(CATALOG_KEY)
    catalogs = {int(as_json(c)["id"]): as_json(c) for c in await api.list_catalogs()}
    if catalog_id not in catalogs:
        names = {CATALOG_NAME.ru, CATALOG_NAME.en}
        catalog_id = next((cid for cid, c in catalogs.items() if c.get("name") in names), None)
    if catalog_id is None:
        created = await api.create_catalogs(
            [{"name": CATALOG_NAME(lang), "type": "regular", "can_add_elements": True}]
        )
        catalog_id = int(as_json(created[0])["id"])
    entity = f"catalogs/{catalog_id}"
    existing = {
        str(as_json(f).get("code") or ""): int(as_json(f)["id"]) for f in await api.list_custom_fields(entity)
    }
    missing = [spec for spec in CATALOG_FIELDS if spec.code not in existing]
    if missing:
        payload = [
            {"name": spec.name(lang), "type": spec.type, "code": spec.code, "sort": 10 + index}
            for index, spec in enumerate(missing)
        ]
        for created_field in await api.create_custom_fields(entity, payload):
            data = as_json(created_field)
            existing[str(data.get("code") or "")] = int(data["id"])
    field_ids = {spec.key: existing[spec.code] for spec in CATALOG_FIELDS if spec.code in existing}
    with session_scope(engine) as session:
        account_store.save_field(
            session=session, account_id=account_id, key=CATALOG_KEY, amo_id=catalog_id, enums={}
        )
        for key, field_id in field_ids.items():
            account_store.save_field(
                session=session, account_id=account_id, key=f"{CATALOG_KEY}.{key}", amo_id=field_id, enums={}
            )
    return CatalogIds(catalog_id=catalog_id, field_ids=field_ids)


@dataclass(frozen=True, slots=True)
class CatalogSyncReport:
    pulled: int
    pushed_new: int
    pushed_updates: int
    archived: int
    coupons_added: int
    errors: tuple[RowError, ...]
    element_names: Mapping[int, str]

    def render_errors(self, lang: Language = "ru") -> list[str]:
        label = Text(ru="элемент «{name}»", en="element “{name}”")
        return [
            f"{label(lang, name=self.element_names.get(e.row, e.row))}, {e.field}: {e.message(lang, **e.params)}"
            for e in self.errors
        ]


async def sync_promo_catalog(
    api: CatalogApi, *, engine: Engine, account_id: int, lang: Language, now: int
) -> CatalogSyncReport:
    """One two-way sync between the account's promos and its "LeadPact promos" catalog."""
    ids = await ensure_promo_catalog(api, engine=engine, account_id=account_id, lang=lang)
    remote: list[RemotePromo] = []
    errors: list[RowError] = []
    names: dict[int, str] = {}
    async for raw_element in api.iter_catalog_elements(ids.catalog_id):
        element = as_json(raw_element)
        if element.get("is_deleted"):
            continue
        names[int(element["id"])] = str(element.get("name") or "")
        definition, problems = element_to_definition(element, ids)
        errors.extend(problems)
        if definition is not None:
            remote.append(RemotePromo(int(element["id"]), definition))
    with session_scope(engine) as session:
        records = store.list_promos(session=session, account_id=account_id, include_archived=False)
        local = [LocalPromo(r.to_promo(), r.catalog_element_id, r.catalog_synced_hash) for r in records]
    plan = plan_catalog_sync(local, remote)

    created_ids: list[int] = []
    if plan.push_new:
        created = await api.create_catalog_elements(
            ids.catalog_id, [promo_to_element(p, ids) for p in plan.push_new]
        )
        created_ids = [int(as_json(element)["id"]) for element in created]
    if plan.push_update:
        await api.update_catalog_elements(
            ids.catalog_id,
            [promo_to_element(promo, ids, element_id) for element_id, promo in plan.push_update],
        )

    with session_scope(engine) as session:
        coupons_added = _store_pulled(session, account_id, plan, remote, errors, now)
        for promo, element_id in [*zip(plan.push_new, created_ids, strict=False), *_swap(plan.push_update)]:
            _mark_synced(session, account_id, promo, element_id)
        for key in plan.archive:
            archived = store.get_promo(session=session, account_id=account_id, key=key)
            if archived is not None:
                archived.archived = True
                archived.updated_at = now
                session.add(archived)
    return CatalogSyncReport(
        pulled=len(plan.pull),
        pushed_new=len(created_ids),
        pushed_updates=len(plan.push_update),
        archived=len(plan.archive),
        coupons_added=coupons_added,
        errors=tuple(errors),
        element_names=names,
    )


def _swap(pairs: Iterable[tuple[int, Promo]]) -> list[tuple[Promo, int]]:
    return [(promo, element_id) for element_id, promo in pairs]


def _mark_synced(session: Session, account_id: int, promo: Promo, element_id: int) -> None:
    record = store.get_promo(session=session, account_id=account_id, key=promo.key)
    if record is not None:
        record.catalog_element_id = element_id
        record.catalog_synced_hash = fingerprint(promo)
        session.add(record)


def _store_pulled(
    session: Session,
    account_id: int,
    plan: CatalogPlan,
    remote: Sequence[RemotePromo],
    errors: list[RowError],
    now: int,
) -> int:
    """Saves the promos taken from the catalog and adds their new coupon codes; returns codes added."""
    taken = store.codes_in_use(
        session=session, account_id=account_id, codes=[c for r in remote for c in r.definition.coupon_codes]
    )
    pulled_ids = {element.element_id for element in plan.pull}
    added = 0
    for element in (*plan.pull, *plan.coupons_only):
        promo = element.definition.promo
        foreign = [
            code for code in element.definition.coupon_codes if taken.get(code, promo.key) != promo.key
        ]
        errors.extend(
            RowError(element.element_id, "coupons", CODE_TAKEN, {"value": code, "other": taken[code]})
            for code in foreign
        )
        fresh_codes = [code for code in element.definition.coupon_codes if code not in foreign]
        record = store.get_promo(session=session, account_id=account_id, key=promo.key)
        if element.element_id in pulled_ids:
            # A pool stays a pool even when the element lists no new codes (issued ones are not listed).
            keeps_pool = bool(fresh_codes) or (record is not None and record.uses_coupon_pool)
            record = store.save_promo(
                session=session,
                account_id=account_id,
                promo=replace(promo, uses_coupon_pool=keeps_pool),
                source=store.PromoSource.CATALOG,
                now=now,
                catalog_element_id=element.element_id,
            )
        if record is None or record.id is None:
            continue
        record.catalog_synced_hash = fingerprint(promo)
        record.catalog_element_id = element.element_id
        if fresh_codes:
            record.uses_coupon_pool = True
        session.add(record)
        added += store.add_coupon_codes(
            session=session, account_id=account_id, promo_id=record.id, codes=fresh_codes
        )
    return added
