"""Field roles: what a rule file means by "budget" or "decision maker", and which field of an account plays it.

A rule file declares `budget: {role: budget, type: number}`; an account's **mapping** binds each role to one of
its own fields by id. Fields people create in amoCRM have no `code`, so the mapping is proposed from names
(ru/en synonyms), types and enums, and confirmed by an admin. `tracking_data` fields keep their `UTM_*` codes
in every account, so those roles are found by code.

Pure code: callers fetch the account's fields and store the mapping.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final, Literal

from rules.i18n import Text
from rules.model import CatalogField, FieldCatalog, FieldType

RoleName = str
# role → the account's field that plays it (id, name, type and enum labels, as the account described it)
FieldMapping = Mapping[RoleName, CatalogField]


@dataclass(frozen=True, slots=True)
class Role:
    """One role a field can play; `synonyms` are compared case-insensitively, ignoring punctuation."""

    name: RoleName
    title: Text
    kind: FieldType
    code: str
    synonyms: tuple[str, ...] = ()
    # the amoCRM type a field created for this role gets ("create this field" on /admin)
    create_type: str = "text"


ROLES: Final[tuple[Role, ...]] = (
    Role(
        "budget",
        Text(ru="Бюджет", en="Budget"),
        "number",
        "BUDGET",
        (
            "бюджет",
            "бюджет клиента",
            "бюджет проекта",
            "бюджет сделки",
            "планируемый бюджет",
            "budget",
            "client budget",
            "customer budget",
            "project budget",
        ),
        "numeric",
    ),
    Role(
        "decision_maker",
        Text(ru="ЛПР", en="Decision maker"),
        "boolean",
        "DECISION_MAKER",
        (
            "лпр",
            "лицо принимающее решение",
            "лицо, принимающее решение",
            "это лпр",
            "контакт лпр",
            "decision maker",
            "decision-maker",
            "is decision maker",
            "authority",
            "dm",
        ),
        "select",
    ),
    Role(
        "need",
        Text(ru="Потребность", en="Need"),
        "text",
        "NEED",
        ("потребность", "потребности", "потребность клиента", "запрос", "запрос клиента", "need", "needs"),
        "textarea",
    ),
    Role(
        "decision_date",
        Text(ru="Дата принятия решения", en="Decision date"),
        "date",
        "DECISION_DATE",
        (
            "дата принятия решения",
            "дата решения",
            "срок",
            "срок принятия решения",
            "срок решения",
            "сроки",
            "decision date",
            "timeline",
            "timeframe",
            "expected decision date",
        ),
        "date",
    ),
    Role(
        "product",
        Text(ru="Продукт", en="Product"),
        "text",
        "PRODUCT",
        ("продукт", "продукты", "товар", "услуга", "интересующий продукт", "product", "products", "service"),
        "select",
    ),
    Role("utm_source", Text(ru="utm_source", en="utm_source"), "text", "UTM_SOURCE", ("utm_source",)),
    Role("utm_medium", Text(ru="utm_medium", en="utm_medium"), "text", "UTM_MEDIUM", ("utm_medium",)),
    Role(
        "utm_campaign", Text(ru="utm_campaign", en="utm_campaign"), "text", "UTM_CAMPAIGN", ("utm_campaign",)
    ),
    Role(
        "referrer",
        Text(ru="Источник перехода", en="Referrer"),
        "text",
        "REFERRER",
        ("referrer", "referer", "источник перехода"),
    ),
)
ROLE_NAMES: Final[tuple[RoleName, ...]] = tuple(role.name for role in ROLES)


def role_named(name: str) -> Role | None:
    return next((role for role in ROLES if role.name == name), None)


# amoCRM field types that can carry each kind of value.
COMPATIBLE_TYPES: Final[Mapping[FieldType, frozenset[str]]] = {
    "number": frozenset({"numeric", "price", "monetary", "text"}),
    "boolean": frozenset({"checkbox", "select", "radiobutton"}),
    "date": frozenset({"date", "date_time", "birthday"}),
    "text": frozenset(
        {"text", "textarea", "select", "multiselect", "radiobutton", "multitext", "url", "tracking_data"}
    ),
}
OWN_FIELD_PREFIX: Final = "LEADPACT_"
_YES: Final = frozenset({"да", "yes", "true", "1"})
_NO: Final = frozenset({"нет", "no", "false", "0"})


def is_yes_no(field: CatalogField) -> bool:
    """A select or radio field whose options are exactly yes and no (Да/Нет): it can answer a boolean role."""
    if field.type not in ("select", "radiobutton"):
        return False
    labels = {_words(label) for label in field.enums.values()}
    return len(labels) == 2 and bool(labels & _YES) and bool(labels & _NO)


def fits(kind: FieldType, field: CatalogField) -> bool:
    """Whether an amoCRM field can be read as a value of `kind` (a boolean from a select only if yes/no)."""
    if kind == "boolean" and field.type in ("select", "radiobutton"):
        return is_yes_no(field)
    return field.type in COMPATIBLE_TYPES.get(kind, frozenset())


def candidate_for(role: Role, field: CatalogField) -> bool:
    """Whether a field may be offered for a role: its type fits, and tracking fields (UTM, referrer) serve
    only the tracking roles, which in turn take only tracking or plain text fields."""
    if field.code and field.code.upper().startswith(OWN_FIELD_PREFIX):
        return False  # what LeadPact writes (level, reason, …) is never an input of its own rules
    tracking_role = role.code.startswith("UTM_") or role.code == "REFERRER"
    if tracking_role:
        return field.type in ("tracking_data", "text")
    return field.type != "tracking_data" and fits(role.kind, field)


def _words(text: str) -> str:
    return " ".join(re.sub(r"[^\w]+", " ", text.casefold().replace("ё", "е")).split())


Origin = Literal["code", "name", "similar"]


@dataclass(frozen=True, slots=True)
class ProposedField:
    """The field proposed for a role and why: its code equals the role's (`code`), its name is a synonym
    (`name`), or its name contains a synonym (`similar`, the weakest guess)."""

    role: RoleName
    field: CatalogField
    origin: Origin


def propose_mapping(
    catalog: FieldCatalog, roles: Iterable[Role] = ROLES, *, hints: Mapping[RoleName, str] | None = None
) -> dict[RoleName, ProposedField]:
    """A proposed mapping of roles to the account's fields: by code, then exact synonym, then containment.

    A field serves one role at most, a field whose type cannot carry the role's kind is never proposed, and
    `hints` (a code or name the rule file gave a role) is tried before the built-in code and synonyms.
    """
    taken: set[int] = set()
    result: dict[RoleName, ProposedField] = {}
    role_list = list(roles)
    for origin in ("code", "name", "similar"):
        for role in role_list:
            if role.name in result:
                continue
            found = _find(catalog, role, origin, taken, (hints or {}).get(role.name))
            if found is not None:
                taken.add(found.id)
                result[role.name] = ProposedField(role.name, found, origin)
    return result


def _find(
    catalog: FieldCatalog, role: Role, origin: str, taken: set[int], hint: str | None
) -> CatalogField | None:
    candidates = [f for f in catalog.fields if f.id not in taken and candidate_for(role, f)]
    if origin == "code":
        codes = {c.upper() for c in (hint, role.code) if c}
        return next((f for f in candidates if f.code and f.code.upper() in codes), None)
    synonyms = [_words(s) for s in (*([hint] if hint else []), *role.synonyms)]
    if origin == "name":
        for synonym in synonyms:
            found = next((f for f in candidates if _words(f.name) == synonym), None)
            if found is not None:
                return found
        return None
    for synonym in synonyms:
        if len(synonym) < 4:  # "лпр" inside a longer name is too often something else
            continue
        found = next((f for f in candidates if f" {synonym} " in f" {_words(f.name)} "), None)
        if found is not None:
            return found
    return None


def mapping_to_json(mapping: FieldMapping) -> dict[str, dict[str, object]]:
    """The mapping as stored: role → {id, name, type, code, enums} (enums as [[id, label], ...])."""
    return {
        role: {
            "id": field.id,
            "name": field.name,
            "type": field.type,
            "code": field.code,
            "enums": [[enum_id, label] for enum_id, label in field.enums.items()],
        }
        for role, field in mapping.items()
    }


def mapping_from_json(data: object) -> dict[RoleName, CatalogField]:
    """The mapping back from its stored form (entries that are not well-formed are left out)."""
    result: dict[RoleName, CatalogField] = {}
    if not isinstance(data, Mapping):
        return result
    for role, item in data.items():
        if not isinstance(role, str) or not isinstance(item, Mapping) or not isinstance(item.get("id"), int):
            continue
        enums: dict[int, str] = {}
        for pair in item.get("enums") or []:
            if isinstance(pair, list | tuple) and len(pair) == 2 and isinstance(pair[0], int):
                enums[pair[0]] = str(pair[1])
        code = item.get("code")
        result[role] = CatalogField(
            id=int(item["id"]),
            name=str(item.get("name") or ""),
            type=str(item.get("type") or "text"),
            code=str(code) if code else None,
            enums=enums,
        )
    return result


def mapping_lines(mapping: FieldMapping) -> list[str]:
    """One line per role (`role: «name» (#id)`), sorted: how a mapping shows in a version's diff."""
    return [f"{role}: «{field.name}» (#{field.id})" for role, field in sorted(mapping.items())]
