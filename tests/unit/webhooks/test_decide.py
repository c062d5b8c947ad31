"""Per lead, the worker skips, reads, or classifies straight from a complete webhook body."""

from __future__ import annotations

from rules import default_ruleset
from tests.unit.webhooks.test_coalesce import full, update
from webhooks.parse import LeadEvent
from webhooks.worker import (
    _HELD,
    _READ,
    _SKIP,
    HeldLead,
    _AccountContext,
    _decide,
    coalesce,
    lead_from_event,
)

RULES = default_ruleset()


def context(*held: tuple[LeadEvent, int]) -> _AccountContext:
    """An account holding these leads as the given events described them, classified under rule version 0."""
    return _AccountContext(
        rule_version=0,
        ruleset=RULES,
        fields=None,
        language="ru",
        held={
            event.lead_id: HeldLead(
                updated_at=at,
                rule_version=0,
                data=lead_from_event(event),
                channel="google_ads",
                level="cold",
                qualified=False,
                reason="",
            )
            for event, at in held
        },
    )


def decide(events: list[LeadEvent], ctx: _AccountContext) -> object:
    (work,) = coalesce(events)
    return _decide(work, ctx)


class TestDecide:
    def test_a_complete_newer_body_is_classified_without_a_read(self) -> None:
        """The body carries the whole lead and is newer than what we hold: it is used as the lead."""
        newer = full(5, 200, source="vk")
        assert decide([newer], context((full(5, 100), 100))) is newer
        assert decide([newer], context()) is newer

    def test_an_older_body_never_rolls_the_lead_back(self) -> None:
        """A late delivery of an older state is skipped, whatever it says."""
        assert decide([full(5, 100, source="vk")], context((full(5, 200), 200))) is _SKIP

    def test_a_duplicate_of_the_state_we_hold_is_skipped(self) -> None:
        """The same body again (same second, same content) changes nothing and costs nothing."""
        assert decide([full(5, 100)], context((full(5, 100), 100))) is _SKIP

    def test_a_different_state_in_the_same_second_is_read(self) -> None:
        """Same second, different content: which is newer cannot be told from the bodies, so the lead is read."""
        assert decide([full(5, 100, source="vk")], context((full(5, 100), 100))) is _READ

    def test_an_ids_only_body_is_read(self) -> None:
        """A body without the lead's data means a read (batched with the others)."""
        assert decide([update(5, 300)], context((full(5, 100), 100))) is _READ

    def test_a_reconciliation_hint_about_the_state_we_hold_costs_no_read(self) -> None:
        """A dated hint whose time is the one we hold is answered from that state, without a read: the state
        may never have been written back (a backfill stores it too), so it is evaluated, not dropped."""
        assert decide([update(5, 100)], context((full(5, 100), 100))) is _HELD

    def test_a_newer_body_with_an_unreadable_part_is_read(self) -> None:
        """A part could not be read: the lead is read again rather than classified on a guess."""
        import dataclasses

        broken = dataclasses.replace(full(5, 200), price=None, unreadable=("price",))
        assert decide([broken], context((full(5, 100), 100))) is _READ
