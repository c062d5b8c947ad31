"""The optimised evaluation (lazy texts, criterion results shared between leads) against a plain reference."""

from __future__ import annotations

import gc
import random
import textwrap
import weakref
from datetime import timedelta
from typing import Any

import pytest

from integration.i18n import LANGUAGES
from rules import Classification, classify_lead, default_rules_text, default_ruleset, load_ruleset
from rules.engine import (
    CHANNEL,
    COUNT_MET,
    COUNT_NOT_MET,
    EXPERIMENTAL,
    NOT_TARGET,
    TARGET,
    _level_line,
    evaluation_day,
    lead_facts,
)
from rules.loader import RuleSet
from rules.values import MISSING, Invalid
from tests.unit.rules.factories import NOW, contact, field_value, moscow_midnight

# A pack exercising what the default one does not: a criterion over two fields, a tag criterion (never
# shared), an expression criterion (never shared), a date within the past, negation and regexes.
MIXED_RULES = textwrap.dedent(
    """\
    fields:
      budget: {code: BUDGET, type: number, label: {ru: бюджет, en: budget}}
      need: {code: NEED, type: text, label: {ru: потребность, en: need}}
      decided: {code: DECISION_DATE, type: date, label: {ru: дата решения, en: decision date}}
      maker: {code: DECISION_MAKER, type: boolean, label: {ru: ЛПР, en: decision maker}}
      source: {code: UTM_SOURCE, type: text}
    channels:
      - name: ads
        when: {field: source, matches: '^(ya|go)'}
    fallback_channel: direct
    levels:
      - level: hot
        when: {field: decided, within_last: 30 days}
      - level: warm
        when: {not: {field: need, filled: false}}
    fallback_level: cold
    qualified:
      min_met: 2
      criteria:
        - {name: money, when: {all: [{field: budget, gte: 100000}, {field: need, contains: crm}]}}
        - {name: either, when: {any: [{field: maker, equals: true}, {field: decided, lt: today}]}}
        - {name: tagged, when: {tag: vip}}
        - {name: expr, when: {expr: 'budget > 10 and need =~ "^C"'}}
        - {name: not_empty, when: {not: {field: need, in: [crm, телефония]}}}
        - {name: phone, when: {field: has_phone, equals: true}}
    """
)

ODD_VALUES: list[Any] = [
    "soon",
    "",
    None,
    "да",
    "12.01.2027",
    "2027-02-03",
    1.5,
    True,
    [1],
    {"a": 1},
    "1e400",
]


def reference(ruleset: RuleSet, lead: dict[str, Any], contacts: list[Any], now: Any) -> tuple[Any, ...]:
    """Every observable of a classification, computed the plain way: fresh facts per condition, no sharing."""
    day = evaluation_day(now, ruleset)

    def facts() -> Any:
        return lead_facts(ruleset, lead, contacts, day)

    channel = next((c for c in ruleset.channels if c.when.evaluate(facts())), ruleset.fallback_channel)
    rule = next((r for r in ruleset.levels if r.when.evaluate(facts())), None)
    level = rule.level if rule is not None else ruleset.fallback_level
    criteria = []
    for criterion in ruleset.qualification.criteria:
        outcome = criterion.when.evaluate(facts())
        read = [spec.read(facts()) for spec in criterion.specs]
        filled = sum(1 for value in read if value is not MISSING and not isinstance(value, Invalid))
        total = len(criterion.specs)
        status = "met" if outcome is True else "failed" if outcome is False and filled == total else "unknown"
        detail = {lang: criterion.when.describe(facts(), lang) for lang in LANGUAGES}
        criteria.append((criterion.name, status, filled, total, detail))
    met = sum(1 for c in criteria if c[1] == "met")
    required = ruleset.qualification.required_for(channel.name)
    qualified = met >= required
    level_line = {lang: _level_line(ruleset, level, rule, facts(), lang) for lang in LANGUAGES}
    qualified_line = {}
    full = {}
    for lang in LANGUAGES:
        if qualified:
            shown = "; ".join(c[4][lang] for c in criteria if c[1] == "met")
            count = COUNT_MET(lang, met=met, total=len(criteria))
            qualified_line[lang] = f"{TARGET(lang)}: {shown} ({count})"
        else:
            shown = "; ".join(c[4][lang] for c in criteria)
            count = COUNT_NOT_MET(lang, met=met, total=len(criteria), required=required)
            qualified_line[lang] = f"{NOT_TARGET(lang)}: {shown} ({count})"
        channel_text = f"{CHANNEL(lang)}: {channel.title(lang)}"
        if channel.experimental:
            channel_text += f" ({EXPERIMENTAL(lang)})"
        full[lang] = f"{level_line[lang]} | {qualified_line[lang]} | {channel_text}"
    return (
        channel.name,
        channel.experimental,
        level,
        qualified,
        met,
        required,
        ruleset.version,
        tuple(criteria),
        full,
        level_line,
        qualified_line,
    )


def observed(result: Classification) -> tuple[Any, ...]:
    criteria = tuple(
        (c.name, c.status, c.fields_filled, c.fields_total, {lang: c.detail[lang] for lang in LANGUAGES})
        for c in result.criteria
    )
    return (
        result.channel,
        result.experimental,
        result.level,
        result.qualified,
        result.criteria_met,
        result.criteria_required,
        result.rule_version,
        criteria,
        dict(result.explanation),
        dict(result.level_explanation),
        dict(result.qualified_explanation),
    )


def generated_lead(rng: random.Random, lead_id: int) -> dict[str, Any]:
    """A lead like the bench's (few distinct values, so results repeat), sometimes with odd values."""
    values = []
    if rng.random() < 0.8:
        values.append(
            field_value("UTM_SOURCE", rng.choice(["yandex", "google", "vk", "email", "tiktok", " "]))
        )
    if rng.random() < 0.6:
        values.append(field_value("UTM_MEDIUM", rng.choice(["cpc", "newsletter", "referral", "social"])))
    if rng.random() < 0.6:
        values.append(
            field_value("BUDGET", rng.choice([20000, 90000, 150000, "250 000", rng.randrange(10**6)]))
        )
    if rng.random() < 0.5:
        values.append(field_value("DECISION_MAKER", rng.choice([True, False, "да", "нет"])))
    if rng.random() < 0.55:
        values.append(field_value("NEED", rng.choice(["CRM", "телефония", "crm и 1С", "  "])))
    if rng.random() < 0.3:
        values.append(field_value("PRODUCT", rng.choice(["Start", "Pro"])))
    if rng.random() < 0.45:
        day = NOW.date() + timedelta(days=rng.randint(-60, 400))
        values.append(field_value("DECISION_DATE", moscow_midnight(day)))
    for entry in values:
        if rng.random() < 0.08:
            entry["values"] = [{"value": rng.choice(ODD_VALUES)}]
        elif rng.random() < 0.02:
            entry["values"] = rng.choice([[], "x", [{"value": 1}, {"value": 2}]])
    tags = (
        [{"id": 1, "name": rng.choice(["ответ получен", "VIP", "рекомендация"])}]
        if rng.random() < 0.2
        else []
    )
    return {
        "id": lead_id,
        "name": f"Lead {lead_id}",
        "price": rng.choice([0, 50000, None]),
        "status_id": rng.choice([142, 143, 10]),
        "custom_fields_values": values if rng.random() < 0.97 else rng.choice([None, "x", {}]),
        "_embedded": {"tags": tags},
    }


@pytest.mark.parametrize(
    "make_ruleset",
    [
        default_ruleset,
        lambda: load_ruleset(default_rules_text().replace("min_met: 3", "min_met: 2")).with_version(1),
        lambda: load_ruleset(MIXED_RULES),
    ],
    ids=["default", "min_met_2", "mixed"],
)
def test_classification_matches_the_reference(make_ruleset: Any) -> None:
    """Thousands of generated leads, over several days and with odd values, get exactly the reference verdict."""
    ruleset = make_ruleset()
    rng = random.Random(20261123)
    phone = [contact(phone="+79000000000")]
    for index in range(3000):
        lead = generated_lead(rng, index)
        contacts = phone if index % 3 == 0 else []
        now = NOW + timedelta(days=index % 4, hours=index % 13)
        result = classify_lead(ruleset, lead, contacts=contacts, now=now)
        assert observed(result) == reference(ruleset, lead, contacts, now), lead


def test_shared_results_survive_the_memo_starting_over(monkeypatch: pytest.MonkeyPatch) -> None:
    """When the per-criterion memo fills up and starts over, leads still get exactly the reference verdict."""
    monkeypatch.setattr("rules.engine.CRITERION_MEMO_SIZE", 8)
    ruleset = default_ruleset()
    rng = random.Random(7)
    for index in range(600):
        lead = generated_lead(rng, index)
        result = classify_lead(ruleset, lead, now=NOW)
        assert observed(result) == reference(ruleset, lead, [], NOW)
    assert all(c.memo is not None and len(c.memo) <= 8 for c in ruleset.qualification.criteria)


def test_only_field_criteria_are_shared() -> None:
    """Criteria that read tags or run expressions are evaluated per lead; field-only ones may be shared."""
    ruleset = load_ruleset(MIXED_RULES)
    shared = {c.name: c.memo is not None for c in ruleset.qualification.criteria}
    assert shared == {
        "money": True,
        "either": True,
        "tagged": False,
        "expr": False,
        "not_empty": True,
        "phone": True,
    }


def test_a_shared_result_does_not_keep_the_lead() -> None:
    """A criterion result kept for later leads holds only the criterion's values, not the lead it came from."""

    class Lead(dict[str, Any]):
        pass

    ruleset = default_ruleset()
    lead = Lead(id=1, custom_fields_values=[field_value("BUDGET", 500000), field_value("NEED", "CRM")])
    result = classify_lead(ruleset, lead, now=NOW)
    assert [c.detail["en"] for c in result.criteria][:1] == ["budget 500 000 ≥ 100 000"]
    gone = weakref.ref(lead)
    del lead, result
    gc.collect()
    assert gone() is None
    assert all(c.memo for c in ruleset.qualification.criteria)
