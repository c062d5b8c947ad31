"""The field mapping proposed for each account at install: which of its lead fields plays which role.

The proposal is a guess (by code, name, type and enums) and the account's lead fields as they were when it was
made (the admin's dropdowns). A mapping only takes effect through a rule version (`rule_versions.mapping`),
after sign-off; until an admin confirms one, only the fields found by their code are used — what the rule
file itself names — and every other role reads as *not mapped*.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, Session, SQLModel

from rules import FieldCatalog, FieldMapping, ProposedField
from rules.model import CatalogField
from rules.roles import mapping_from_json, mapping_to_json


class FieldMappingProposal(SQLModel, table=True):
    """One account's proposed role → field mapping, with why each was chosen and the fields it chose from."""

    __tablename__ = "field_mapping_proposals"

    account_id: int = Field(primary_key=True)
    mapping: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    origins: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    catalog: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    proposed_at: int = 0


def catalog_to_json(catalog: FieldCatalog) -> list[dict[str, Any]]:
    return [
        {
            "id": f.id,
            "name": f.name,
            "type": f.type,
            "code": f.code,
            "enums": [{"id": enum_id, "value": label} for enum_id, label in f.enums.items()],
        }
        for f in catalog.fields
    ]


def save_proposal(
    *,
    session: Session,
    account_id: int,
    proposal: dict[str, ProposedField],
    catalog: FieldCatalog,
    now: int | None = None,
) -> FieldMappingProposal:
    """Store (or replace) the account's proposal and the fields it was made from."""
    row = session.get(FieldMappingProposal, account_id) or FieldMappingProposal(account_id=account_id)
    row.mapping = mapping_to_json({role: p.field for role, p in proposal.items()})
    row.origins = {role: p.origin for role, p in proposal.items()}
    row.catalog = catalog_to_json(catalog)
    row.proposed_at = int(time.time()) if now is None else now
    session.add(row)
    session.flush()
    return row


def get_proposal(*, session: Session, account_id: int) -> FieldMappingProposal | None:
    return session.get(FieldMappingProposal, account_id)


def proposed_mapping(row: FieldMappingProposal) -> dict[str, CatalogField]:
    return mapping_from_json(row.mapping)


def code_confirmed_mapping(row: FieldMappingProposal) -> FieldMapping:
    """The part of a proposal that needs no admin: fields found by the code the rule file names."""
    return {role: f for role, f in proposed_mapping(row).items() if row.origins.get(role) == "code"}


def stored_catalog(row: FieldMappingProposal) -> FieldCatalog:
    return FieldCatalog.from_amocrm([item for item in row.catalog if isinstance(item, dict)])


def add_to_catalog(*, session: Session, account_id: int, field: dict[str, Any]) -> None:
    """Remember a field created from the admin page, so its dropdowns offer it at once."""
    row = session.get(FieldMappingProposal, account_id) or FieldMappingProposal(account_id=account_id)
    row.catalog = [*[item for item in row.catalog if item.get("id") != field.get("id")], field]
    session.add(row)
    session.flush()
