"""Provisioning: LeadPact's own lead fields and the account webhook, created idempotently in an account.

Provisioning is a list of named steps (`ProvisioningStep`) run in order by the provisioning job
(`integration.install.run_provisioning`); each step finds what exists, creates only what is missing and records
what it found in the account's install health. `BASE_STEPS` are the steps this module owns; the composition root
(`leadpact.scheduler.PROVISIONING_STEPS`) adds the promo catalog; the field-mapping proposal goes there too.

Fields are found again by their `code` (amoCRM keeps codes of API-created fields), so running provisioning a
second time creates nothing and writes nothing. The computed fields are API-only [doc: Kommo custom fields,
`is_api_only`]: people see them but cannot overwrite them by hand.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from integration.amocrm import AccountApi, AccountBlocked, AmoHTTPError, CustomField
from integration.db import session_scope
from integration.field_mapping import ensure_mapping_proposed
from integration.i18n import Language, Text
from integration.storage import accounts as store
from integration.storage import inbox as inbox_store
from integration.storage import install_health as health_store
from integration.storage.install_health import WebhookState
from integration.storage.leads import LeadSnapshot
from integration.storage.rulesets import missing_roles

log = logging.getLogger(__name__)

LEVELS: tuple[str, ...] = ("hot", "warm", "cold", "unknown")

LEVEL_LABELS: Mapping[str, Text] = {
    "hot": Text(ru="Горячий", en="Hot"),
    "warm": Text(ru="Тёплый", en="Warm"),
    "cold": Text(ru="Холодный", en="Cold"),
    "unknown": Text(ru="Неизвестно", en="Unknown"),
}
# «Целевой» is a select, not a checkbox: an amoCRM filter tells "Нет" (classified, not qualified) from an empty
# value (not classified yet). An unticked checkbox and a never-touched one look the same.
QUALIFIED_LABELS: Mapping[str, Text] = {
    "yes": Text(ru="Да", en="Yes"),
    "no": Text(ru="Нет", en="No"),
}

WEBHOOK_EVENTS: tuple[str, ...] = (
    "add_lead",
    "update_lead",
    "status_lead",
    "delete_lead",
    "restore_lead",
    "responsible_lead",
    "update_contact",
)

# Statuses amoCRM answers a refused webhooks API with on plans without it: not documented; 403 is what
# amoCRM uses for "no rights", 402 its v2 "feature must be paid for" code (see docs/amocrm-sources.md).
PLAN_REFUSAL_STATUSES = frozenset({402, 403})


@dataclass(frozen=True, slots=True)
class FieldSpec:
    key: str
    code: str
    type: str
    name: Text
    sort: int
    enum_labels: Mapping[str, Text] = field(default_factory=dict)
    # Computed by LeadPact: people must not overwrite it in amoCRM's UI.
    api_only: bool = True


LEAD_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(
        "channel", "LEADPACT_CHANNEL", "text", Text(ru="Канал (LeadPact)", en="Channel (LeadPact)"), 510
    ),
    FieldSpec(
        "level",
        "LEADPACT_LEVEL",
        "select",
        Text(ru="Уровень лида (LeadPact)", en="Lead level (LeadPact)"),
        511,
        LEVEL_LABELS,
    ),
    FieldSpec(
        "qualified",
        "LEADPACT_QUALIFIED_YN",
        "select",
        Text(ru="Целевой (LeadPact)", en="Qualified (LeadPact)"),
        512,
        QUALIFIED_LABELS,
    ),
    FieldSpec(
        "reason",
        "LEADPACT_REASON",
        "textarea",
        Text(ru="Почему такой уровень (LeadPact)", en="Why this level (LeadPact)"),
        513,
    ),
    FieldSpec(
        "promos",
        "LEADPACT_PROMOS",
        "textarea",
        Text(ru="Активные акции (LeadPact)", en="Active promos (LeadPact)"),
        514,
    ),
    FieldSpec("coupon", "LEADPACT_COUPON", "text", Text(ru="Купон (LeadPact)", en="Coupon (LeadPact)"), 515),
    FieldSpec(
        "channel_qualified_pct",
        "LEADPACT_CHANNEL_QUALIFIED_PCT",
        "numeric",
        Text(ru="% целевых в канале (LeadPact)", en="Channel % qualified (LeadPact)"),
        516,
    ),
)

# Before the Да/Нет select, «Целевой» was this checkbox. Provisioning renames it so nobody filters on it again.
LEGACY_QUALIFIED_CODE = "LEADPACT_QUALIFIED"
LEGACY_QUALIFIED_NAME = Text(
    ru="Целевой — старое поле, не используется (LeadPact)", en="Qualified — old field, unused (LeadPact)"
)


@dataclass(frozen=True, slots=True)
class ProvisionedFields:
    """amoCRM ids of LeadPact's lead fields in one account."""

    account_id: int
    channel: int
    level: int
    qualified: int
    reason: int
    promos: int
    coupon: int
    channel_qualified_pct: int
    level_enums: Mapping[str, int] = field(default_factory=dict)
    # "yes"/"no" → enum id of the «Целевой» select.
    qualified_enums: Mapping[str, int] = field(default_factory=dict)

    @property
    def by_key(self) -> dict[str, int]:
        return {spec.key: getattr(self, spec.key) for spec in LEAD_FIELDS}


@dataclass(frozen=True, slots=True)
class ProvisioningResult:
    fields: ProvisionedFields
    created_fields: tuple[str, ...]
    webhook_subscribed: bool
    webhook_state: str = WebhookState.SUBSCRIBED


@dataclass(slots=True)
class ProvisioningContext:
    """What every provisioning step works with; steps leave what later steps need in `found`."""

    api: AccountApi
    engine: Engine
    account_id: int
    webhook_url: str
    lang: Language
    clock: Callable[[], float] = time.time
    found: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ProvisioningStep:
    """One named, idempotent part of provisioning; the name is what health and logs show when it fails."""

    name: str
    run: Callable[[ProvisioningContext], Awaitable[object]]


def webhook_destination(public_url: str, webhook_key: str) -> str:
    return f"{public_url.rstrip('/')}/webhooks/amocrm/{webhook_key}"


def _enum_key(spec: FieldSpec, label: str) -> str | None:
    for key, text in spec.enum_labels.items():
        if label.strip().lower() in (text.ru.lower(), text.en.lower(), key):
            return key
    return None


def _field_payload(spec: FieldSpec, lang: Language) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "name": spec.name(lang),
        "type": spec.type,
        "code": spec.code,
        "sort": spec.sort,
        "is_api_only": spec.api_only,
    }
    if spec.enum_labels:
        payload["enums"] = [
            {"value": label(lang), "sort": index + 1} for index, label in enumerate(spec.enum_labels.values())
        ]
    return payload


# --- steps -------------------------------------------------------------------------------------------------------


async def ensure_lead_fields(context: ProvisioningContext) -> tuple[str, ...]:
    """LeadPact's lead fields exist (API-only), their ids are stored; the keys of the fields it had to create."""
    api, lang = context.api, context.lang
    listed = await api.list_custom_fields("leads")
    context.found["account_fields"] = listed  # the mapping step proposes from these, without another call
    existing = {f.code: f for f in listed if f.code}
    missing = [spec for spec in LEAD_FIELDS if spec.code not in existing]
    if missing:
        for created in await api.create_custom_fields("leads", [_field_payload(s, lang) for s in missing]):
            if created.code:
                existing[created.code] = created
    await _lock_existing_fields(api, [existing[s.code] for s in LEAD_FIELDS if s.code in existing], missing)
    legacy = existing.get(LEGACY_QUALIFIED_CODE)
    switched = legacy is not None and await _retire_legacy_qualified(api, legacy, lang)

    ids: dict[str, int] = {}
    enums_by_key: dict[str, dict[str, int]] = {}
    with session_scope(context.engine) as session:
        previous_qualified = next(
            (
                f.amo_id
                for f in store.list_fields(session=session, account_id=context.account_id)
                if f.key == "qualified"
            ),
            None,
        )
        for spec in LEAD_FIELDS:
            amo_field = existing[spec.code]
            ids[spec.key] = amo_field.id
            enums: dict[str, int] = {}
            for enum in amo_field.enums or []:
                key = _enum_key(spec, enum.value)
                if key is not None:
                    enums[key] = enum.id
            enums_by_key[spec.key] = enums
            store.save_field(
                session=session, account_id=context.account_id, key=spec.key, amo_id=amo_field.id, enums=enums
            )
        if previous_qualified is None:
            # Reconciliation may classify leads before the first provisioning: nothing was written to them.
            _queue_classified_leads(session, context.account_id, open_only=False)
        elif switched or previous_qualified != ids["qualified"]:
            # «Целевой» moved to the select: open leads get it written; closed ones keep their frozen verdict.
            _queue_classified_leads(session, context.account_id, open_only=True)
        health_store.record_fields(
            session=session, account_id=context.account_id, ok=True, now=context.clock()
        )
        health_store.record_tokens_ok(session=session, account_id=context.account_id, now=context.clock())
    context.found["fields"] = ProvisionedFields(
        account_id=context.account_id,
        level_enums=enums_by_key["level"],
        qualified_enums=enums_by_key["qualified"],
        **ids,
    )
    created_keys = tuple(spec.key for spec in missing)
    context.found["created_fields"] = created_keys
    return created_keys


async def _lock_existing_fields(
    api: AccountApi, present: list[CustomField], created: list[FieldSpec]
) -> None:
    """Fields made before LeadPact created them API-only become API-only; fields that already are, untouched."""
    created_codes = {spec.code for spec in created}
    unlocked = [
        {"id": f.id, "is_api_only": True}
        for f in present
        if f.code not in created_codes and f.is_api_only is not True
    ]
    if unlocked:
        await api.request("PATCH", "leads/custom_fields", json=unlocked)


async def _retire_legacy_qualified(api: AccountApi, legacy: CustomField, lang: Language) -> bool:
    """Renames the old «Целевой» checkbox once; True when this run did it (the account switched just now)."""
    if legacy.name in (LEGACY_QUALIFIED_NAME.ru, LEGACY_QUALIFIED_NAME.en):
        return False
    await api.request(
        "PATCH", "leads/custom_fields", json=[{"id": legacy.id, "name": LEGACY_QUALIFIED_NAME(lang)}]
    )
    log.info("old «Целевой» checkbox retired", extra={"field_id": legacy.id})
    return True


_WON_STATUS, _LOST_STATUS = 142, 143


def _queue_classified_leads(session: Session, account_id: int, *, open_only: bool) -> int:
    query = select(col(LeadSnapshot.lead_id)).where(
        col(LeadSnapshot.account_id) == account_id,
        col(LeadSnapshot.is_deleted).is_(False),
        col(LeadSnapshot.qualified).is_not(None),
    )
    if open_only:
        query = query.where(func.coalesce(col(LeadSnapshot.status_id), 0).not_in([_WON_STATUS, _LOST_STATUS]))
    lead_ids = session.exec(query.order_by(col(LeadSnapshot.lead_id))).all()
    return inbox_store.enqueue_lead_updates(
        session=session, account_id=account_id, lead_ids=list(lead_ids), source="provisioning"
    )


async def ensure_webhook(context: ProvisioningContext) -> str:
    """Our webhook is subscribed — or the account's plan refuses the webhooks API, and we poll instead."""
    api, webhook_url = context.api, context.webhook_url
    current = await api.list_webhooks(destination=webhook_url)
    active = [hook for hook in current if not hook.disabled and set(WEBHOOK_EVENTS) <= set(hook.settings)]
    state = WebhookState.SUBSCRIBED
    subscribed_now = False
    if not active:
        try:
            await api.subscribe_webhook(webhook_url, list(WEBHOOK_EVENTS))
            subscribed_now = True
        except AmoHTTPError as exc:
            if not is_plan_refusal(exc):
                raise
            state = WebhookState.REFUSED
            log.info(
                "account %s refuses the webhooks API (HTTP %s): polling instead",
                context.account_id, exc.status_code, extra={"account_id": context.account_id},
            )  # fmt: skip
    with session_scope(context.engine) as session:
        health_store.record_webhook(
            session=session, account_id=context.account_id, state=state, now=context.clock()
        )
    context.found["webhook_state"] = state
    context.found["webhook_subscribed"] = subscribed_now
    return state


def is_plan_refusal(exc: AmoHTTPError) -> bool:
    """amoCRM's JSON "not on your plan / no rights" answer; its HTML block page means something else."""
    return exc.status_code in PLAN_REFUSAL_STATUSES and not isinstance(exc, AccountBlocked)


async def ensure_field_mapping(context: ProvisioningContext) -> object:
    """Proposes which of the account's fields play budget, decision maker, … (an admin confirms it on
    /admin/mapping) and records in the install health which roles the running rules read without a field."""
    listed = context.found.get("account_fields")
    with session_scope(context.engine) as session:
        proposed = await ensure_mapping_proposed(
            api=context.api, session=session, account_id=context.account_id, fields=listed
        )
        missing = [use.role for use in missing_roles(session=session, account_id=context.account_id)]
        health_store.record_rules_mapping(
            session=session, account_id=context.account_id, missing_roles=missing, now=context.clock()
        )
    return proposed


BASE_STEPS: tuple[ProvisioningStep, ...] = (
    ProvisioningStep("fields", ensure_lead_fields),
    ProvisioningStep("webhook", ensure_webhook),
    # Last, on its own: it only reads from amoCRM, so a retried provisioning may repeat it.
    ProvisioningStep("mapping", ensure_field_mapping),
)


async def provision_account(
    *,
    api: AccountApi,
    engine: Engine,
    account_id: int,
    webhook_url: str,
    lang: Language,
) -> ProvisioningResult:
    """The base steps at once (fields, webhook); no-op when done. The install job runs them with retries."""
    context = ProvisioningContext(
        api=api, engine=engine, account_id=account_id, webhook_url=webhook_url, lang=lang
    )
    for step in BASE_STEPS:
        await step.run(context)
    return result_of(context)


def result_of(context: ProvisioningContext) -> ProvisioningResult:
    return ProvisioningResult(
        fields=context.found["fields"],
        created_fields=context.found.get("created_fields", ()),
        webhook_subscribed=bool(context.found.get("webhook_subscribed")),
        webhook_state=str(context.found.get("webhook_state", WebhookState.MISSING)),
    )


def load_provisioned_fields(*, session: Session, account_id: int) -> ProvisionedFields | None:
    """The field ids, or None until provisioning (including the «Целевой» switch to Да/Нет) has run."""
    rows = {row.key: row for row in store.list_fields(session=session, account_id=account_id)}
    if any(spec.key not in rows for spec in LEAD_FIELDS):
        return None
    qualified_enums = dict(rows["qualified"].enums)
    if set(qualified_enums) != set(QUALIFIED_LABELS):
        return None  # still the old checkbox: nothing is written until provisioning switched it
    ids = {spec.key: rows[spec.key].amo_id for spec in LEAD_FIELDS}
    return ProvisionedFields(
        account_id=account_id,
        level_enums=dict(rows["level"].enums),
        qualified_enums=qualified_enums,
        **ids,
    )
