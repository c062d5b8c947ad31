"""Several workers issuing coupons at once on PostgreSQL never hand one code to two leads."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from integration.db import make_engine, session_scope
from integration.storage import promos as store
from rules.promo import Promo

ACCOUNT = 32000001
CODES = 1_000
LEADS = 5_000
WORKERS = 4
RACED_PER_WORKER = 100


@pytest.mark.postgres
@pytest.mark.slow
class TestConcurrentIssuing:
    def test_four_workers_5000_leads_1000_codes_no_code_twice(
        self, engine: Engine, database_url: str
    ) -> None:
        """4 workers racing over 5 000 leads (some raced by two workers): every code goes to one lead."""
        with session_scope(engine) as session:
            record = store.save_promo(
                session=session,
                account_id=ACCOUNT,
                promo=Promo(key="pool", name="Pool", uses_coupon_pool=True),
                source=store.PromoSource.IMPORT,
                now=0,
            )
            assert record.id is not None
            promo_id = record.id
            store.add_coupon_codes(
                session=session,
                account_id=ACCOUNT,
                promo_id=promo_id,
                codes=[f"C{i:05d}" for i in range(CODES)],
            )
        # No pre-ping: each of the ~5 000 short transactions would pay an extra round trip for it.
        worker_engine = make_engine(database_url, pool_size=WORKERS, max_overflow=0, pool_pre_ping=False)
        results: dict[int, list[tuple[int, str | None]]] = {worker: [] for worker in range(WORKERS)}
        errors: list[BaseException] = []
        start = threading.Barrier(WORKERS)

        def work(worker: int) -> None:
            # Each worker takes its own quarter, and races the next worker over the start of its quarter —
            # while the pool still has codes, which is when a double issue could happen.
            quarter = LEADS // WORKERS
            own = list(range(worker * quarter, (worker + 1) * quarter))
            next_start = ((worker + 1) % WORKERS) * quarter
            raced = range(next_start, next_start + RACED_PER_WORKER)
            leads = [lead for pair in zip(own, raced, strict=False) for lead in pair] + own[RACED_PER_WORKER:]
            start.wait()
            try:
                for lead_id in leads:
                    with session_scope(worker_engine) as session:
                        code = store.issue_coupon(
                            session=session, account_id=ACCOUNT, promo_id=promo_id, lead_id=lead_id + 1, now=1
                        )
                    results[worker].append((lead_id + 1, code))
            except BaseException as error:  # surfaced in the main thread below
                errors.append(error)

        threads = [threading.Thread(target=work, args=(worker,)) for worker in range(WORKERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        worker_engine.dispose()
        assert not errors, errors

        with session_scope(engine) as session:
            stored = session.exec(
                select(store.CouponCode.code, store.CouponCode.lead_id).where(
                    store.CouponCode.account_id == ACCOUNT
                )
            ).all()
        issued = {code: lead for code, lead in stored if lead is not None}
        assert len(issued) == CODES, "every code was issued once the pool is exhausted"
        assert len(set(issued.values())) == CODES, "no lead holds two codes of the promo"
        seen_by_workers: dict[int, set[str]] = {}
        for outcome in results.values():
            for lead_id, code in outcome:
                if code is not None:
                    seen_by_workers.setdefault(lead_id, set()).add(code)
        assert all(len(codes) == 1 for codes in seen_by_workers.values()), "both racers saw the same code"
        handed_out = Counter(code for codes in seen_by_workers.values() for code in codes)
        assert all(count == 1 for count in handed_out.values()), "a code reached two leads"
        assert {code: lead for lead, codes in seen_by_workers.items() for code in codes} == issued
