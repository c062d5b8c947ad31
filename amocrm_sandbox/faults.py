"""Limits and injected failures applied to every authenticated API request.

[doc] at most 7 requests/s per integration → 429 `application/problem+json`; counted here per account over a
sliding one-second window. [seen] blocked accounts get an HTML page instead of JSON; [assumed] repeated 429s
lead to a 403 block (`block_after_429s`, off by default). The token endpoint and calls refused with 401 (when the
token is one the account issued) count in the same window [assumed, stricter: `count_401_in_rate_window`]. Faults (`rate_429`, `rate_5xx`, `latency_ms`) are
drawn from the state's seeded RNG so a run can be replayed.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi.responses import HTMLResponse

from amocrm_sandbox.problems import Problem
from amocrm_sandbox.world import AccountStats, Faults, World

WINDOW_SECONDS = 1.0

BLOCK_PAGE = """<!DOCTYPE html>
<html lang="ru"><head><meta charset="utf-8"><title>Доступ ограничен / Access restricted</title></head>
<body><h1>Доступ к API временно ограничен</h1><p>Слишком много запросов с превышением лимитов.</p>
<h1>API access is temporarily restricted</h1><p>Too many requests over the limits.</p></body></html>
"""


class AccountBlocked(Exception):
    """The account's API is blocked: answered with amoCRM's HTML page, not JSON."""


def blocked_page() -> HTMLResponse:
    return HTMLResponse(BLOCK_PAGE, status_code=403)


@dataclass(slots=True)
class SlidingWindowLimiter:
    rate_per_second: float
    clock: Callable[[], float] = time.monotonic
    _hits: dict[int, deque[float]] = field(default_factory=dict)

    def allow(self, account_id: int) -> bool:
        now = self.clock()
        hits = self._hits.setdefault(account_id, deque())
        while hits and hits[0] <= now - WINDOW_SECONDS:
            hits.popleft()
        if len(hits) >= self.rate_per_second:
            return False
        hits.append(now)
        return True


def too_many_requests(send_retry_after: bool) -> Problem:
    headers = {"Retry-After": "1"} if send_retry_after else None
    return Problem(429, "Too Many Requests", headers=headers)


def count_request(state: World, account_id: int, route: str) -> AccountStats:
    stats = state.stats_for(account_id)
    stats.requests_total += 1
    stats.by_route[route] = stats.by_route.get(route, 0) + 1
    return stats


def admit(state: World, limiter: SlidingWindowLimiter, account_id: int) -> None:
    """Raises the answer a request gets instead of being served: a block page, a 429 or an injected 5xx."""
    stats = state.stats_for(account_id)
    if stats.blocked:
        raise AccountBlocked
    faults = state.faults
    if not limiter.allow(account_id) or (faults.rate_429 and state.rng.random() < faults.rate_429):
        _count_429(state, stats)
        raise too_many_requests(state.config.send_retry_after)
    stats.consecutive_429s = 0
    if faults.rate_5xx and state.rng.random() < faults.rate_5xx:
        raise Problem(state.rng.choice((500, 502, 503, 504)), "Injected server error")


def admit_unauthorized(state: World, limiter: SlidingWindowLimiter, account_id: int) -> None:
    """A request whose token the account once issued but that no longer works: it takes a slot of the rate
    window like any other call, so a client hammering with a dead token is limited too [assumed, stricter]."""
    stats = state.stats_for(account_id)
    if stats.blocked:
        raise AccountBlocked
    if not limiter.allow(account_id):
        _count_429(state, stats)
        raise too_many_requests(state.config.send_retry_after)


def admit_token_request(state: World, limiter: SlidingWindowLimiter, account_id: int) -> None:
    """`POST /oauth2/access_token` is paced like the API, and the `token_429s`/`token_5xxs` faults answer
    the next token requests before the grant is spent."""
    faults = state.faults
    if faults.token_429s:
        faults.token_429s -= 1
        _count_429(state, state.stats_for(account_id))
        raise too_many_requests(state.config.send_retry_after)
    if faults.token_5xxs:
        faults.token_5xxs -= 1
        raise Problem(503, "Injected server error")
    admit(state, limiter, account_id)


def _count_429(state: World, stats: AccountStats) -> None:
    stats.responses_429 += 1
    stats.consecutive_429s += 1
    limit = state.config.block_after_429s
    if limit is not None and stats.consecutive_429s >= limit:
        stats.blocked = True


def update_faults(faults: Faults, changes: dict[str, object]) -> Faults:
    """Applies the named settings (rates clamped to 0..1); unknown names are refused."""
    rates = ("rate_429", "rate_5xx", "webhook_duplicate_rate", "webhook_drop_rate", "webhook_sparse_rate")
    counts = ("latency_ms", "webhook_reorder_window", "token_429s", "token_5xxs")
    for key, value in changes.items():
        if key in rates and isinstance(value, int | float) and not isinstance(value, bool):
            setattr(faults, key, min(1.0, max(0.0, float(value))))
        elif key in counts and isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            setattr(faults, key, value)
        else:
            raise Problem(400, f"Unknown or invalid fault setting: {key}")
    return faults
