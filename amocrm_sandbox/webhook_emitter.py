"""Delivering account webhooks without slowing the API down.

Writes hand events to `emit`, which only queues bodies; one asyncio task per destination drains its queue in
order over one shared `httpx.AsyncClient`, so a slow or dead receiver delays only itself. Delivery: `POST`,
`application/x-www-form-urlencoded`, `User-Agent: amoCRM-WebHook-client/1.0` [doc]; retried on non-2xx and
timeouts, then counted as a failure, and the hook is disabled after `webhook_disable_after_failures` failures
[assumed]. Injected faults (drop, duplicate, reorder within a window) come from `state.faults`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx

from amocrm_sandbox.events import WebhookEvent
from amocrm_sandbox.webhook_format import webhook_body
from amocrm_sandbox.world import Account, Webhook, World

USER_AGENT = "amoCRM-WebHook-client/1.0"
FORM_TYPE = "application/x-www-form-urlencoded"


@dataclass(frozen=True, slots=True)
class Delivery:
    account_id: int
    destination: str
    body: bytes


@dataclass(slots=True)
class _Lane:
    pending: deque[Delivery] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None

    @property
    def busy(self) -> bool:
        return bool(self.pending) or (self.task is not None and not self.task.done())


class WebhookEmitter:
    def __init__(self, state: World) -> None:
        self._state = state
        self._lanes: dict[str, _Lane] = {}
        self._held: list[Delivery] = []
        self._client: httpx.AsyncClient | None = None

    # --- queueing (called from handlers; never awaits) ---------------------------------------------------

    def emit(self, account: Account, events: Sequence[WebhookEvent]) -> None:
        if not events:
            return
        for hook in list(account.webhooks.values()):
            if hook.disabled:
                continue
            chosen = [event for event in events if event.setting in hook.settings]
            if chosen:
                faults = self._state.faults
                sparse = (
                    bool(faults.webhook_sparse_rate) and self._state.rng.random() < faults.webhook_sparse_rate
                )
                body = webhook_body(account, chosen, ids_only=sparse)
                self._inject_faults(Delivery(account.id, hook.destination, body))

    def _inject_faults(self, delivery: Delivery) -> None:
        faults, rng = self._state.faults, self._state.rng
        if faults.webhook_drop_rate and rng.random() < faults.webhook_drop_rate:
            return
        copies = 2 if faults.webhook_duplicate_rate and rng.random() < faults.webhook_duplicate_rate else 1
        for _ in range(copies):
            if faults.webhook_reorder_window > 1:
                self._held.append(delivery)
                if len(self._held) >= faults.webhook_reorder_window:
                    self._release_held()
            else:
                self._enqueue(delivery)

    def _release_held(self) -> None:
        held, self._held = self._held, []
        self._state.rng.shuffle(held)
        for delivery in held:
            self._enqueue(delivery)

    def _enqueue(self, delivery: Delivery) -> None:
        lane = self._lanes.setdefault(delivery.destination, _Lane())
        lane.pending.append(delivery)
        if lane.task is None or lane.task.done():
            lane.task = asyncio.get_running_loop().create_task(self._drain(lane))

    # --- delivery -----------------------------------------------------------------------------------------

    async def _drain(self, lane: _Lane) -> None:
        while lane.pending:
            delivery = lane.pending.popleft()
            await self._deliver(delivery)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=self._state.config.webhook_timeout,
                headers={"User-Agent": USER_AGENT, "Content-Type": FORM_TYPE},
            )
        return self._client

    async def _post(self, delivery: Delivery) -> bool:
        try:
            response = await self._http().post(delivery.destination, content=delivery.body)
        except httpx.HTTPError:
            return False
        return 200 <= response.status_code < 300

    async def _deliver(self, delivery: Delivery) -> None:
        config = self._state.config
        stats = self._state.stats_for(delivery.account_id)
        for attempt in range(1 + config.webhook_retries):
            if await self._post(delivery):
                stats.webhooks_sent += 1
                return
            if attempt < config.webhook_retries:
                await asyncio.sleep(config.webhook_retry_delay * (attempt + 1))
        stats.webhooks_failed += 1
        account = self._state.accounts.get(delivery.account_id)
        hook: Webhook | None = account.webhooks.get(delivery.destination) if account else None
        if hook is not None:
            hook.failures += 1
            if hook.failures >= config.webhook_disable_after_failures:
                hook.disabled = True

    # --- control ------------------------------------------------------------------------------------------

    @property
    def queued(self) -> int:
        return len(self._held) + sum(len(lane.pending) for lane in self._lanes.values())

    async def flush(self, wait_seconds: float) -> bool:
        """Releases held deliveries and waits until every queue is empty; False when time ran out."""
        self._release_held()
        deadline = time.monotonic() + wait_seconds
        while any(lane.busy for lane in self._lanes.values()):
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.005)
        return True

    async def aclose(self) -> None:
        for lane in self._lanes.values():
            if lane.task is not None:
                lane.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await lane.task
        self._lanes.clear()
        if self._client is not None:
            await self._client.aclose()
            self._client = None
