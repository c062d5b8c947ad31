"""The durable inbox: leases, retries, dead letters and statistics on a real database."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy.engine import Engine

from integration.db import session_scope
from integration.storage.inbox import (
    InboxStatus,
    add_item,
    claim_batch,
    complete_items,
    inbox_stats,
    problem_items,
    release_for_retry,
    requeue_item,
)

EVENT = {"kind": "lead", "action": "update", "lead_id": 1}


def store(engine: Engine, count: int, *, account_id: int = 1) -> list[int]:
    with session_scope(engine) as session:
        return [
            add_item(session=session, account_id=account_id, body=f"b{i}", events=[EVENT]).id or 0
            for i in range(count)
        ]


class TestLeases:
    def test_a_leased_item_is_not_handed_to_a_second_worker(self, engine: Engine) -> None:
        """Two workers polling at once never both get the same delivery."""
        ids = store(engine, 3)
        with session_scope(engine) as session:
            first = claim_batch(session=session, owner="a", limit=2, lease_seconds=60)
        with session_scope(engine) as session:
            second = claim_batch(session=session, owner="b", limit=10, lease_seconds=60)
        assert [item.id for item in first] == ids[:2]
        assert [item.id for item in second] == ids[2:]

    def test_a_crashed_workers_items_are_reclaimed_after_the_lease_expires(self, engine: Engine) -> None:
        """Deliveries held by a worker that died come back once its lease runs out, so nothing is lost."""
        ids = store(engine, 2)
        with session_scope(engine) as session:
            claim_batch(session=session, owner="dead", limit=10, lease_seconds=30)
        with session_scope(engine) as session:
            assert claim_batch(session=session, owner="alive", limit=10, lease_seconds=30) == []
        later = time.time() + 31
        with session_scope(engine) as session:
            again = claim_batch(session=session, owner="alive", limit=10, lease_seconds=30, now=later)
        assert [item.id for item in again] == ids

    def test_completion_by_a_worker_that_lost_its_lease_is_ignored(self, engine: Engine) -> None:
        """A slow worker whose lease was taken over cannot mark someone else's delivery done."""
        (item_id,) = store(engine, 1)
        with session_scope(engine) as session:
            claim_batch(session=session, owner="slow", limit=1, lease_seconds=1)
        later = time.time() + 5
        with session_scope(engine) as session:
            claim_batch(session=session, owner="fresh", limit=1, lease_seconds=60, now=later)
        with session_scope(engine) as session:
            assert complete_items(session=session, ids=[item_id], owner="slow") == 0
            assert complete_items(session=session, ids=[item_id], owner="fresh") == 1
        with session_scope(engine) as session:
            assert inbox_stats(session=session).done == 1

    @pytest.mark.postgres
    def test_concurrent_claims_on_postgresql_are_disjoint(self, engine: Engine) -> None:
        """Many workers claiming at the same moment on PostgreSQL split the work without overlap."""
        store(engine, 200)
        claimed: list[list[int]] = []
        lock = threading.Lock()

        def worker(name: str) -> None:
            while True:
                with session_scope(engine) as session:
                    items = claim_batch(session=session, owner=name, limit=7, lease_seconds=60)
                if not items:
                    return
                with lock:
                    claimed.append([item.id or 0 for item in items])

        threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        flat = [item_id for batch in claimed for item_id in batch]
        assert len(flat) == 200 and len(set(flat)) == 200


class TestRetries:
    def test_failed_processing_comes_back_later_then_goes_dead(self, engine: Engine) -> None:
        """A delivery that keeps failing is retried after a delay and dead-lettered at the attempt limit."""
        (item_id,) = store(engine, 1)
        now = time.time()
        for attempt in range(3):
            at = now + 10 * attempt
            with session_scope(engine) as session:
                claim_batch(session=session, owner="w", limit=1, lease_seconds=5, now=at)
                release_for_retry(
                    session=session,
                    ids=[item_id],
                    owner="w",
                    error="boom",
                    max_attempts=3,
                    delay_seconds=5,
                    now=at,
                )
            with session_scope(engine) as session:
                assert claim_batch(session=session, owner="w", limit=1, lease_seconds=5, now=at) == []
        with session_scope(engine) as session:
            (dead,) = problem_items(session=session)
            assert (dead.id, dead.status, dead.attempts, dead.last_error) == (
                item_id,
                InboxStatus.DEAD,
                3,
                "boom",
            )

    def test_requeued_dead_item_is_processed_again(self, engine: Engine) -> None:
        """`leadpact inbox retry ID` puts a dead delivery back in the queue with a fresh attempt count."""
        with session_scope(engine) as session:
            item = add_item(session=session, account_id=1, body="x", events=[], parse_error="bad body")
        with session_scope(engine) as session:
            requeued = requeue_item(session=session, item_id=item.id or 0, events=[EVENT])
            assert requeued is not None and requeued.status == InboxStatus.PENDING
            assert requeue_item(session=session, item_id=999_999) is None
        with session_scope(engine) as session:
            (claimed,) = claim_batch(session=session, owner="w", limit=5, lease_seconds=5)
            assert claimed.events == [EVENT] and claimed.attempts == 0


class TestStats:
    def test_stats_count_each_state_and_the_oldest_pending_age(self, engine: Engine) -> None:
        """The operator sees how many deliveries wait, how old the oldest is, and how many failed."""
        now = time.time()
        with session_scope(engine) as session:
            add_item(session=session, account_id=1, body="a", events=[EVENT], now=now - 40)
            add_item(session=session, account_id=1, body="b", events=[EVENT], now=now)
            add_item(session=session, account_id=2, body="c", events=[], parse_error="nope")
        with session_scope(engine) as session:
            stats = inbox_stats(session=session, now=now)
        assert (stats.pending, stats.failed, stats.dead, stats.done) == (2, 1, 0, 0)
        assert 39 <= stats.oldest_pending_age_seconds <= 41
