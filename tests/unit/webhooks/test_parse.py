"""Parsing amoCRM's form-encoded account webhooks into typed events."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webhooks.parse import (
    ContactEvent,
    CustomFieldValue,
    LeadEvent,
    WebhookParseError,
    WebhookPayload,
    event_from_dict,
    event_to_dict,
    parse_webhook,
)


def form(pairs: list[tuple[str, str]]) -> bytes:
    return urlencode(pairs).encode()


ACCOUNT = [
    ("account[subdomain]", "acme"),
    ("account[id]", "29000001"),
    ("account[_links][self]", "https://acme.amocrm.ru"),
]


class TestLeadEvents:
    def test_added_lead_becomes_an_add_event_with_its_fields(self) -> None:
        """A new lead's id, status, pipeline, price, tags and timestamps are read from the v2 layout."""
        payload = parse_webhook(
            form(
                [
                    ("leads[add][0][id]", "101"),
                    ("leads[add][0][name]", "Заявка с сайта"),
                    ("leads[add][0][status_id]", "142"),
                    ("leads[add][0][pipeline_id]", "7"),
                    ("leads[add][0][price]", "5000"),
                    ("leads[add][0][created_at]", "1700000000"),
                    ("leads[add][0][last_modified]", "1700000005"),
                    ("leads[add][0][tags][0][id]", "11"),
                    ("leads[add][0][tags][0][name]", "vip"),
                    ("leads[add][0][account_id]", "29000001"),
                    *ACCOUNT,
                ]
            )
        )
        assert payload.account_id == 29000001
        assert payload.subdomain == "acme"
        (event,) = payload.events
        assert isinstance(event, LeadEvent)
        assert (event.action, event.lead_id, event.status_id, event.pipeline_id) == ("add", 101, 142, 7)
        assert (event.price, event.name, event.tags) == (5000, "Заявка с сайта", ("vip",))
        assert event.occurred_at == 1700000005

    def test_v2_custom_fields_including_irregular_shapes_are_read(self) -> None:
        """Select values with enum ids, a date without `[value]` and a field without values all parse."""
        payload = parse_webhook(
            form(
                [
                    ("leads[update][0][id]", "5"),
                    ("leads[update][0][custom_fields][0][id]", "900"),
                    ("leads[update][0][custom_fields][0][name]", "Product"),
                    ("leads[update][0][custom_fields][0][values][0][value]", "Widget"),
                    ("leads[update][0][custom_fields][0][values][0][enum]", "3001"),
                    ("leads[update][0][custom_fields][1][id]", "901"),
                    ("leads[update][0][custom_fields][1][values][0]", "1615845600"),
                    ("leads[update][0][custom_fields][2][id]", "902"),
                    ("leads[update][0][custom_fields][2][name]", "utm_source"),
                    ("leads[update][0][custom_fields][2][code]", "UTM_SOURCE"),
                    *ACCOUNT,
                ]
            )
        )
        (event,) = payload.events
        assert isinstance(event, LeadEvent)
        select, date, tracking = event.custom_fields
        assert select.values == (CustomFieldValue(value="Widget", enum_id=3001),)
        assert date.values == (CustomFieldValue(value="1615845600"),)
        assert (tracking.id, tracking.code, tracking.values) == (902, "UTM_SOURCE", ())

    def test_several_entities_and_actions_in_one_body_keep_their_order(self) -> None:
        """One POST may carry many leads and actions; each becomes its own event in index order."""
        pairs = [(f"leads[update][{i}][id]", str(100 + i)) for i in (10, 2, 0)]
        pairs += [("leads[status][0][id]", "7"), ("leads[status][0][status_id]", "3")]
        pairs += [("leads[status][0][old_status_id]", "2"), ("leads[delete][0][id]", "8")]
        events = parse_webhook(form(pairs)).events
        assert [(e.action, e.lead_id) for e in events if isinstance(e, LeadEvent)] == [
            ("update", 100),
            ("update", 102),
            ("update", 110),
            ("status", 7),
            ("delete", 8),
        ]

    def test_status_event_with_equal_old_and_new_status_is_marked_as_artefact(self) -> None:
        """amoCRM sometimes reports a move from a status to itself; such an event is recognisable."""
        same = parse_webhook(
            form(
                [
                    ("leads[status][0][id]", "1"),
                    ("leads[status][0][status_id]", "5"),
                    ("leads[status][0][old_status_id]", "5"),
                ]
            )
        ).events[0]
        moved = parse_webhook(
            form(
                [
                    ("leads[status][0][id]", "1"),
                    ("leads[status][0][status_id]", "6"),
                    ("leads[status][0][old_status_id]", "5"),
                ]
            )
        ).events[0]
        assert isinstance(same, LeadEvent) and same.is_status_artefact
        assert isinstance(moved, LeadEvent) and not moved.is_status_artefact

    def test_note_event_points_at_its_lead(self) -> None:
        """A note hook identifies the lead by the note's element id and keeps the note type."""
        payload = parse_webhook(
            form(
                [
                    ("leads[note][0][note][element_id]", "77"),
                    ("leads[note][0][note][note_type]", "4"),
                    ("leads[note][0][note][text]", "перезвонить"),
                    ("leads[note][0][note][timestamp_x]", "2024-01-01 10:00:00"),
                    *ACCOUNT,
                ]
            )
        )
        (event,) = payload.events
        assert isinstance(event, LeadEvent)
        assert (event.action, event.lead_id, event.note_type, event.note_text) == (
            "note",
            77,
            4,
            "перезвонить",
        )

    def test_unknown_keys_and_entities_are_ignored(self) -> None:
        """Keys LeadPact does not use (tasks, links, new attributes) do not break parsing."""
        payload = parse_webhook(
            form(
                [
                    ("leads[update][0][id]", "1"),
                    ("leads[update][0][brand_new_attribute][x]", "y"),
                    ("leads[mystery][0][id]", "not a number"),
                    ("task[add][0][id]", "5"),
                    ("unrelated", "1"),
                    *ACCOUNT,
                ]
            )
        )
        assert [e.lead_id for e in payload.events if isinstance(e, LeadEvent)] == [1]


class TestContactEvents:
    def test_contact_update_carries_linked_leads(self) -> None:
        """A contact change names the leads it is linked to, so they can be re-evaluated."""
        payload = parse_webhook(
            form(
                [
                    ("contacts[update][0][id]", "300"),
                    ("contacts[update][0][name]", "Иван"),
                    ("contacts[update][0][linked_leads_id][12][ID]", "12"),
                    ("contacts[update][0][linked_leads_id][10][ID]", "10"),
                    *ACCOUNT,
                ]
            )
        )
        (event,) = payload.events
        assert isinstance(event, ContactEvent)
        assert (event.contact_id, event.linked_lead_ids) == (300, (10, 12))


class TestRejectedBodies:
    @pytest.mark.parametrize(
        ("body", "reason"),
        [
            (b"", "empty body"),
            (b"\xff\xfe", "form-encoded"),
            (b'{"leads": []}', "form-encoded"),
            (b"leads[add][0][id]=abc", "whole number"),
            (b"leads[add][0][name]=x", "leads[add][0][id] is missing"),
            (b"leads[add][0]=1&leads[add][0][id]=2", "should be an entity, not a value"),
            (b"foo=bar", "no amoCRM account"),
        ],
    )
    def test_unreadable_bodies_raise_with_a_reason(self, body: bytes, reason: str) -> None:
        """A body that is not a readable webhook is refused with a reason a person can act on."""
        with pytest.raises(WebhookParseError) as caught:
            parse_webhook(body)
        assert reason in caught.value.reason

    @settings(max_examples=300, deadline=None)
    @given(st.binary(max_size=400))
    def test_any_bytes_give_a_payload_or_a_parse_error(self, body: bytes) -> None:
        """Whatever arrives, parsing either succeeds or says why; it never crashes otherwise."""
        try:
            assert isinstance(parse_webhook(body), WebhookPayload)
        except WebhookParseError as exc:
            assert exc.reason

    @settings(max_examples=300, deadline=None)
    @given(
        st.lists(
            st.tuples(
                st.from_regex(
                    r"(leads|contacts|account)(\[(add|update|status|note|id|0|1|custom_fields|values|)\]){0,6}",
                    fullmatch=True,
                ),
                st.text(max_size=12),
            ),
            max_size=12,
        )
    )
    def test_webhook_shaped_noise_gives_a_payload_or_a_parse_error(
        self, pairs: list[tuple[str, str]]
    ) -> None:
        """Bodies that look like amoCRM's nesting but are scrambled never crash the parser."""
        try:
            assert isinstance(parse_webhook(form(pairs)), WebhookPayload)
        except WebhookParseError as exc:
            assert exc.reason


class TestInboxSerialisation:
    def test_events_survive_a_round_trip_through_json(self) -> None:
        """What the receiver stores is exactly what the worker reads back."""
        payload = parse_webhook(
            form(
                [
                    ("leads[update][0][id]", "5"),
                    ("leads[update][0][tags][0][name]", "a"),
                    ("leads[update][0][custom_fields][0][id]", "900"),
                    ("leads[update][0][custom_fields][0][values][0][value]", "x"),
                    ("contacts[add][0][id]", "6"),
                    ("contacts[add][0][linked_leads_id][5][ID]", "5"),
                ]
            )
        )
        restored = tuple(event_from_dict(json.loads(json.dumps(event_to_dict(e)))) for e in payload.events)
        assert restored == payload.events
