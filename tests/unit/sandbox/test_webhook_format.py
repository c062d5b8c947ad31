"""The webhook body: amoCRM's API v2 form layout built from sandbox events."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from amocrm_sandbox.events import snapshot
from amocrm_sandbox.state import Account
from amocrm_sandbox.webhook_format import webhook_body, webhook_pairs

ACCOUNT = Account(id=31000001, subdomain="acme", name="Acme", created_at=0)


def lead(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": 20000001,
        "name": "Сделка",
        "price": 1500,
        "responsible_user_id": 8000002,
        "status_id": 50000002,
        "pipeline_id": 5000001,
        "created_by": 8000001,
        "updated_by": 8000003,
        "created_at": 1700000000,
        "updated_at": 1700000500,
        "closed_at": None,
        "account_id": 31000001,
        "custom_fields_values": [
            {
                "field_id": 600001,
                "field_name": "Продукт",
                "field_code": "PRODUCT",
                "field_type": "select",
                "values": [{"value": "CRM Про", "enum_id": 900002}],
            },
            {
                "field_id": 600002,
                "field_name": "Дата решения",
                "field_code": None,
                "field_type": "date",
                "values": [{"value": 1615845600}],
            },
            {
                "field_id": 600003,
                "field_name": "ЛПР",
                "field_code": "DECISION_MAKER",
                "field_type": "checkbox",
                "values": [{"value": True}],
            },
        ],
        "_embedded": {"tags": [{"id": 100001, "name": "VIP", "color": None}]},
    }
    record.update(changes)
    return record


class TestLeadBody:
    def test_update_lists_v2_keys_in_order_with_string_values(self) -> None:
        """An update hook names the lead with v2 keys (last_modified, date_create, …), every value a string."""
        pairs = webhook_pairs(ACCOUNT, [snapshot("leads", "update", lead())])
        assert pairs[:13] == [
            ("leads[update][0][id]", "20000001"),
            ("leads[update][0][name]", "Сделка"),
            ("leads[update][0][status_id]", "50000002"),
            ("leads[update][0][price]", "1500"),
            ("leads[update][0][responsible_user_id]", "8000002"),
            ("leads[update][0][last_modified]", "1700000500"),
            ("leads[update][0][modified_user_id]", "8000003"),
            ("leads[update][0][created_user_id]", "8000001"),
            ("leads[update][0][date_create]", "1700000000"),
            ("leads[update][0][pipeline_id]", "5000001"),
            ("leads[update][0][account_id]", "31000001"),
            ("leads[update][0][created_at]", "1700000000"),
            ("leads[update][0][updated_at]", "1700000500"),
        ]
        assert all(isinstance(value, str) for _, value in pairs)

    def test_custom_fields_tags_and_account_block(self) -> None:
        """Select values carry [value] and [enum]; dates arrive bare; checkboxes as "1"; tags and account follow."""
        body = dict(webhook_pairs(ACCOUNT, [snapshot("leads", "add", lead())]))
        assert body["leads[add][0][custom_fields][0][id]"] == "600001"
        assert body["leads[add][0][custom_fields][0][code]"] == "PRODUCT"
        assert body["leads[add][0][custom_fields][0][values][0][value]"] == "CRM Про"
        assert body["leads[add][0][custom_fields][0][values][0][enum]"] == "900002"
        assert body["leads[add][0][custom_fields][1][values][0]"] == "1615845600"
        assert "leads[add][0][custom_fields][1][code]" not in body
        assert body["leads[add][0][custom_fields][2][values][0][value]"] == "1"
        assert body["leads[add][0][tags][0][id]"] == "100001"
        assert body["leads[add][0][tags][0][name]"] == "VIP"
        assert body["account[subdomain]"] == "acme"
        assert body["account[id]"] == "31000001"
        assert body["account[_links][self]"] == "https://acme.amocrm.ru"

    def test_status_event_carries_the_old_status(self) -> None:
        """A status hook reports old_status_id and old_pipeline_id next to the new status."""
        event = snapshot(
            "leads", "status", lead(status_id=142), old_status_id=50000002, old_pipeline_id=5000001
        )
        body = dict(webhook_pairs(ACCOUNT, [event]))
        assert body["leads[status][0][status_id]"] == "142"
        assert body["leads[status][0][old_status_id]"] == "50000002"
        assert body["leads[status][0][old_pipeline_id]"] == "5000001"

    def test_several_events_are_numbered_per_action(self) -> None:
        """Two updates and a status in one body are leads[update][0], leads[update][1] and leads[status][0]."""
        events = [
            snapshot("leads", "update", lead(id=1)),
            snapshot("leads", "status", lead(id=1), old_status_id=1, old_pipeline_id=1),
            snapshot("leads", "update", lead(id=2)),
        ]
        body = dict(parse_qsl(webhook_body(ACCOUNT, events).decode()))
        assert (body["leads[update][0][id]"], body["leads[update][1][id]"], body["leads[status][0][id]"]) == (
            "1",
            "2",
            "1",
        )

    def test_delete_carries_only_ids(self) -> None:
        """A delete hook has just id, status_id and pipeline_id."""
        pairs = webhook_pairs(ACCOUNT, [snapshot("leads", "delete", lead())])
        assert [key for key, _ in pairs[:3]] == [
            "leads[delete][0][id]",
            "leads[delete][0][status_id]",
            "leads[delete][0][pipeline_id]",
        ]
        assert len(pairs) == 6

    def test_ids_only_hooks_carry_just_ids_and_old_values(self) -> None:
        """A sparse status hook has id, status_id, pipeline_id and the old_* values, nothing else about the lead."""
        event = snapshot(
            "leads", "status", lead(status_id=142), old_status_id=50000002, old_pipeline_id=5000001
        )
        pairs = webhook_pairs(ACCOUNT, [event], ids_only=True)
        assert pairs[:5] == [
            ("leads[status][0][id]", "20000001"),
            ("leads[status][0][status_id]", "142"),
            ("leads[status][0][pipeline_id]", "5000001"),
            ("leads[status][0][old_status_id]", "50000002"),
            ("leads[status][0][old_pipeline_id]", "5000001"),
        ]
        assert [key for key, _ in pairs[5:]] == ["account[subdomain]", "account[id]", "account[_links][self]"]

    def test_snapshot_is_not_changed_by_later_writes(self) -> None:
        """A queued event keeps the lead as it was when the change happened."""
        record = lead()
        event = snapshot("leads", "update", record)
        record["name"] = "Изменено"
        record["_embedded"]["tags"].clear()
        body = dict(webhook_pairs(ACCOUNT, [event]))
        assert body["leads[update][0][name]"] == "Сделка"
        assert body["leads[update][0][tags][0][name]"] == "VIP"


class TestNoteBody:
    def test_note_hook_uses_nested_note_keys(self) -> None:
        """A note hook has leads[note][0][note][…] with numeric note_type 4 and a Y-m-d H:i:s timestamp."""
        note = {
            "id": 1,
            "entity_id": 20000001,
            "entity_type": "leads",
            "note_type": "common",
            "params": {"text": "Позвонить"},
            "created_at": 1700000000,
            "updated_at": 1700000000,
            "created_by": 8000001,
            "responsible_user_id": 8000001,
            "account_id": 31000001,
        }
        body = dict(webhook_pairs(ACCOUNT, [snapshot("leads", "note", note)]))
        assert body["leads[note][0][note][text]"] == "Позвонить"
        assert body["leads[note][0][note][note_type]"] == "4"
        assert body["leads[note][0][note][element_type]"] == "2"
        assert body["leads[note][0][note][timestamp_x]"] == "2023-11-14 22:13:20"


class TestEncoding:
    def test_body_is_exactly_what_urlencode_gives(self) -> None:
        """The fast encoder produces the same bytes as the standard form encoder, Cyrillic and symbols included."""
        from urllib.parse import urlencode

        events = [
            snapshot("leads", "update", lead(name="ООО «Ромашка» & Co / 100%")),
            snapshot("leads", "status", lead(), old_status_id=1, old_pipeline_id=2),
        ]
        expected = urlencode(webhook_pairs(ACCOUNT, events)).encode("ascii")
        assert webhook_body(ACCOUNT, events) == expected
