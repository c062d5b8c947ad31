"""Evaluation details: empty fields are unknown rather than failed, odd values never break the engine."""

from __future__ import annotations

import textwrap
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules import Classification, classify_lead, default_ruleset, load_ruleset
from rules.engine import classify_strict
from rules.loader import RuleSet
from tests.unit.rules.factories import FIELD_IDS, NOW, contact, field_value, make_lead


@pytest.fixture(scope="module")
def pack() -> RuleSet:
    return default_ruleset()


def criterion(result: Classification, name: str) -> Any:
    return next(c for c in result.criteria if c.name == name)


class TestUnknownIsNotFailed:
    def test_empty_need_is_unknown_with_a_reason(self, pack: RuleSet) -> None:
        """An empty need field makes the need criterion unknown, and the explanation says the field is empty."""
        result = classify_lead(pack, make_lead(BUDGET=50000), now=NOW)
        need = criterion(result, "need")
        assert need.status == "unknown"
        assert need.detail["en"] == "need: unknown — field empty"
        assert need.detail["ru"] == "потребность: неизвестно — поле пустое"

    def test_stated_low_budget_is_failed(self, pack: RuleSet) -> None:
        """A budget below the threshold is a failed criterion, shown with the comparison."""
        result = classify_lead(pack, make_lead(BUDGET=50000), now=NOW)
        budget = criterion(result, "budget")
        assert budget.status == "failed"
        assert budget.detail["en"] == "budget 50 000 < 100 000"

    def test_unreadable_value_is_unknown_and_quoted(self, pack: RuleSet) -> None:
        """A date field holding "soon" is unknown, and the explanation quotes what it could not read."""
        result = classify_lead(pack, make_lead(DECISION_DATE="soon"), now=NOW)
        timeline = criterion(result, "timeline")
        assert timeline.status == "unknown"
        assert "'soon' not recognised" in timeline.detail["en"]

    def test_explicit_no_is_failed_but_missing_checkbox_is_unknown(self, pack: RuleSet) -> None:
        """An unticked decision-maker box that amoCRM sends as false fails; an absent one is unknown."""
        ticked_no = classify_lead(pack, make_lead(DECISION_MAKER=False), now=NOW)
        absent = classify_lead(pack, make_lead(), now=NOW)
        assert criterion(ticked_no, "authority").status == "failed"
        assert criterion(ticked_no, "authority").detail["en"] == "decision maker = no (needs yes)"
        assert criterion(ticked_no, "authority").detail["ru"] == "ЛПР = нет (нужно да)"
        assert criterion(absent, "authority").status == "unknown"

    def test_completeness_counts_filled_criteria(self, pack: RuleSet) -> None:
        """Completeness is the share of criteria whose fields sales filled, so stats can separate the two."""
        result = classify_lead(pack, make_lead(BUDGET=1, DECISION_MAKER=True), now=NOW)
        assert result.completeness == 0.5
        assert result.criteria_unknown == 2
        assert not result.qualified

    def test_unknown_criteria_never_count_as_met(self, pack: RuleSet) -> None:
        """Two met and two unknown criteria do not reach the three needed."""
        result = classify_lead(pack, make_lead(BUDGET=200000, DECISION_MAKER=True), now=NOW)
        assert (result.criteria_met, result.qualified) == (2, False)
        assert result.qualified_explanation["en"].endswith("(2 of 4, 3 needed)")


class TestOddValues:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("", "unknown"),
            ("   ", "unknown"),
            ("1 500 000", "met"),
            ("1500000,50", "met"),
            ("99 999", "failed"),
            ("many", "unknown"),
            (True, "unknown"),
            (10**400, "unknown"),
            ("1" * 400, "unknown"),
            ([1, 2], "unknown"),
            (float("nan"), "unknown"),
            (None, "unknown"),
        ],
    )
    def test_budget_values_of_any_shape(self, pack: RuleSet, raw: Any, expected: str) -> None:
        """Budgets as strings with spaces or commas are read; anything unreadable is unknown."""
        result = classify_lead(pack, make_lead(BUDGET=raw), now=NOW)
        assert criterion(result, "budget").status == expected

    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            (int(NOW.timestamp()) + 30 * 86400, "met"),
            (str(int(NOW.timestamp()) + 30 * 86400), "met"),
            ((int(NOW.timestamp()) + 30 * 86400) * 1000, "met"),
            ("2027-01-10T10:00:00+03:00", "met"),
            ("10.01.2027", "met"),
            ("31.02.2027", "unknown"),
            ("2027-13-01", "unknown"),
            (10**20, "unknown"),
            (10**400, "unknown"),
            ("9" * 400, "unknown"),
            (-(10**12), "unknown"),
            ("2030-01-01", "failed"),
        ],
    )
    def test_decision_dates_of_any_shape(self, pack: RuleSet, raw: Any, expected: str) -> None:
        """Dates as unix seconds, milliseconds, ISO or dd.mm.yyyy are read; impossible dates are unknown."""
        result = classify_lead(pack, make_lead(DECISION_DATE=raw), now=NOW)
        assert criterion(result, "timeline").status == expected

    def test_select_with_unknown_enum_id_is_unknown(self, pack: RuleSet) -> None:
        """A select value carrying only an enum id nobody knows leaves the field unknown, not filled with junk."""
        lead = make_lead()
        lead["custom_fields_values"] = [
            {"field_id": FIELD_IDS["PRODUCT"], "field_code": "PRODUCT", "values": [{"enum_id": 424242}]}
        ]
        result = classify_lead(pack, lead, now=NOW)
        assert result.level == "warm" or result.level == "cold"
        assert classify_lead(pack, lead, now=NOW).reason("en")

    def test_garbage_structure_gives_a_defined_result(self, pack: RuleSet) -> None:
        """A lead whose custom fields are not even a list still gets a channel and level with a reason."""
        leads: list[dict[str, Any]] = [
            {"custom_fields_values": "oops"},
            {"_embedded": []},
            {},
            {"custom_fields_values": [None, 5]},
        ]
        for lead in leads:
            result = classify_lead(pack, lead, now=NOW)
            assert result.channel == "direct"
            assert result.level == "cold"
            assert result.reason("ru")

    def test_naive_now_is_taken_as_utc(self, pack: RuleSet) -> None:
        """A naive `now` does not crash; it is read as UTC."""
        result = classify_lead(pack, make_lead(DECISION_DATE=date(2027, 1, 1)), now=NOW.replace(tzinfo=None))
        assert result.level == "hot"


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([10**400, -(10**400), 2**63]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["", " ", "2027-03-01", "01.03.2027", "1700000000", "да", "нет", "500 000"]),
)


def json_containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)


json_values = st.recursive(
    json_scalars,
    json_containers,
    max_leaves=8,
)
custom_field = st.fixed_dictionaries(
    {
        "field_id": st.one_of(st.sampled_from(sorted(FIELD_IDS.values())), json_scalars),
        "field_code": st.one_of(st.sampled_from(sorted(FIELD_IDS)), json_scalars),
        "field_name": json_scalars,
        "values": st.one_of(
            st.lists(
                st.fixed_dictionaries({"value": json_values}, optional={"enum_id": json_scalars}), max_size=3
            ),
            json_values,
        ),
    }
)
any_lead = st.fixed_dictionaries(
    {},
    optional={
        "id": json_scalars,
        "price": json_scalars,
        "status_id": json_scalars,
        "name": json_values,
        "created_at": json_scalars,
        "custom_fields_values": st.one_of(
            st.lists(st.one_of(custom_field, json_values), max_size=6), json_values
        ),
        "_embedded": st.one_of(
            json_values,
            st.fixed_dictionaries({"tags": st.lists(st.dictionaries(st.just("name"), json_scalars))}),
        ),
    },
)


class TestProperties:
    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(lead=any_lead, contacts=st.lists(st.one_of(json_values, st.just(contact(phone="1")))))
    def test_any_lead_gets_a_classification(
        self, pack: RuleSet, lead: dict[str, Any], contacts: list[Any]
    ) -> None:
        """Whatever a lead holds, the engine returns a classification with a reason in both languages."""
        result = classify_strict(pack, lead, contacts=contacts, now=NOW)
        assert result.level in ("hot", "warm", "cold", "unknown")
        assert result.channel in pack.channel_names
        assert result.qualified == (result.criteria_met >= result.criteria_required)
        assert result.reason("ru") and result.reason("en")
        assert all(c.detail["ru"] and c.detail["en"] for c in result.criteria)
        assert 0.0 <= result.completeness <= 1.0


EXPRESSION_RULES = textwrap.dedent(
    """\
    fields:
      budget: {code: BUDGET, type: number}
      source: {code: UTM_SOURCE, type: text}
      decided: {code: DECISION_DATE, type: date}
    channels:
      - name: big_yandex
        when: {expr: 'budget >= 1000000 and source =~ "^ya"'}
      - name: tagged
        when: {expr: '"vip" in tags'}
    fallback_channel: direct
    levels:
      - level: hot
        when: {expr: 'decided <= today + t"P180D"'}
      - level: warm
        when: {field: budget, filled: true}
    fallback_level: cold
    qualified:
      min_met: 2
      criteria:
        - {name: budget, when: {field: budget, gte: 10}}
        - {name: phone, when: {field: has_phone, equals: true}}
      overrides:
        tagged: {min_met: 1}
    """
)


class TestExpressionsAndOverrides:
    def test_rule_engine_expression_picks_a_channel(self) -> None:
        """A rule-engine expression over declared fields decides a channel."""
        ruleset = load_ruleset(EXPRESSION_RULES)
        big = classify_lead(ruleset, make_lead(BUDGET=2_000_000, UTM_SOURCE="yandex"), now=NOW)
        small = classify_lead(ruleset, make_lead(BUDGET=20, UTM_SOURCE="yandex"), now=NOW)
        assert (big.channel, small.channel) == ("big_yandex", "direct")

    def test_expression_on_an_empty_field_is_unknown_not_an_error(self) -> None:
        """An expression whose field is empty does not match and does not raise."""
        ruleset = load_ruleset(EXPRESSION_RULES)
        assert classify_lead(ruleset, make_lead(UTM_SOURCE="yandex"), now=NOW).channel == "direct"

    def test_expression_sees_tags(self) -> None:
        """Expressions can test the lead's tags."""
        ruleset = load_ruleset(EXPRESSION_RULES)
        assert classify_lead(ruleset, make_lead(tags=("VIP",)), now=NOW).channel == "tagged"

    def test_per_channel_override_lowers_the_minimum(self) -> None:
        """A channel with its own minimum qualifies a lead that the general minimum would not."""
        ruleset = load_ruleset(EXPRESSION_RULES)
        tagged = classify_lead(ruleset, make_lead(tags=("vip",), BUDGET=50), now=NOW)
        plain = classify_lead(ruleset, make_lead(BUDGET=50), now=NOW)
        assert (tagged.qualified, plain.qualified) == (True, False)

    def test_contact_phone_counts_as_a_fact(self) -> None:
        """A lead whose contact has a phone meets the has-phone criterion."""
        ruleset = load_ruleset(EXPRESSION_RULES)
        result = classify_lead(
            ruleset, make_lead(BUDGET=50), contacts=[contact(phone="+79000000000")], now=NOW
        )
        assert result.qualified is True

    def test_field_value_helper_builds_amocrm_shape(self) -> None:
        """The factory's field entries look like amoCRM's (guards the fixtures the other tests rely on)."""
        entry = field_value("BUDGET", 5)
        assert entry["values"] == [{"value": 5}] and entry["field_id"] == FIELD_IDS["BUDGET"]
