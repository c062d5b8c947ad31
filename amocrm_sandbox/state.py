"""One sandbox app's state: the world of accounts plus the issued tokens, the rate limiter and the webhook emitter.

The records themselves live in `world.py`; their names are re-exported here, where most modules look for them.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from amocrm_sandbox.config import SandboxConfig
from amocrm_sandbox.faults import SlidingWindowLimiter
from amocrm_sandbox.oauth import Tokens
from amocrm_sandbox.webhook_emitter import WebhookEmitter
from amocrm_sandbox.world import (
    LOST_STATUS_ID,
    WON_STATUS_ID,
    Account,
    AccountStats,
    Faults,
    IdSequences,
    Record,
    Webhook,
    World,
    clone,
)

__all__ = [
    "LOST_STATUS_ID",
    "WON_STATUS_ID",
    "Account",
    "AccountStats",
    "Faults",
    "IdSequences",
    "Record",
    "SandboxState",
    "Webhook",
    "World",
    "clone",
]


class SandboxState(World):
    """Everything one sandbox app knows; handlers are `async def` on one event loop, so they need no locks."""

    def __init__(self, config: SandboxConfig, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__(config, clock=clock)
        self.tokens: Tokens = Tokens()
        self.limiter: SlidingWindowLimiter = SlidingWindowLimiter(config.rate_limit_per_second)
        self.emitter: WebhookEmitter = WebhookEmitter(self)

    def __repr__(self) -> str:
        return f"SandboxState(accounts={len(self.accounts)}, config={self.config!r})"
