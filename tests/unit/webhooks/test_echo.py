"""Recognising the echo of our own write from the webhook body, so it costs no API call."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from integration.provisioning import ProvisionedFields
from webhooks.parse import CustomFieldValue, LeadEvent, WebhookCustomField
from webhooks.worker import HeldLead, is_echo_of_our_write

FIELDS = ProvisionedFields(
    account_id=1,
    channel=901,
    level=902,
    qualified=903,
    reason=904,
    promos=905,
    coupon=906,
    channel_qualified_pct=907,
    level_enums={"hot": 51, "warm": 52, "cold": 53, "unknown": 54},
    qualified_enums={"yes": 61, "no": 62},
)

CLASSIFIED: dict[str, Any] = {
    "id": 7,
    "name": "Сделка",
    "price": 1000,
    "status_id": 10,
    "pipeline_id": 1,
    "responsible_user_id": 5,
    "custom_fields_values": [
        {"field_id": 300, "values": [{"value": "Widget", "enum_id": 77}]},
        {"field_id": 301, "values": [{"value": True}]},
    ],
    "_embedded": {"tags": [{"name": "vip"}]},
}
HELD = HeldLead(
    updated_at=100,
    rule_version=0,
    data=CLASSIFIED,
    channel="google",
    level="hot",
    qualified=True,
    reason="Горячий",
)


def echo(**changes: Any) -> LeadEvent:
    """The update_lead amoCRM sends after our PATCH of the classified lead."""
    event = LeadEvent(
        action="update",
        lead_id=7,
        name="Сделка",
        price=1000,
        status_id=10,
        pipeline_id=1,
        responsible_user_id=5,
        last_modified=105,
        custom_fields=(
            WebhookCustomField(id=300, values=(CustomFieldValue("Widget", 77),)),
            WebhookCustomField(id=301, values=(CustomFieldValue("1"),)),
            WebhookCustomField(id=901, values=(CustomFieldValue("google"),)),
            WebhookCustomField(id=902, values=(CustomFieldValue("Горячий", 51),)),
            WebhookCustomField(id=903, values=(CustomFieldValue("Да", 61),)),
            WebhookCustomField(id=904, values=(CustomFieldValue("Горячий"),)),
        ),
        tags=("vip", "channel:google", "level:hot"),
    )
    return replace(event, **changes)


class TestEcho:
    def test_our_own_write_coming_back_is_recognised(self) -> None:
        """The lead as we classified it, plus exactly our values, is our echo: nothing to read or write."""
        assert is_echo_of_our_write(echo(), HELD, FIELDS)

    def test_the_echo_of_a_not_qualified_lead_carries_no_and_is_recognised(self) -> None:
        """«Целевой» = Нет is our value too: the echo of a not-qualified lead costs no read."""
        held = replace(HELD, qualified=False)
        said_no = tuple(
            WebhookCustomField(id=903, values=(CustomFieldValue("Нет", 62),)) if f.id == 903 else f
            for f in echo().custom_fields
        )
        assert is_echo_of_our_write(echo(custom_fields=said_no), held, FIELDS)
        assert not is_echo_of_our_write(echo(), held, FIELDS)  # it says Да: not what we wrote

    def test_a_person_clearing_qualified_is_real_work(self) -> None:
        """An emptied «Целевой» would read as "not classified yet": it is written again, not ignored."""
        cleared = tuple(f for f in echo().custom_fields if f.id != 903)
        assert not is_echo_of_our_write(echo(custom_fields=cleared), HELD, FIELDS)

    def test_a_person_changing_the_price_is_real_work(self) -> None:
        """A price edit can change the level, so it is not mistaken for an echo."""
        assert not is_echo_of_our_write(echo(price=2000), HELD, FIELDS)

    def test_a_person_changing_a_custom_field_is_real_work(self) -> None:
        """A changed product, budget or UTM field means the lead must be evaluated again."""
        changed = (
            WebhookCustomField(id=300, values=(CustomFieldValue("Gadget", 78),)),
            *echo().custom_fields[1:],
        )
        assert not is_echo_of_our_write(echo(custom_fields=changed), HELD, FIELDS)

    def test_tags_or_our_values_touched_by_people_are_real_work(self) -> None:
        """A removed LeadPact tag, a new human tag or an edited reason is put right, not ignored."""
        assert not is_echo_of_our_write(echo(tags=("vip", "level:hot")), HELD, FIELDS)
        assert not is_echo_of_our_write(
            echo(tags=("vip", "new", "channel:google", "level:hot")), HELD, FIELDS
        )
        edited = tuple(
            WebhookCustomField(id=904, values=(CustomFieldValue("мой текст"),)) if f.id == 904 else f
            for f in echo().custom_fields
        )
        assert not is_echo_of_our_write(echo(custom_fields=edited), HELD, FIELDS)

    def test_an_id_only_hook_is_never_taken_for_an_echo(self) -> None:
        """A hook without the lead's data cannot prove anything, so the lead is read."""
        bare = LeadEvent(action="update", lead_id=7, last_modified=105)
        assert not is_echo_of_our_write(bare, HELD, FIELDS)
