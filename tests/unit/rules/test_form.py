"""The form editor writes its common changes into the rule file itself, line by line."""

from __future__ import annotations

from rules import default_rules_text
from rules.form import FormValues, apply_form, form_values


class TestFormEditor:
    def test_form_reads_the_files_thresholds_minimum_and_norm(self) -> None:
        """The form opens with the file's budget_min, decision horizon, BANT minimum and the qualified norm."""
        values = form_values(default_rules_text())
        assert values.params == {"decision_horizon": "6 months", "budget_min": "100000"}
        assert (values.min_met, values.qualified_share) == (3, 0.5)

    def test_changing_budget_min_changes_only_that_line(self) -> None:
        """Lowering budget_min to 50000 changes one line of the file; comments and everything else stay."""
        original = default_rules_text()
        changed = apply_form(
            original, FormValues(params={"budget_min": "50000", "decision_horizon": "6 months"})
        )
        before, after = original.splitlines(), changed.splitlines()
        differing = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
        assert differing == [("  budget_min: 100000", "  budget_min: 50000")]

    def test_minimum_met_and_norm_are_written_in_their_sections(self) -> None:
        """BANT's minimum goes to `qualified.min_met` and the norm to `norms.qualified_share`, not elsewhere."""
        changed = apply_form(default_rules_text(), FormValues(min_met=2, qualified_share=0.3))
        values = form_values(changed)
        assert (values.min_met, values.qualified_share) == (2, 0.3)
        assert changed.count("min_met: 2") == 1 and "qualified_share: 0.3" in changed

    def test_unknown_threshold_is_not_invented(self) -> None:
        """A threshold the file does not have is not added by the form (new ones go through the YAML editor)."""
        assert apply_form(default_rules_text(), FormValues(params={"nope": "1"})) == default_rules_text()
