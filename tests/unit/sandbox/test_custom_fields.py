"""Checking and normalising custom field values as amoCRM does."""

from __future__ import annotations

from typing import Any

from amocrm_sandbox.custom_fields import merge_field_values, new_field, normalise_field_values
from amocrm_sandbox.state import Account, IdSequences


def account_with_fields() -> tuple[Account, dict[str, int]]:
    account = Account(id=1, subdomain="acme", name="Acme", created_at=0)
    ids = IdSequences()
    made = {
        "BUDGET": new_field(
            ids=ids, account=account, entity="leads", name="Бюджет", field_type="numeric", code="BUDGET"
        ),
        "OK": new_field(
            ids=ids, account=account, entity="leads", name="ЛПР", field_type="checkbox", code="OK"
        ),
        "PRODUCT": new_field(
            ids=ids,
            account=account,
            entity="leads",
            name="Продукт",
            field_type="select",
            code="PRODUCT",
            enums=[{"value": "A"}, {"value": "B"}],
        ),
        "TAGS": new_field(
            ids=ids,
            account=account,
            entity="leads",
            name="Метки",
            field_type="multiselect",
            code="TAGS",
            enums=[{"value": "x"}, {"value": "y"}],
        ),
        "WHEN": new_field(
            ids=ids, account=account, entity="leads", name="Когда", field_type="date", code="WHEN"
        ),
    }
    return account, {code: field["id"] for code, field in made.items()}


def normalise(payload: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    account, _ = account_with_fields()
    values, errors = normalise_field_values(account.fields_of("leads"), payload)
    return values, [f"{e.code}@{e.path}" for e in errors]


class TestNormalise:
    def test_values_are_stored_with_name_code_and_type(self) -> None:
        """A value written by code is stored with the field's id, name, code and type."""
        values, errors = normalise([{"field_code": "BUDGET", "values": [{"value": 1500}]}])
        assert errors == []
        assert values[0]["field_name"] == "Бюджет"
        assert values[0]["field_type"] == "numeric"
        assert values[0]["values"] == [{"value": "1500"}]

    def test_select_accepts_label_or_enum_id(self) -> None:
        """A select takes either its label or its enum id and stores both."""
        account, ids = account_with_fields()
        enum_b = account.fields_of("leads")[ids["PRODUCT"]]["enums"][1]["id"]
        fields = account.fields_of("leads")
        by_label, _ = normalise_field_values(
            fields, [{"field_id": ids["PRODUCT"], "values": [{"value": "B"}]}]
        )
        by_id, _ = normalise_field_values(
            fields, [{"field_id": ids["PRODUCT"], "values": [{"enum_id": enum_b}]}]
        )
        assert by_label[0]["values"][0]["enum_id"] == by_id[0]["values"][0]["enum_id"] == enum_b
        assert by_id[0]["values"][0]["value"] == "B"

    def test_multiselect_keeps_several_values(self) -> None:
        """A multiselect keeps every chosen option; a select keeps only one."""
        values, errors = normalise(
            [
                {"field_code": "TAGS", "values": [{"value": "x"}, {"value": "y"}]},
                {"field_code": "PRODUCT", "values": [{"value": "A"}, {"value": "B"}]},
            ]
        )
        assert errors == []
        assert [len(v["values"]) for v in values] == [2, 1]

    def test_wrong_types_are_reported_with_paths(self) -> None:
        """Text in a number, a string in a checkbox, a bad date and unknown fields are each reported by path."""
        _, errors = normalise(
            [
                {"field_code": "BUDGET", "values": [{"value": "много"}]},
                {"field_code": "OK", "values": [{"value": "yes"}]},
                {"field_code": "WHEN", "values": [{"value": "tomorrow"}]},
                {"field_id": 42, "values": [{"value": 1}]},
                {"field_code": "NOPE", "values": [{"value": 1}]},
                {"field_code": "PRODUCT", "values": [{"enum_id": 1}]},
            ]
        )
        assert errors == [
            "InvalidType@custom_fields_values.0.values.0.value",
            "InvalidType@custom_fields_values.1.values.0.value",
            "InvalidType@custom_fields_values.2.values.0.value",
            "NotSupportedChoice@custom_fields_values.3.field_id",
            "NotSupportedChoice@custom_fields_values.4.field_code",
            "NotSupportedChoice@custom_fields_values.5.values.0.enum_id",
        ]


class TestMerge:
    def test_named_fields_replace_others_stay_and_empty_clears(self) -> None:
        """Writing some fields keeps the rest; writing null values clears that field."""
        current, _ = normalise(
            [
                {"field_code": "BUDGET", "values": [{"value": 1}]},
                {"field_code": "OK", "values": [{"value": True}]},
            ]
        )
        written, _ = normalise(
            [{"field_code": "BUDGET", "values": [{"value": 2}]}, {"field_code": "OK", "values": None}]
        )
        merged = merge_field_values(current, written)
        assert merged is not None
        assert [(v["field_code"], v["values"]) for v in merged] == [("BUDGET", [{"value": "2"}])]
        assert merge_field_values(merged, [{**merged[0], "values": []}]) is None
