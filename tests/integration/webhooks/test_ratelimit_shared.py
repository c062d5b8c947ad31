"""The database-kept rate budget: several workers together stay under one account's limit."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy.engine import Engine

from integration.ratelimit_shared import SqlRateLimiter


class TestSharedBudget:
    async def test_two_replicas_together_keep_one_accounts_rate(self, engine: Engine) -> None:
        """Two limiters on one database (two replicas) pace one account as if they were one."""
        rate = 40.0
        replicas = [SqlRateLimiter(engine, rate, headroom=0), SqlRateLimiter(engine, rate, headroom=0)]
        sent: list[float] = []

        async def send(limiter: SqlRateLimiter) -> None:
            await limiter.acquire(7)
            sent.append(time.monotonic())

        started = time.monotonic()
        await asyncio.gather(*(send(replicas[i % 2]) for i in range(30)))
        elapsed = time.monotonic() - started
        assert elapsed >= 29 / rate * 0.95
        # In any one-second window no more than `rate` requests (+1 for the window edge) went out.
        sent.sort()
        assert all(sum(1 for t in sent if start <= t < start + 1) <= rate + 1 for start in sent)

    async def test_accounts_have_separate_budgets(self, engine: Engine) -> None:
        """A busy account does not slow down another account's requests."""
        limiter = SqlRateLimiter(engine, 5.0, headroom=0)
        for _ in range(3):
            await limiter.acquire(1)
        assert limiter.reserve(2) <= 0
        assert limiter.reserve(1) > 0.1
