"""A broken rule file is reported with file, line, column and a fix hint, and never loads."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules import (
    CatalogField,
    FieldCatalog,
    RuleFileError,
    RuleIssue,
    check_ruleset,
    classify_lead,
    default_rules_text,
    load_ruleset,
)
from rules.source import MAX_RULE_FILE_BYTES

BASE = textwrap.dedent(
    """\
    format: 1
    fields:
      budget: {code: BUDGET, type: number}
      need: {code: NEED, type: text}
      source: {code: UTM_SOURCE, type: text}
      decided: {code: DECISION_DATE, type: date}
    channels:
      - name: vk
        when: {field: source, equals: vk}
    fallback_channel: direct
    levels:
      - level: hot
        when: {field: decided, within_next: 6 months}
      - level: warm
        when: {field: need, filled: true}
    fallback_level: cold
    qualified:
      min_met: 1
      criteria:
        - name: budget
          when: {field: budget, gte: 100000}
    """
)


def issues_of(text: str) -> list[RuleIssue]:
    return check_ruleset(text, source="rules.yaml")


def only_issue(text: str) -> RuleIssue:
    found = issues_of(text)
    assert len(found) == 1, [str(i) for i in found]
    return found[0]


def position(text: str, needle: str, occurrence: int = 1) -> tuple[int, int]:
    """1-based line and column of the n-th occurrence of `needle` in `text`."""
    index = -1
    for _ in range(occurrence):
        index = text.index(needle, index + 1)
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, column


class TestValidFiles:
    def test_default_pack_has_no_issues(self) -> None:
        """The shipped default pack passes its own check."""
        assert check_ruleset(default_rules_text()) == []

    def test_minimal_file_loads(self) -> None:
        """A small hand-written file with one channel, levels and a criterion loads."""
        ruleset = load_ruleset(BASE)
        assert ruleset.channel_names == ("vk", "direct")


class TestBrokenFiles:
    def test_malformed_yaml_names_line_and_column(self) -> None:
        """A YAML syntax slip is reported at the line and column where the parser stopped."""
        text = BASE.replace("  - level: warm\n", "  - level: warm\n bad: [\n")
        issue = issues_of(text)[0]
        assert issue.file == "rules.yaml"
        assert issue.line >= position(text, "bad: [")[0]
        assert "YAML" in issue.message("en")
        assert str(issue).startswith(f"rules.yaml:{issue.line}:{issue.column}: ")

    def test_unknown_field_points_at_the_name_and_suggests_a_fix(self) -> None:
        """Naming a field that was never declared is reported where the name is, with a close guess."""
        text = BASE.replace("{field: source, equals: vk}", "{field: sourse, equals: vk}")
        issue = only_issue(text)
        assert (issue.line, issue.column) == position(text, "sourse")
        assert "unknown field 'sourse'" in issue.message("en")
        assert "source" in issue.hint("en")
        assert "неизвестное поле" in issue.message("ru")

    def test_wrong_type_in_comparison_is_reported_at_the_value(self) -> None:
        """Comparing a number field with a word is a type error at the value's position."""
        text = BASE.replace("{field: budget, gte: 100000}", "{field: budget, gte: lots}")
        issue = only_issue(text)
        assert (issue.line, issue.column) == position(text, "lots")
        assert "wrong type" in issue.message("en")
        assert "number" in issue.hint("en")

    def test_check_that_does_not_fit_the_field_type_is_reported(self) -> None:
        """A regex on a date field is refused at the check's key."""
        text = BASE.replace("{field: decided, within_next: 6 months}", "{field: decided, matches: '^2027'}")
        issue = only_issue(text)
        assert (issue.line, issue.column) == position(text, "matches")

    def test_regex_that_does_not_compile_is_reported(self) -> None:
        """A broken regular expression is caught at load time, at its position, not at evaluation time."""
        text = BASE.replace("{field: source, equals: vk}", "{field: source, matches: '(vk'}")
        issue = only_issue(text)
        assert (issue.line, issue.column) == position(text, "'(vk'")
        assert "regular expression" in issue.message("en")

    def test_rule_shadowed_by_an_earlier_one_is_unreachable(self) -> None:
        """A channel rule that an earlier, broader rule always catches first is reported as unreachable."""
        text = BASE.replace(
            "fallback_channel: direct",
            "  - name: vk_ads\n    when: {all: [{field: source, equals: vk}, {field: need, filled: true}]}\n"
            "fallback_channel: direct",
        )
        issue = only_issue(text)
        assert (issue.line, issue.column) == position(text, "name: vk_ads")
        assert "shadowed by rule 'vk'" in issue.message("en")

    def test_level_with_no_rule_is_reported(self) -> None:
        """Forgetting the rule for a level of the scale is an error naming that level."""
        text = BASE.replace("  - level: warm\n    when: {field: need, filled: true}\n", "")
        issue = only_issue(text)
        assert "level 'warm' has no rule" in issue.message("en")
        assert (issue.line, issue.column) == position(text, "levels:")

    def test_duplicate_channel_is_reported_at_the_second_declaration(self) -> None:
        """Two channels with one name are refused, pointing at the second and naming the first's line."""
        text = BASE.replace(
            "fallback_channel: direct",
            "  - name: vk\n    when: {field: need, filled: true}\nfallback_channel: direct",
        )
        issue = only_issue(text)
        assert (issue.line, issue.column) == position(text, "vk", occurrence=3)
        assert f"line {position(text, 'name: vk')[0]}" in issue.hint("en")

    def test_unknown_level_and_unknown_key_are_reported_with_hints(self) -> None:
        """Typos in a level name or a key come back with "did you mean"."""
        text = BASE.replace("level: warm", "level: wram").replace("min_met: 1", "min_mte: 1")
        found = issues_of(text)
        messages = [i.message("en") for i in found]
        assert any("unknown level 'wram'" in m for m in messages)
        assert any("unknown key 'min_mte'" in m for m in messages)
        assert any("warm" in i.hint("en") for i in found)

    def test_every_issue_is_reported_at_once(self) -> None:
        """A file with several mistakes lists all of them, so one run of `rules check` is enough."""
        text = BASE.replace("gte: 100000", "gte: lots").replace("equals: vk", "matches: '(vk'")
        assert len(issues_of(text)) == 2

    def test_huge_file_is_refused_quickly(self) -> None:
        """A 10 MB file is refused with a size error instead of being parsed."""
        text = "# " + "x" * (10 * 1024 * 1024)
        issue = only_issue(text)
        assert "too large" in issue.message("en")
        assert len(text) > MAX_RULE_FILE_BYTES

    def test_deep_nesting_is_an_error_not_a_crash(self) -> None:
        """A generated, absurdly nested condition is refused with an issue."""
        deep = "{field: need, filled: true}"
        for _ in range(60):
            deep = "{not: " + deep + "}"
        text = BASE.replace("{field: need, filled: true}", deep)
        assert any("nested too deeply" in i.message("en") for i in issues_of(text))

    @pytest.mark.parametrize("text", ["", "just a string", "- a\n- list", "a: b\n---\nc: d\n", "\t:"])
    def test_non_rule_documents_give_issues(self, text: str) -> None:
        """Empty files, scalars, lists and multi-document files are issues, never exceptions."""
        assert issues_of(text)

    def test_unknown_parameter_is_reported(self) -> None:
        """A `$name` that is not defined under params is reported where it is used."""
        text = BASE.replace("gte: 100000", "gte: $budget_floor")
        issue = only_issue(text)
        assert (issue.line, issue.column) == position(text, "$budget_floor")

    def test_expression_errors_are_reported(self) -> None:
        """A rule-engine expression with a syntax error or an unknown name is refused at its position."""
        text = BASE.replace("{field: source, equals: vk}", "{expr: 'budget >= '}")
        assert (only_issue(text).line, only_issue(text).column) == position(text, "'budget >= '")
        unknown = BASE.replace("{field: source, equals: vk}", "{expr: 'bugdet >= 5'}")
        assert "unknown field 'bugdet'" in only_issue(unknown).message("en")

    def test_load_refuses_a_broken_file_with_all_issues(self) -> None:
        """Loading a broken file raises RuleFileError carrying every issue."""
        text = BASE.replace("gte: 100000", "gte: lots")
        with pytest.raises(RuleFileError) as error:
            load_ruleset(text, source="x.yaml")
        assert error.value.issues[0].file == "x.yaml"
        assert "x.yaml:" in str(error.value)


class TestAccountFields:
    CATALOG = FieldCatalog(
        fields=(
            CatalogField(id=1001, name="Бюджет", type="numeric", code="BUDGET"),
            CatalogField(id=1003, name="Потребность", type="textarea", code="NEED"),
            CatalogField(id=2001, name="utm_source", type="tracking_data", code="UTM_SOURCE"),
            CatalogField(id=1004, name="Дата решения", type="date"),
        )
    )

    def test_field_missing_from_the_account_is_reported(self) -> None:
        """With the account's field list, a declared field the account lacks is an issue at its declaration."""
        issues = check_ruleset(BASE, source="r.yaml", fields=self.CATALOG)
        assert len(issues) == 1
        assert (issues[0].line, issues[0].column) == position(BASE, "decided")
        assert "DECISION_DATE" in issues[0].message("en")

    def test_field_found_by_name_loads(self) -> None:
        """A field addressed by its amoCRM name maps to its id and reads values by id."""
        text = BASE.replace(
            "decided: {code: DECISION_DATE, type: date}", "decided: {name: Дата решения, type: date}"
        )
        ruleset = load_ruleset(text, fields=self.CATALOG)
        assert ruleset.fields["decided"].field_id == 1004

    def test_type_mismatch_with_the_account_is_reported(self) -> None:
        """Declaring a text field as a date is caught against the account's field types."""
        text = BASE.replace("need: {code: NEED, type: text}", "need: {code: NEED, type: date}")
        messages = [i.message("en") for i in check_ruleset(text, fields=self.CATALOG)]
        assert any("type textarea in amoCRM" in m for m in messages)

    def test_select_value_given_only_as_enum_id_reads_through_the_catalog(self) -> None:
        """A select value sent as a bare enum id is read as its label when the account's fields are known."""
        catalog = FieldCatalog(
            fields=(
                *self.CATALOG.fields,
                CatalogField(id=1005, name="Решение", type="date", code="DECISION_DATE"),
                CatalogField(id=77, name="Источник", type="select", enums={5: "VK"}),
            )
        )
        text = BASE.replace("source: {code: UTM_SOURCE, type: text}", "source: {name: источник, type: text}")
        ruleset = load_ruleset(text, fields=catalog)
        lead = {"custom_fields_values": [{"field_id": 77, "values": [{"enum_id": 5}]}]}
        unknown = {"custom_fields_values": [{"field_id": 77, "values": [{"enum_id": 6}]}]}
        now = datetime(2026, 11, 23, tzinfo=UTC)
        assert classify_lead(ruleset, lead, now=now).channel == "vk"
        assert classify_lead(ruleset, unknown, now=now).channel == "direct"

    def test_catalog_is_built_from_amocrm_json(self) -> None:
        """The catalog reads amoCRM's custom-field list, skipping malformed items."""
        catalog = FieldCatalog.from_amocrm(
            [
                {
                    "id": 5,
                    "name": "Продукт",
                    "type": "select",
                    "code": None,
                    "enums": [{"id": 7, "value": "Pro"}],
                },
                {"name": "no id"},
            ]
        )
        assert catalog.fields == (
            CatalogField(id=5, name="Продукт", type="select", code=None, enums={7: "Pro"}),
        )


class TestAnyText:
    @settings(max_examples=150, deadline=None)
    @given(text=st.text(max_size=300))
    def test_any_text_gives_issues_or_loads(self, text: str) -> None:
        """Whatever text is checked, the answer is a list of issues with positions, never an exception."""
        for issue in check_ruleset(text, source="r.yaml"):
            assert issue.line >= 1 and issue.column >= 1
            assert issue.message("ru") and issue.hint("en")

    @settings(max_examples=150, deadline=None)
    @given(data=st.data())
    def test_damaged_default_pack_gives_issues_or_loads(self, data: st.DataObject) -> None:
        """Deleting or garbling a line of a real rule file yields issues or a working rule set, never a crash."""
        lines = default_rules_text().splitlines()
        index = data.draw(st.integers(min_value=0, max_value=len(lines) - 1))
        replacement = data.draw(
            st.sampled_from(["", "  - ", "x: [", "  when: {}", "    - {field: budget}", "\t"])
        )
        lines[index] = replacement
        text = "\n".join(lines)
        issues = check_ruleset(text, source="r.yaml")
        if not issues:
            assert load_ruleset(text).channel_names
        assert all(issue.line <= len(lines) + 1 for issue in issues)
