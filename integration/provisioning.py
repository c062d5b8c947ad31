"""Provisioning: LeadPact's own lead fields and the account webhook, created idempotently in an account.

Fields are found again by their `code` (amoCRM keeps codes of API-created fields), so running provisioning a
second time creates nothing and writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from integration.amocrm import AccountApi
from integration.field_mapping import ensure_mapping_proposed
from integration.i18n import Language, Text
from integration.storage import accounts as store

LEVELS: tuple[str, ...] = ("hot", "warm", "cold", "unknown")

LEVEL_LABELS: Mapping[str, Text] = {
    "hot": Text(ru="Горячий", en="Hot"),
    "warm": Text(ru="Тёплый", en="Warm"),
    "cold": Text(ru="Холодный", en="Cold"),
    "unknown": Text(ru="Неизвестно", en="Unknown"),
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


@dataclass(frozen=True, slots=True)
class FieldSpec:
    key: str
    code: str
    type: str
    name: Text
    sort: int
    enums: tuple[str, ...] = ()


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
        LEVELS,
    ),
    FieldSpec(
        "qualified",
        "LEADPACT_QUALIFIED",
        "checkbox",
        Text(ru="Целевой (LeadPact)", en="Qualified (LeadPact)"),
        512,
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

    @property
    def by_key(self) -> dict[str, int]:
        return {spec.key: getattr(self, spec.key) for spec in LEAD_FIELDS}


@dataclass(frozen=True, slots=True)
class ProvisioningResult:
    fields: ProvisionedFields
    created_fields: tuple[str, ...]
    webhook_subscribed: bool


def webhook_destination(public_url: str, webhook_key: str) -> str:
    return f"{public_url.rstrip('/')}/webhooks/amocrm/{webhook_key}"


def _enum_key(label: str) -> str | None:
    for key, text in LEVEL_LABELS.items():
        if label.strip().lower() in (text.ru.lower(), text.en.lower(), key):
            return key
    return None


def _field_payload(spec: FieldSpec, lang: Language) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "name": spec.name(lang),
        "type": spec.type,
        "code": spec.code,
        "sort": spec.sort,
    }
    if spec.enums:
        payload["enums"] = [
            {"value": LEVEL_LABELS[key](lang), "sort": index + 1} for index, key in enumerate(spec.enums)
        ]
    return payload


async def provision_account(
    *,
    api: AccountApi,
    session: Session,
    account_id: int,
    webhook_url: str,
    lang: Language,
) -> ProvisioningResult:
    """Creates what is missing (fields by code, the webhook subscription) and records the ids; no-op when done."""
    account_fields = await api.list_custom_fields("leads")
    existing = {f.code: f for f in account_fields if f.code}
    missing = [spec for spec in LEAD_FIELDS if spec.code not in existing]
    if missing:
        for created in await api.create_custom_fields("leads", [_field_payload(s, lang) for s in missing]):
            if created.code:
                existing[created.code] = created
    ids: dict[str, int] = {}
    level_enums: dict[str, int] = {}
    for spec in LEAD_FIELDS:
        amo_field = existing[spec.code]
        ids[spec.key] = amo_field.id
        enums: dict[str, int] = {}
        for enum in amo_field.enums or []:
            key = _enum_key(enum.value)
            if key is not None:
                enums[key] = enum.id
        if spec.key == "level":
            level_enums = enums
        store.save_field(
            session=session, account_id=account_id, key=spec.key, amo_id=amo_field.id, enums=enums
        )

    subscribed = False
    current = await api.list_webhooks(destination=webhook_url)
    active = [hook for hook in current if not hook.disabled and set(WEBHOOK_EVENTS) <= set(hook.settings)]
    if not active:
        await api.subscribe_webhook(webhook_url, list(WEBHOOK_EVENTS))
        subscribed = True
    fields = ProvisionedFields(account_id=account_id, level_enums=level_enums, **ids)

    # Last step, on its own: propose which of the account's fields play budget, decision maker, … (an admin
    # confirms it on /admin/mapping). It only reads from amoCRM, so a retried provisioning may repeat it.
    await ensure_mapping_proposed(api=api, session=session, account_id=account_id, fields=account_fields)
    return ProvisioningResult(
        fields=fields, created_fields=tuple(s.key for s in missing), webhook_subscribed=subscribed
    )


def load_provisioned_fields(*, session: Session, account_id: int) -> ProvisionedFields | None:
    rows = {row.key: row for row in store.list_fields(session=session, account_id=account_id)}
    if any(spec.key not in rows for spec in LEAD_FIELDS):
        return None
    ids = {spec.key: rows[spec.key].amo_id for spec in LEAD_FIELDS}
    return ProvisionedFields(account_id=account_id, level_enums=dict(rows["level"].enums), **ids)
