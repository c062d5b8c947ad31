"""An amoCRM rate budget shared by every worker and replica, kept in the database.

amoCRM allows 7 requests/s per integration and account, whoever sends them. With an in-process token bucket,
N replicas would together send 7·N/s. Here each account has one row in `rate_budgets` holding its next free
request slot; reserving a slot is one atomic upsert (`INSERT … ON CONFLICT DO UPDATE … RETURNING`), so
concurrent reservations from any process queue up one interval apart, and each caller sleeps until its slot.

On PostgreSQL the database clock decides, so replicas with skewed clocks still share one timeline. SQLite
(the embedded single-process default) works the same way with this process's clock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import anyio
from sqlalchemy import text
from sqlalchemy.engine import Engine

from integration.amocrm.ratelimit import RateLimiter, TokenBucket
from integration.settings import Settings

__all__ = ["SqlRateLimiter", "shared_rate_limiter"]

_POSTGRES_RESERVE = text(
    """
    WITH clock AS (SELECT extract(epoch FROM clock_timestamp())::float8 AS now)
    INSERT INTO rate_budgets (account_id, next_slot_at)
    SELECT :account_id, clock.now + :interval FROM clock
    ON CONFLICT (account_id) DO UPDATE
        SET next_slot_at = GREATEST(rate_budgets.next_slot_at, EXCLUDED.next_slot_at - :interval) + :interval
    RETURNING next_slot_at - :interval - (SELECT now FROM clock) AS wait
    """
)

_SQLITE_RESERVE = text(
    """
    INSERT INTO rate_budgets (account_id, next_slot_at) VALUES (:account_id, :now + :interval)
    ON CONFLICT (account_id) DO UPDATE
        SET next_slot_at = max(rate_budgets.next_slot_at, :now) + :interval
    RETURNING next_slot_at - :interval - :now AS wait
    """
)


class SqlRateLimiter:
    """`RateLimiter` whose budget lives in `rate_budgets`, shared by every process on the same database."""

    def __init__(
        self,
        engine: Engine,
        rate_per_second: float,
        *,
        headroom: float = 0.02,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if rate_per_second <= 0:
            raise ValueError("rate_per_second must be positive")
        if not 0 <= headroom < 1:
            raise ValueError("headroom must be in [0, 1)")
        self.rate_per_second = rate_per_second
        self._interval = 1.0 / (rate_per_second * (1 - headroom))
        self._engine = engine
        self._sleep = sleep
        self._clock = clock
        self._postgres = engine.dialect.name == "postgresql"

    def __repr__(self) -> str:
        return f"SqlRateLimiter(rate_per_second={self.rate_per_second}, backend={self._engine.dialect.name})"

    async def acquire(self, account_id: int) -> None:
        wait = await anyio.to_thread.run_sync(self.reserve, account_id)
        if wait > 0:
            await self._sleep(wait)

    def reserve(self, account_id: int) -> float:
        """Take the account's next slot; the seconds to wait until it starts (≤ 0: go now)."""
        params = {"account_id": account_id, "interval": self._interval}
        with self._engine.begin() as connection:
            if self._postgres:
                wait = connection.execute(_POSTGRES_RESERVE, params).scalar_one()
            else:
                wait = connection.execute(_SQLITE_RESERVE, {**params, "now": self._clock()}).scalar_one()
        return float(wait)


def shared_rate_limiter(settings: Settings, engine: Engine) -> RateLimiter:
    """The limiter for this installation: shared in PostgreSQL across replicas; in-process for SQLite."""
    if engine.dialect.name == "postgresql":
        return SqlRateLimiter(engine, settings.rate_limit_per_second)
    return TokenBucket(settings.rate_limit_per_second)
