"""Which roles a rule set's rules read, and which field of the account backs each one.

The public way for other parts (statistics' completeness, checks, the admin overview) to ask "which fields do
the criteria use on this account" without knowing field codes.
"""

from __future__ import annotations

from dataclasses import dataclass

from rules.conditions import Condition, FieldSpec
from rules.i18n import Text
from rules.loader import RuleSet

UNMAPPED_ROLE = Text(
    ru="роль «{role}» ({label}) используется в правилах ({used_by}), но поле аккаунта не сопоставлено",
    en="role '{role}' ({label}) is used by the rules ({used_by}) but no field of the account is mapped",
)


@dataclass(frozen=True, slots=True)
class RoleUse:
    """One role field of a rule set: the account field id behind it (None: not mapped) and what reads it.

    `criteria` names the qualification criteria that read it; `used_by` also lists channel and level rules
    (`channel:<name>`, `level:<name>`, `criterion:<name>`). `field_id` is None as well when the set was
    compiled without an account mapping and binds the role by its code.
    """

    role: str
    alias: str
    label: Text
    field_id: int | None
    unmapped: bool
    criteria: tuple[str, ...]
    used_by: tuple[str, ...]


def _readers(ruleset: RuleSet) -> list[tuple[str, Condition]]:
    readers: list[tuple[str, Condition]] = [(f"channel:{c.name}", c.when) for c in ruleset.channels]
    readers += [(f"level:{rule.level}", rule.when) for rule in ruleset.levels]
    readers += [(f"criterion:{c.name}", c.when) for c in ruleset.qualification.criteria]
    return readers


def role_uses(ruleset: RuleSet) -> tuple[RoleUse, ...]:
    """Every role field the rule file declares, in declaration order, with its binding and its readers."""
    readers = _readers(ruleset)
    result = []
    for spec in ruleset.fields.values():
        if spec.role is None:
            continue
        used_by = tuple(where for where, condition in readers if _reads(condition, spec))
        criteria = tuple(where.split(":", 1)[1] for where in used_by if where.startswith("criterion:"))
        result.append(
            RoleUse(spec.role, spec.alias, spec.label, spec.field_id, spec.unmapped, criteria, used_by)
        )
    return tuple(result)


def _reads(condition: Condition, spec: FieldSpec) -> bool:
    return any(used.alias == spec.alias for used in condition.specs)


def unmapped_roles(ruleset: RuleSet) -> tuple[RoleUse, ...]:
    """Roles some rule reads while the account's mapping binds no field to them (each makes answers unknown)."""
    return tuple(use for use in role_uses(ruleset) if use.unmapped and use.used_by)


def criteria_fields(ruleset: RuleSet) -> dict[str, tuple[int, ...]]:
    """Criterion name → the account field ids it reads (role-mapped or bound by id; unmapped ones left out)."""
    return {
        criterion.name: tuple(spec.field_id for spec in criterion.when.specs if spec.field_id is not None)
        for criterion in ruleset.qualification.criteria
    }


def unmapped_message(use: RoleUse) -> Text:
    """«роль "budget" (бюджет) используется в правилах (criterion:budget), но поле … не сопоставлено»."""
    return Text(
        ru=UNMAPPED_ROLE("ru", role=use.role, label=use.label("ru"), used_by=", ".join(use.used_by)),
        en=UNMAPPED_ROLE("en", role=use.role, label=use.label("en"), used_by=", ".join(use.used_by)),
    )
