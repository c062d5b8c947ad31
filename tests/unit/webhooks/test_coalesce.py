"""Folding a batch of webhook events into one piece of work per lead."""

from __future__ import annotations

import dataclasses
import random

from webhooks.parse import ContactEvent, LeadEvent
from webhooks.worker import coalesce, retry_delay_seconds


def update(lead_id: int, at: int) -> LeadEvent:
    return LeadEvent(action="update", lead_id=lead_id, last_modified=at)


class TestCoalesce:
    def test_many_updates_of_one_lead_become_one_evaluation(self) -> None:
        """Fifty updates of the same lead cost one evaluation, at the newest time seen."""
        events = [update(7, 1000 + i) for i in range(50)]
        (work,) = coalesce(reversed(events))
        assert (work.lead_id, work.needs_evaluation, work.newest_event_at) == (7, True, 1049)

    def test_status_artefacts_and_notes_change_nothing(self) -> None:
        """A status 'move' to the same status, or a note, does not trigger any work."""
        events = [
            LeadEvent(action="status", lead_id=1, status_id=5, old_status_id=5, last_modified=10),
            LeadEvent(action="note", lead_id=2, note_type=4),
        ]
        assert [w.needs_evaluation for w in coalesce(events)] == [False, False]
        assert all(w.status_moves == () for w in coalesce(events))

    def test_real_status_moves_are_kept_for_history(self) -> None:
        """Every real status change is kept (for the funnel), while the lead is evaluated once."""
        moves = [
            LeadEvent(action="status", lead_id=3, status_id=6, old_status_id=5, last_modified=10),
            LeadEvent(action="status", lead_id=3, status_id=7, old_status_id=6, last_modified=20),
        ]
        (work,) = coalesce(moves)
        assert [m.status_id for m in work.status_moves] == [6, 7]
        assert work.needs_evaluation

    def test_a_deleted_lead_is_not_fetched_unless_restored(self) -> None:
        """A lead deleted in amoCRM is only marked deleted; restoring it brings it back to evaluation."""
        deleted = coalesce([update(4, 1), LeadEvent(action="delete", lead_id=4)])
        restored = coalesce([LeadEvent(action="delete", lead_id=4), LeadEvent(action="restore", lead_id=4)])
        assert (deleted[0].deleted, deleted[0].needs_evaluation) == (True, False)
        assert (restored[0].deleted, restored[0].needs_evaluation) == (False, True)

    def test_contact_changes_re_evaluate_their_leads(self) -> None:
        """A new phone on a contact can change its leads' level, so the linked leads are evaluated."""
        work = coalesce([ContactEvent(action="update", contact_id=9, linked_lead_ids=(10, 11))])
        assert [(w.lead_id, w.needs_evaluation) for w in work] == [(10, True), (11, True)]


class TestBackoff:
    def test_retry_delays_grow_and_are_capped(self) -> None:
        """Each failed attempt waits longer than the one before, never more than about an hour."""
        rng = random.Random(1)
        delays = [retry_delay_seconds(attempt, rng=rng) for attempt in range(1, 15)]
        assert 3.75 <= delays[0] <= 6.25
        assert delays[3] > delays[0] * 4
        assert max(delays) <= 3600 * 1.25


def full(lead_id: int, at: int, *, name: str = "Заявка", source: str = "google") -> LeadEvent:
    """A complete v2 event, as amoCRM sends for add/update/status: the whole lead with its time."""
    from webhooks.parse import CustomFieldValue, WebhookCustomField

    return LeadEvent(
        action="update",
        lead_id=lead_id,
        name=name,
        status_id=142,
        pipeline_id=7,
        price=5000,
        updated_at=at,
        custom_fields=(WebhookCustomField(id=101, code="UTM_SOURCE", values=(CustomFieldValue(source),)),),
        tags=("vip",),
    )


class TestTrustingCompleteBodies:
    def test_the_newest_complete_event_wins_whatever_the_arrival_order(self) -> None:
        """Bodies arriving out of order still leave the lead at its newest state, with nothing to read."""
        newer, older = full(5, 200, source="vk"), full(5, 100, source="google")
        (work,) = coalesce([newer, older])
        assert work.newest_update is newer and not work.must_read
        assert work.newest_event_at == 200

    def test_a_minimal_body_newer_than_the_complete_one_means_a_read(self) -> None:
        """An ids-only event is newer than what the complete body said: the lead must be read."""
        (work,) = coalesce([full(5, 100), update(5, 200)])
        assert work.must_read

    def test_an_unreadable_part_means_a_read_of_that_lead_only(self) -> None:
        """A lead whose price could not be read is re-read; its neighbour in the same body is not."""
        broken = dataclasses.replace(full(6, 100), price=None, unreadable=("price",))
        works = coalesce([full(5, 100), broken])
        assert [(w.lead_id, w.must_read) for w in works] == [(5, False), (6, True)]

    def test_two_different_states_in_one_second_mean_a_read(self) -> None:
        """Same updated_at, different content: which is newer cannot be told, so the lead is read."""
        (work,) = coalesce([full(5, 100, source="vk"), full(5, 100, source="google")])
        assert work.must_read

    def test_a_duplicate_is_one_state(self) -> None:
        """The same delivery twice is one evaluation with nothing to read."""
        (work,) = coalesce([full(5, 100), full(5, 100)])
        assert not work.must_read and work.newest_update is not None

    def test_contact_events_ask_nothing_when_the_rules_ignore_contacts(self) -> None:
        """Rules that never look at contacts spend no reads on contact changes."""
        event = ContactEvent(action="update", contact_id=9, linked_lead_ids=(10,))
        assert coalesce([event], contacts_matter=False) == []
