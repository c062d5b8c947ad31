"""Pacing: a sustained run stays inside amoCRM's sliding one-second window, per account."""

from __future__ import annotations

import asyncio
import bisect
import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integration.amocrm import TokenBucket


class FakeMonotonic:
    """A monotonic clock that only sleeping moves forward."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def max_in_any_window(times: list[float], window: float = 1.0) -> int:
    """The most events that fall in any half-open window [t, t + window)."""
    ordered = sorted(times)
    return max(bisect.bisect_left(ordered, start + window) - index for index, start in enumerate(ordered))


def bucket(clock: FakeMonotonic, rate: float = 7.0, **kwargs: float) -> TokenBucket:
    return TokenBucket(rate, clock=clock, sleep=clock.sleep, **kwargs)  # type: ignore[arg-type]


class TestSustainedRate:
    async def test_sustained_run_never_puts_eight_requests_in_one_second(self) -> None:
        """Seventy back-to-back requests at 7/s never exceed 7 in any sliding second, yet take about 10 s."""
        clock = FakeMonotonic()
        limiter = bucket(clock)
        released: list[float] = []

        for _ in range(70):
            await limiter.acquire(1)
            released.append(clock.now)

        assert max_in_any_window(released) == 7
        elapsed = released[-1] - released[0]
        assert 69 / 7 <= elapsed <= 69 / 7 / 0.95

    async def test_concurrent_callers_are_spaced_too(self) -> None:
        """Twenty tasks asking at once are let through one by one, evenly spaced."""
        clock = FakeMonotonic()
        limiter = bucket(clock)
        released: list[float] = []

        async def call() -> None:
            await limiter.acquire(1)
            released.append(clock.now)

        await asyncio.gather(*(call() for _ in range(20)))

        gaps = [later - earlier for earlier, later in itertools.pairwise(released)]
        assert min(gaps) >= 1 / 7
        assert max_in_any_window(released) <= 7

    async def test_first_request_goes_at_once(self) -> None:
        """An idle account's first request is not delayed."""
        clock = FakeMonotonic()

        await bucket(clock).acquire(1)

        assert clock.sleeps == []


class TestBurst:
    async def test_idle_time_does_not_build_up_a_burst(self) -> None:
        """After a long pause only one request goes at once, so a pause cannot cause a 429 burst."""
        clock = FakeMonotonic()
        limiter = bucket(clock)
        await limiter.acquire(1)
        clock.now += 60

        await limiter.acquire(1)
        await limiter.acquire(1)

        assert len(clock.sleeps) == 1

    async def test_configured_burst_is_allowed_back_to_back(self) -> None:
        """With burst=3, three requests go immediately and the fourth waits."""
        clock = FakeMonotonic()
        limiter = TokenBucket(7, burst=3, clock=clock, sleep=clock.sleep)

        for _ in range(4):
            await limiter.acquire(1)

        assert len(clock.sleeps) == 1


class TestPerAccount:
    async def test_one_busy_account_does_not_slow_another(self) -> None:
        """Each account has its own budget: account 2's first request is not queued behind account 1."""
        clock = FakeMonotonic()
        limiter = bucket(clock)
        for _ in range(5):
            await limiter.acquire(1)
        sleeps_before = len(clock.sleeps)

        await limiter.acquire(2)

        assert len(clock.sleeps) == sleeps_before


class TestValidation:
    @pytest.mark.parametrize("kwargs", [{"rate_per_second": 0}, {"rate_per_second": 7, "burst": 0}])
    def test_nonsense_settings_are_refused(self, kwargs: dict[str, float]) -> None:
        """A zero rate or burst is a configuration error, reported at start-up."""
        with pytest.raises(ValueError):
            TokenBucket(**kwargs)  # type: ignore[arg-type]


class TestAnyArrivalPattern:
    @settings(max_examples=60, deadline=None)
    @given(
        rate=st.sampled_from([1.0, 2.5, 7.0, 10.0]),
        pauses=st.lists(st.floats(min_value=0, max_value=2.0), min_size=1, max_size=60),
    )
    async def test_no_sliding_second_exceeds_the_limit(self, rate: float, pauses: list[float]) -> None:
        """Whatever the pauses between callers, no one-second window holds more requests than the limit."""
        clock = FakeMonotonic()
        limiter = TokenBucket(rate, clock=clock, sleep=clock.sleep)
        released: list[float] = []

        for pause in pauses:
            clock.now += pause
            await limiter.acquire(1)
            released.append(clock.now)

        assert max_in_any_window(released) <= max(1, math.ceil(rate))
