"""Typed entities: field lookup by code or name, tags, unknown keys kept, tokens hidden."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import SecretStr

from integration.amocrm import CustomField, Lead, Pipeline, TokenPair

LEAD_JSON = {
    "id": 7,
    "name": "Order",
    "price": 1500,
    "status_id": 142,
    "pipeline_id": 3,
    "score": None,
    "custom_fields_values": [
        {"field_id": 11, "field_name": "Бюджет", "field_code": "BUDGET", "values": [{"value": "90000"}]},
        {"field_id": 12, "field_name": "Source", "field_code": None, "values": [{"value": "expo"}]},
        {"field_id": 13, "field_name": "Empty", "field_code": "EMPTY", "values": []},
    ],
    "_embedded": {"tags": [{"id": 1, "name": "vip"}, {"id": 2, "name": "expo"}], "contacts": [{"id": 99}]},
}


class TestLead:
    def test_field_value_by_code_or_name(self) -> None:
        """A rule can address a field by its code or by the name people see, and gets the first value."""
        lead = Lead.model_validate(LEAD_JSON)

        assert lead.field_value("BUDGET") == "90000"
        assert lead.field_value("Бюджет") == "90000"
        assert lead.field_value("Source") == "expo"

    def test_missing_or_empty_field_is_none(self) -> None:
        """An absent or empty field reads as None rather than failing."""
        lead = Lead.model_validate(LEAD_JSON)

        assert lead.field_value("EMPTY") is None
        assert lead.field_value("NOPE") is None
        assert Lead.model_validate({"id": 1, "custom_fields_values": None}).field_value("BUDGET") is None

    def test_tags_and_contacts_come_from_embedded(self) -> None:
        """Tag names and linked contact ids are read from `_embedded`."""
        lead = Lead.model_validate(LEAD_JSON)

        assert lead.tag_names == ["vip", "expo"]
        assert lead.contact_ids == [99]

    def test_unknown_keys_survive_a_round_trip(self) -> None:
        """Fields we do not model are kept, so a stored snapshot equals what amoCRM sent."""
        dumped = Lead.model_validate({**LEAD_JSON, "new_thing": {"a": 1}}).model_dump(by_alias=True)

        assert dumped["new_thing"] == {"a": 1}
        assert dumped["_embedded"]["tags"][0]["name"] == "vip"


class TestOtherEntities:
    def test_pipeline_statuses_and_field_enums(self) -> None:
        """Pipelines list their statuses; select fields find an option id by its label."""
        pipeline = Pipeline.model_validate(
            {"id": 3, "name": "Sales", "_embedded": {"statuses": [{"id": 142, "name": "Won"}]}}
        )
        field = CustomField.model_validate(
            {"id": 5, "name": "Level", "type": "select", "enums": [{"id": 51, "value": "hot"}]}
        )

        assert [status.id for status in pipeline.statuses] == [142]
        assert field.enum_id("hot") == 51
        assert field.enum_id("cold") is None


class TestTokenPair:
    def test_oauth_answer_gives_expiry_from_expires_in(self) -> None:
        """The pair expires `expires_in` seconds after it was received."""
        now = datetime(2026, 1, 1, tzinfo=UTC)
        pair = TokenPair.from_oauth_response(
            {"access_token": "a", "refresh_token": "r", "expires_in": 86400}, now=now
        )

        assert pair.expires_at == now + timedelta(days=1)
        assert not pair.expires_within(timedelta(seconds=60), now=now)
        assert pair.expires_within(timedelta(seconds=60), now=now + timedelta(seconds=86341))

    def test_tokens_are_hidden_when_printed(self) -> None:
        """Printing or dumping a pair to JSON never shows the tokens."""
        pair = TokenPair(
            access_token=SecretStr("secret-a"),
            refresh_token=SecretStr("secret-r"),
            expires_at=datetime(2026, 1, 1, tzinfo=UTC),
        )

        shown = repr(pair) + str(pair) + pair.model_dump_json()

        assert "secret-a" not in shown and "secret-r" not in shown
