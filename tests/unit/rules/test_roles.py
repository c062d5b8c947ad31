"""Field roles and an account's mapping: proposal from human field names, binding by id, "not mapped" said
out loud, and yes/no selects serving boolean roles."""

from __future__ import annotations

from typing import Any

import pytest

from rules import (
    FieldCatalog,
    check_ruleset,
    classify_lead,
    default_rules_text,
    load_ruleset,
    propose_mapping,
)
from rules.model import CatalogField
from rules.roles import is_yes_no, mapping_from_json, mapping_to_json
from rules.usage import criteria_fields, role_uses, unmapped_message, unmapped_roles
from tests.unit.rules.factories import NOW, moscow_midnight

YES, NO = 501, 502


def russian_account() -> FieldCatalog:
    """Lead fields as people create them in a Russian account: no codes, only the tracking fields have them."""
    return FieldCatalog.from_amocrm(
        [
            {"id": 11, "name": "Бюджет клиента", "type": "numeric"},
            {
                "id": 12,
                "name": "ЛПР",
                "type": "select",
                "enums": [{"id": YES, "value": "Да"}, {"id": NO, "value": "Нет"}],
            },
            {"id": 13, "name": "Потребность", "type": "textarea"},
            {"id": 14, "name": "Дата принятия решения", "type": "date"},
            {"id": 15, "name": "Продукт", "type": "select", "enums": [{"id": 601, "value": "CRM"}]},
            {"id": 16, "name": "Комментарий", "type": "textarea"},
            {"id": 21, "name": "utm_source", "type": "tracking_data", "code": "UTM_SOURCE"},
            {"id": 22, "name": "utm_medium", "type": "tracking_data", "code": "UTM_MEDIUM"},
            {"id": 23, "name": "utm_campaign", "type": "tracking_data", "code": "UTM_CAMPAIGN"},
            {"id": 24, "name": "referrer", "type": "tracking_data", "code": "REFERRER"},
        ]
    )


def lead(**values: Any) -> dict[str, Any]:
    """A v4 lead holding the given field ids' values (no field codes, as on a real account)."""
    entries = []
    for key, value in values.items():
        field_id = int(key.removeprefix("f"))
        item = {"enum_id": value[1], "value": value[0]} if isinstance(value, tuple) else {"value": value}
        entries.append({"field_id": field_id, "field_name": "x", "field_code": None, "values": [item]})
    return {"id": 1, "custom_fields_values": entries}


class TestProposal:
    def test_russian_names_without_codes_are_proposed_for_their_roles(self) -> None:
        """«Бюджет клиента», «ЛПР» (Да/Нет), «Потребность», «Дата принятия решения», «Продукт» get their roles,
        the UTM fields are found by code, and an unrelated field is proposed for nothing."""
        proposal = propose_mapping(russian_account())
        assert {role: p.field.id for role, p in proposal.items()} == {
            "budget": 11,
            "decision_maker": 12,
            "need": 13,
            "decision_date": 14,
            "product": 15,
            "utm_source": 21,
            "utm_medium": 22,
            "utm_campaign": 23,
            "referrer": 24,
        }
        assert proposal["utm_source"].origin == "code" and proposal["budget"].origin == "name"

    @pytest.mark.parametrize(
        ("name", "kind", "role"),
        [
            ("Лицо, принимающее решение", "checkbox", "decision_maker"),
            ("Decision maker", "checkbox", "decision_maker"),
            ("Budget", "numeric", "budget"),
            ("Срок", "date", "decision_date"),
            ("Decision date", "date", "decision_date"),
            ("Need", "text", "need"),
            ("Планируемый бюджет проекта, ₽", "numeric", "budget"),
        ],
    )
    def test_synonyms_in_russian_and_english_are_recognised(self, name: str, kind: str, role: str) -> None:
        """A field named «{name}» is proposed for the role a person means by it."""
        catalog = FieldCatalog.from_amocrm([{"id": 7, "name": name, "type": kind}])
        assert propose_mapping(catalog)[role].field.id == 7

    def test_a_field_of_the_wrong_type_is_not_proposed(self) -> None:
        """A text field called «Бюджет» cannot hold a date: it is never proposed as the decision date, and
        a date called «Срок» is not proposed as the budget."""
        catalog = FieldCatalog.from_amocrm(
            [
                {"id": 1, "name": "Срок", "type": "text"},
                {"id": 2, "name": "ЛПР", "type": "select", "enums": [{"id": 3, "value": "Иванов"}]},
            ]
        )
        proposal = propose_mapping(catalog)
        assert "decision_date" not in proposal
        assert "decision_maker" not in proposal  # a select of names is not a yes/no answer

    def test_the_rule_files_name_is_tried_first(self) -> None:
        """A rule file's `name: Бюджет проекта` wins over the built-in synonyms."""
        catalog = FieldCatalog.from_amocrm(
            [
                {"id": 1, "name": "Бюджет", "type": "numeric"},
                {"id": 2, "name": "Бюджет проекта", "type": "numeric"},
            ]
        )
        assert propose_mapping(catalog, hints={"budget": "Бюджет проекта"})["budget"].field.id == 2

    def test_mapping_survives_storage(self) -> None:
        """A mapping stored as JSON reads back the same, enums included."""
        mapping = {role: p.field for role, p in propose_mapping(russian_account()).items()}
        assert mapping_from_json(mapping_to_json(mapping)) == mapping


class TestYesNoSelect:
    def test_a_da_net_select_is_a_yes_no_field(self) -> None:
        """Да/Нет and Yes/No selects answer yes/no; a select with other options does not."""
        assert is_yes_no(CatalogField(1, "ЛПР", "select", None, {1: "Да", 2: "Нет"}))
        assert is_yes_no(CatalogField(1, "DM", "radiobutton", None, {1: "Yes", 2: "No"}))
        assert not is_yes_no(CatalogField(1, "ЛПР", "select", None, {1: "Да", 2: "Нет", 3: "Не знаю"}))

    def test_rules_check_accepts_type_boolean_on_a_yes_no_select(self) -> None:
        """`type: boolean` on a field that is a Да/Нет select passes the check against the account's fields."""
        text = default_rules_text().replace(
            "decision_maker: {role: decision_maker, type: boolean",
            "decision_maker: {name: ЛПР, type: boolean",
        )
        assert "name: ЛПР" in text
        assert check_ruleset(text, fields=russian_account()) == []

    def test_yes_no_select_answers_the_authority_criterion(self) -> None:
        """«ЛПР: Да» meets the authority criterion and «Нет» fails it."""
        mapping = {role: p.field for role, p in propose_mapping(russian_account()).items()}
        ruleset = load_ruleset(default_rules_text(), mapping=mapping)
        yes = classify_lead(ruleset, lead(f12=("Да", YES)), now=NOW)
        no = classify_lead(ruleset, lead(f12=("Нет", NO)), now=NOW)
        assert [c.status for c in yes.criteria if c.name == "authority"] == ["met"]
        assert [c.status for c in no.criteria if c.name == "authority"] == ["failed"]


class TestClassificationByMapping:
    def test_a_lead_is_read_from_the_mapped_fields_by_id(self) -> None:
        """Budget, ЛПР and a date within 6 months in the account's own fields: hot and qualified."""
        mapping = {role: p.field for role, p in propose_mapping(russian_account()).items()}
        ruleset = load_ruleset(default_rules_text(), mapping=mapping)
        result = classify_lead(
            ruleset,
            lead(f11=300000, f12=("Да", YES), f14=moscow_midnight(NOW.date().replace(month=12))),
            now=NOW,
        )
        assert (result.level, result.qualified) == ("hot", True)

    @pytest.mark.parametrize(
        ("lang", "said", "never"),
        [
            ("ru", "бюджет: неизвестно — поле не сопоставлено", "пустое"),
            ("en", "budget: unknown — field not mapped", "empty"),
        ],
    )
    def test_an_unmapped_role_is_explained_as_not_mapped(self, lang: str, said: str, never: str) -> None:
        """Without a field for the budget, the explanation says the field is not mapped, never that it is empty."""
        ruleset = load_ruleset(default_rules_text(), mapping={})
        result = classify_lead(ruleset, lead(f11=300000), now=NOW)
        assert said in result.explanation[lang]
        assert never not in result.explanation[lang]

    def test_without_an_account_mapping_roles_read_their_usual_codes(self) -> None:
        """Rule sets compiled with no mapping (the sandbox's demo data) still read BUDGET etc. by code."""
        result = classify_lead(
            load_ruleset(default_rules_text()),
            {
                "custom_fields_values": [
                    {"field_id": 1, "field_code": "BUDGET", "values": [{"value": 500000}]}
                ]
            },
            now=NOW,
        )
        assert [c.status for c in result.criteria if c.name == "budget"] == ["met"]

    def test_an_unknown_role_is_reported_at_its_line(self) -> None:
        """`role: budjet` is an issue with a suggestion, not a silently unbound field."""
        text = default_rules_text().replace("{role: budget,", "{role: budjet,")
        issues = check_ruleset(text)
        assert issues and "budjet" in issues[0].message("en") and "budget" in issues[0].hint("en")


class TestRoleUses:
    def test_criteria_roles_and_their_field_ids_are_public(self) -> None:
        """Statistics can ask which field ids back each criterion on this account, and which roles lack one."""
        mapping = {role: p.field for role, p in propose_mapping(russian_account()).items() if role != "need"}
        ruleset = load_ruleset(default_rules_text(), mapping=mapping)
        assert criteria_fields(ruleset) == {
            "budget": (11,),
            "authority": (12,),
            "need": (),
            "timeline": (14,),
        }
        uses = {use.role: use for use in role_uses(ruleset)}
        assert uses["budget"].criteria == ("budget",) and uses["budget"].field_id == 11
        assert [use.role for use in unmapped_roles(ruleset)] == ["need"]
        message = unmapped_message(unmapped_roles(ruleset)[0])
        assert "need" in message("en") and "не сопоставлено" in message("ru")
