"""Salvage, never drop: one unreadable part of a webhook body costs that part, not the delivery."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from webhooks.parse import (
    LeadEvent,
    UnreadableEvent,
    WebhookParseError,
    parse_webhook,
    parse_webhook_for_inbox,
)

ACCOUNT = [("account[id]", "29000001"), ("account[subdomain]", "acme")]


def lead(index: int, lead_id: int, *, price: str = "5000", action: str = "update") -> list[tuple[str, str]]:
    prefix = f"leads[{action}][{index}]"
    return [
        (f"{prefix}[id]", str(lead_id)),
        (f"{prefix}[name]", f"Заявка {lead_id}"),
        (f"{prefix}[status_id]", "142"),
        (f"{prefix}[pipeline_id]", "7"),
        (f"{prefix}[price]", price),
        (f"{prefix}[updated_at]", "1700000100"),
        (f"{prefix}[custom_fields][0][id]", "101"),
        (f"{prefix}[custom_fields][0][code]", "UTM_SOURCE"),
        (f"{prefix}[custom_fields][0][values][0][value]", "google"),
        (f"{prefix}[tags][0][name]", "vip"),
    ]


def body(*pairs: list[tuple[str, str]]) -> bytes:
    return urlencode([pair for group in pairs for pair in group] + ACCOUNT).encode()


def leads_of(payload_events: tuple[object, ...]) -> list[LeadEvent]:
    return [event for event in payload_events if isinstance(event, LeadEvent)]


class TestAFieldFailsAlone:
    def test_a_bad_price_fails_only_the_price_of_its_lead(self) -> None:
        """One lead's price of 0.5 leaves its other fields and every other lead of the body intact."""
        payload = parse_webhook(body(lead(0, 1), lead(1, 2, price="0.5"), lead(2, 3)))
        first, broken, third = leads_of(payload.events)
        assert (first.price, first.unreadable) == (5000, ())
        assert (broken.lead_id, broken.price, broken.unreadable) == (2, None, ("price",))
        assert broken.name == "Заявка 2" and broken.tags == ("vip",) and broken.custom_fields[0].id == 101
        assert third.price == 5000
        assert payload.unreadable_count == 1

    def test_a_bad_field_value_fails_only_that_field(self) -> None:
        """A custom field whose enum id is not a number is left out and named; the lead keeps the rest."""
        pairs = [
            *lead(0, 1),
            ("leads[update][0][custom_fields][1][id]", "102"),
            ("leads[update][0][custom_fields][1][values][0][value]", "CRM"),
            ("leads[update][0][custom_fields][1][values][0][enum]", "abc"),
        ]
        (event,) = leads_of(parse_webhook(body(pairs)).events)
        assert [field.id for field in event.custom_fields] == [101]
        assert event.unreadable == ("custom_fields[102]",)


class TestKeys:
    def test_a_twelve_deep_unknown_key_is_ignored_and_counted(self) -> None:
        """amoCRM's deep keys for complex field types do not fail the body; they are skipped and counted."""
        deep = [("catalogs[add][0][custom_fields][5][values][0][value][description]", "x")]
        payload = parse_webhook(body(lead(0, 1), deep))
        (event,) = leads_of(payload.events)
        assert (event.lead_id, event.unreadable) == (1, ())
        assert payload.keys_ignored == 1
        stored = parse_webhook_for_inbox(body(lead(0, 1), deep))
        assert (len(stored.events), stored.keys_ignored, stored.unreadable) == (1, 1, 0)

    def test_a_key_clashing_with_a_group_and_a_piece_without_equals_are_skipped(self) -> None:
        """`a=1&a[b]=2` and a stray `junk` piece are counted, never fatal, when the rest is readable."""
        raw = body(lead(0, 1)) + b"&leads[update][0][name][x]=y&junk"
        payload = parse_webhook(raw)
        assert [event.lead_id for event in leads_of(payload.events)] == [1]
        assert payload.keys_ignored == 2


class TestAnEntityFailsAlone:
    def test_an_entity_without_a_readable_id_fails_alone(self) -> None:
        """A lead whose id cannot be read is recorded as unreadable; its neighbours are read."""
        broken = [(key, "abc" if key.endswith("[1][id]") else value) for key, value in lead(1, 2)]
        payload = parse_webhook(body(lead(0, 1), broken, lead(2, 3)))
        assert [type(event).__name__ for event in payload.events] == [
            "LeadEvent",
            "UnreadableEvent",
            "LeadEvent",
        ]
        unreadable = payload.events[1]
        assert isinstance(unreadable, UnreadableEvent) and unreadable.where == "leads[update][1]"
        assert payload.unreadable_count == 1

    @pytest.mark.parametrize("bad_id", ["0", "-5"])
    def test_zero_and_negative_ids_are_refused_as_unreadable(self, bad_id: str) -> None:
        """An id of zero or below names no lead: that entity is unreadable, the others are read."""
        payload = parse_webhook(body(lead(0, 1), [("leads[update][1][id]", bad_id)]))
        assert isinstance(payload.events[1], UnreadableEvent)
        assert "above zero" in payload.events[1].reason
        stored = parse_webhook_for_inbox(body(lead(0, 1), [("leads[update][1][id]", bad_id)]))
        assert [event["kind"] for event in stored.events] == ["lead", "unreadable"]

    def test_a_body_with_no_readable_event_is_refused(self) -> None:
        """Only when nothing in the body can be read is the delivery a failure, with the first reason."""
        with pytest.raises(WebhookParseError, match="whole number"):
            parse_webhook(b"leads[update][0][id]=abc&leads[update][1][id]=xyz")


class TestBrokenBytes:
    def test_raw_and_percent_encoded_invalid_bytes_are_handled_alike(self) -> None:
        """Invalid UTF-8 in a value fails that field the same way whether sent raw or percent-encoded."""
        head = "&".join(f"{k}={v}" for k, v in lead(0, 1) if not k.endswith("[values][0][value]"))
        key = "leads[update][0][custom_fields][0][values][0][value]"
        raw = head.encode() + b"&" + key.encode() + b"=goo\xffgle&account[id]=29000001"
        encoded = head.encode() + b"&" + key.encode() + b"=goo%FFgle&account[id]=29000001"
        outcomes = []
        for sent in (raw, encoded):
            (event,) = leads_of(parse_webhook(sent).events)
            outcomes.append((event.custom_fields, event.unreadable, event.name))
            assert parse_webhook_for_inbox(sent).unreadable == 1
        assert outcomes[0] == outcomes[1] == ((), ("custom_fields[101]",), "Заявка 1")

    def test_an_encoded_replacement_character_sent_on_purpose_is_kept(self) -> None:
        """A U+FFFD a person typed (valid UTF-8) is text like any other, not a broken byte."""
        pairs = [(k, "a\ufffdb" if k.endswith("[name]") else v) for k, v in lead(0, 1)]
        (event,) = leads_of(parse_webhook(body(pairs)).events)
        assert (event.name, event.unreadable) == ("a\ufffdb", ())
