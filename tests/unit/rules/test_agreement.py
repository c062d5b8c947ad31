"""Who must sign a rule file off: one person from marketing and another from sales, or a marked emergency."""

from __future__ import annotations

import rules
from rules.agreement import Approval, activation_verdict, rules_diff


class TestActivationVerdict:
    def test_both_departments_by_different_people_may_activate(self) -> None:
        """Marketing's and sales' sign-offs from two people make the version activatable."""
        verdict = activation_verdict([Approval("anna", "marketing", 1), Approval("sergey", "sales", 2)])
        assert verdict.allowed and not verdict.emergency and verdict.missing_roles == ()

    def test_missing_department_is_named(self) -> None:
        """Without sales' sign-off activation is refused and the reason names sales in both languages."""
        verdict = activation_verdict([Approval("anna", "marketing", 1)])
        assert not verdict.allowed
        assert verdict.missing_roles == ("sales",)
        assert "sales" in verdict.reason("en") and "продажи" in verdict.reason("ru")

    def test_one_person_for_both_roles_is_not_an_agreement(self) -> None:
        """A single person signing as marketing and as sales does not count as two departments agreeing."""
        verdict = activation_verdict([Approval("boss", "marketing", 1), Approval("boss", "sales", 2)])
        assert not verdict.allowed
        assert "boss" in verdict.reason("en")

    def test_emergency_needs_one_approval_and_is_marked(self) -> None:
        """An emergency goes through with one approval, is flagged, and still needs somebody's sign-off."""
        assert activation_verdict([Approval("sergey", "sales", 1)], emergency=True).emergency
        assert activation_verdict([Approval("sergey", "sales", 1)], emergency=True).allowed
        assert not activation_verdict([], emergency=True).allowed


class TestDiff:
    def test_diff_shows_changed_lines_with_version_labels(self) -> None:
        """The diff reads like a code review: labels, removed and added lines."""
        text = rules_diff("a: 1\nb: 2\n", "a: 1\nb: 3", old_label="v1", new_label="v2")
        assert text.splitlines()[:2] == ["--- v1", "+++ v2"]
        assert "-b: 2" in text and "+b: 3" in text

    def test_identical_files_have_an_empty_diff(self) -> None:
        """No changes, no diff."""
        assert rules_diff("a: 1\n", "a: 1\n", old_label="v1", new_label="v2") == ""


class TestPublicApi:
    def test_public_names_are_pinned(self) -> None:
        """The package exports exactly the contract other parts code against, so nothing leaks by accident."""
        assert sorted(rules.__all__) == sorted(
            [
                "BacktestLead",
                "BacktestReport",
                "CatalogField",
                "Classification",
                "CriterionResult",
                "FieldCatalog",
                "RuleFileError",
                "RuleIssue",
                "RuleSet",
                "backtest",
                "check_ruleset",
                "classify_lead",
                "default_rules_text",
                "default_ruleset",
                "load_ruleset",
                "ROLES",
                "FieldMapping",
                "ProposedField",
                "Role",
                "RoleUse",
                "criteria_fields",
                "propose_mapping",
                "role_uses",
                "unmapped_roles",
            ]
        )
