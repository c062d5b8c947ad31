"""Client-side pacing, so amoCRM's 7 requests/s per integration is approached but never crossed.

amoCRM (and our sandbox) count requests in a sliding one-second window. A token bucket with a burst of 1
spaces requests evenly; a small headroom absorbs network jitter, which could otherwise squeeze eight requests
into one window at exactly 7/s.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol


class RateLimiter(Protocol):
    """Waits until one more request may go to `account_id`'s API."""

    async def acquire(self, account_id: int) -> None: ...


@dataclass(slots=True)
class _Bucket:
    tokens: float
    refilled_at: float
    # A fair FIFO queue: waiters take turns, so one busy task cannot starve the others.
    turn: asyncio.Lock = field(default_factory=asyncio.Lock)


class TokenBucket:
    """An in-process token bucket per account: `rate_per_second` sustained, at most `burst` back-to-back.

    The effective rate is `rate_per_second * (1 - headroom)`. Tokens never accumulate beyond `burst`, so a
    stalled event loop (everyone waking late) cannot release a burst either.
    """

    def __init__(
        self,
        rate_per_second: float,
        *,
        burst: int = 1,
        headroom: float = 0.02,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate_per_second <= 0:
            raise ValueError("rate_per_second must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        if not 0 <= headroom < 1:
            raise ValueError("headroom must be in [0, 1)")
        self.rate_per_second = rate_per_second
        self.burst = burst
        self._effective_rate = rate_per_second * (1 - headroom)
        self._clock = clock
        self._sleep = sleep
        self._buckets: dict[int, _Bucket] = {}

    def __repr__(self) -> str:
        return f"TokenBucket(rate_per_second={self.rate_per_second}, burst={self.burst})"

    async def acquire(self, account_id: int) -> None:
        bucket = self._buckets.get(account_id)
        if bucket is None:
            bucket = self._buckets[account_id] = _Bucket(tokens=float(self.burst), refilled_at=self._clock())
        async with bucket.turn:
            self._refill(bucket)
            if bucket.tokens < 1:
                await self._sleep((1 - bucket.tokens) / self._effective_rate)
                self._refill(bucket)
            bucket.tokens -= 1

    def _refill(self, bucket: _Bucket) -> None:
        now = self._clock()
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.refilled_at) * self._effective_rate)
        bucket.refilled_at = now
