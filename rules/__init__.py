"""The objective rule engine: rule files, validation, evaluation with explanations, backtests.

Pure code, no I/O: the domain layer, importing nothing of LeadPact outside `rules` (`.importlinter`). It also holds
the pure values the layers above share: `rules.i18n` (`Text`, `Language`) and `rules.promo` (`Promo`, lead facts).
"""

from __future__ import annotations

from rules.backtest import BacktestLead, BacktestReport, backtest
from rules.defaults import default_rules_text
from rules.engine import classify_lead
from rules.loader import RuleSet, check_ruleset, load_ruleset
from rules.model import (
    CatalogField,
    Classification,
    CriterionResult,
    FieldCatalog,
    RuleFileError,
    RuleIssue,
)
from rules.roles import ROLES, FieldMapping, ProposedField, Role, propose_mapping
from rules.usage import RoleUse, criteria_fields, role_uses, unmapped_roles


def default_ruleset() -> RuleSet:
    """The default pack, compiled, as version 0 (what runs until an account activates its own rules)."""
    return load_ruleset(default_rules_text(), source="rules/defaults/default.yaml")


__all__ = [
    "ROLES",
    "BacktestLead",
    "BacktestReport",
    "CatalogField",
    "Classification",
    "CriterionResult",
    "FieldCatalog",
    "FieldMapping",
    "ProposedField",
    "Role",
    "RoleUse",
    "RuleFileError",
    "RuleIssue",
    "RuleSet",
    "backtest",
    "check_ruleset",
    "classify_lead",
    "criteria_fields",
    "default_rules_text",
    "default_ruleset",
    "load_ruleset",
    "propose_mapping",
    "role_uses",
    "unmapped_roles",
]
