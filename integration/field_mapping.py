"""The account's field mapping as a service: propose it from the account's fields at install, read fill rates
of candidate fields over stored leads, and create a missing field from the admin page.

The proposal itself is pure (`rules.roles.propose_mapping`); this module fetches and stores.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from integration.amocrm import AccountApi, CustomField
from integration.i18n import Language
from integration.storage import field_mapping as store
from integration.storage import rulesets as ruleset_store
from integration.storage.leads import LeadSnapshot
from rules import FieldCatalog, RuleSet, load_ruleset, propose_mapping
from rules.roles import ROLES, Role, role_named


@dataclass(frozen=True, slots=True)
class MappingProposed:
    """What `ensure_mapping_proposed` found: roles with a proposed field, and roles with none."""

    proposed: dict[str, int]
    missing: tuple[str, ...]


def _rule_hints(ruleset: RuleSet) -> dict[str, str]:
    """The code or name a rule file gives each role (`{role: budget, name: Бюджет проекта}`) as a first guess."""
    hints: dict[str, str] = {}
    for spec in ruleset.fields.values():
        if spec.role is not None and (spec.code or spec.name):
            hints[spec.role] = spec.code or spec.name or ""
    return hints


def catalog_of(fields: Iterable[Any]) -> FieldCatalog:
    return FieldCatalog.from_amocrm([f.model_dump(mode="json") for f in fields])


async def ensure_mapping_proposed(
    *, api: AccountApi, session: Session, account_id: int, fields: Sequence[CustomField] | None = None
) -> MappingProposed:
    """Propose (again) the account's role → field mapping from its lead fields and store it with the fields.

    `fields`: the account's lead fields when the caller has just listed them (saves the call). Idempotent: it
    only reads from amoCRM. What the running rules use changes only by a signed-off version, except fields
    found by the code the rule file names, which need no confirmation.
    """
    listed = fields if fields is not None else await api.list_custom_fields("leads")
    catalog = catalog_of(listed)
    version = ruleset_store.active_version(session=session, account_id=account_id)
    text = ruleset_store.text_of(session=session, account_id=account_id, version=version)
    hints = _rule_hints(load_ruleset(text, source="hints"))
    proposal = propose_mapping(catalog, hints=hints)
    store.save_proposal(session=session, account_id=account_id, proposal=proposal, catalog=catalog)
    return MappingProposed(
        proposed={role: p.field.id for role, p in proposal.items()},
        missing=tuple(role.name for role in ROLES if role.name not in proposal),
    )


def fill_rates(
    *, session: Session, account_id: int, field_ids: Iterable[int], limit: int = 5_000
) -> dict[int, float]:
    """Share of the account's latest stored leads (up to `limit`) in which each field holds a value."""
    wanted = set(field_ids)
    counts = dict.fromkeys(wanted, 0)
    total = 0
    rows = session.exec(
        select(col(LeadSnapshot.data))
        .where(col(LeadSnapshot.account_id) == account_id, col(LeadSnapshot.is_deleted).is_(False))
        .order_by(col(LeadSnapshot.updated_at).desc())
        .limit(limit)
    )
    for data in rows:
        total += 1
        entries = (data or {}).get("custom_fields_values") or []
        for entry in entries if isinstance(entries, list) else []:
            field_id = entry.get("field_id") if isinstance(entry, dict) else None
            if field_id in counts and _has_value(entry.get("values")):
                counts[field_id] += 1
    return {field_id: (count / total if total else 0.0) for field_id, count in counts.items()}


def _has_value(values: Any) -> bool:
    if not isinstance(values, list):
        return False
    for item in values:
        value = item.get("value") if isinstance(item, dict) else item
        if value is not None and str(value).strip() != "":
            return True
        if isinstance(item, dict) and item.get("enum_id") is not None:
            return True
    return False


YES_NO = {"ru": ("Да", "Нет"), "en": ("Yes", "No")}


def field_payload(role: Role, lang: Language) -> dict[str, Any]:
    """The amoCRM field a role gets when the admin asks to create it (a yes/no select for a boolean role)."""
    payload: dict[str, Any] = {"name": role.title(lang), "type": role.create_type}
    if role.kind == "boolean":
        payload["enums"] = [{"value": label, "sort": index + 1} for index, label in enumerate(YES_NO[lang])]
    return payload


async def create_role_field(
    *, api: AccountApi, session: Session, account_id: int, role_name: str, lang: Language
) -> int:
    """Create the lead field for a role in amoCRM and offer it in the mapping page; returns its id."""
    role = role_named(role_name)
    if role is None:
        raise ValueError(f"unknown role {role_name}")
    created = (await api.create_custom_fields("leads", [field_payload(role, lang)]))[0]
    store.add_to_catalog(session=session, account_id=account_id, field=created.model_dump(mode="json"))
    return created.id
