"""Delivering account webhooks as amoCRM does, without slowing the API down.

Writes hand events to `emit`, which only queues them; each destination has `webhook_senders` concurrent sender
tasks over one shared `httpx.AsyncClient`, so a slow or dead receiver delays only itself, and bodies arrive out
of order as they do from amoCRM [assumed: the stricter model, see docs/amocrm-sources.md]. A sender takes up to
`webhook_max_events_per_body` events queued for its destination and posts them as one body [assumed]. Delivery:
`POST`, `application/x-www-form-urlencoded`, `User-Agent: amoCRM-WebHook-client/1.0` [doc]; a non-2xx answer or
a timeout is retried after 2, 10 and 30 s (× `webhook_retry_scale`, so tests can shrink them) [assumed], then
counted as a failure; a hook is disabled after `webhook_disable_after_failures` failed deliveries in a row
[assumed: "more than 100 failures within 2 h"]. Injected faults (drop, duplicate, ids-only, reorder within a
window) come from `state.faults`.
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
# Pauses before retries 1, 2, 3 … (the last one repeats), in seconds before `webhook_retry_scale`.
RETRY_DELAYS = (2.0, 10.0, 30.0)


@dataclass(frozen=True, slots=True)
class Delivery:
    account_id: int
    destination: str
    body: bytes


@dataclass(frozen=True, slots=True)
class _Queued:
    """The events of one write for one destination (at most `webhook_max_events_per_body` of them)."""

    account: Account
    events: tuple[WebhookEvent, ...]


@dataclass(slots=True)
class _Lane:
    """One destination: events waiting to be sent, bodies ready to go (released by the reorder fault), and
    the senders working on them."""

    destination: str
    events: deque[_Queued] = field(default_factory=deque)
    bodies: deque[Delivery] = field(default_factory=deque)
    senders: list[asyncio.Task[None]] = field(default_factory=list)
    in_flight: int = 0

    @property
    def busy(self) -> bool:
        return bool(self.events) or bool(self.bodies) or self.in_flight > 0


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
            if not chosen:
                continue
            lane = self._lane(hook.destination)
            size = max(1, self._state.config.webhook_max_events_per_body)
            for start in range(0, len(chosen), size):
                lane.events.append(_Queued(account, tuple(chosen[start : start + size])))
            self._wake(lane)

    def _lane(self, destination: str) -> _Lane:
        lane = self._lanes.get(destination)
        if lane is None:
            lane = self._lanes[destination] = _Lane(destination)
        return lane

    def _wake(self, lane: _Lane) -> None:
        lane.senders = [task for task in lane.senders if not task.done()]
        wanted = max(1, self._state.config.webhook_senders)
        loop = asyncio.get_running_loop()
        while len(lane.senders) < wanted:
            lane.senders.append(loop.create_task(self._send_from(lane)))

    def _next_body(self, lane: _Lane) -> Delivery | None:
        """The next body this lane should post: a released one, or up to N queued events of one account."""
        if lane.bodies:
            return lane.bodies.popleft()
        if not lane.events:
            return None
        config = self._state.config
        first = lane.events.popleft()
        taken = list(first.events)
        limit = max(1, config.webhook_max_events_per_body)
        while (
            config.webhook_coalesce
            and lane.events
            and lane.events[0].account is first.account
            and len(taken) + len(lane.events[0].events) <= limit
        ):
            taken.extend(lane.events.popleft().events)
        faults, rng = self._state.faults, self._state.rng
        sparse = bool(faults.webhook_sparse_rate) and rng.random() < faults.webhook_sparse_rate
        return Delivery(
            first.account.id, lane.destination, webhook_body(first.account, taken, ids_only=sparse)
        )

    # --- delivery -----------------------------------------------------------------------------------------

    async def _send_from(self, lane: _Lane) -> None:
        config = self._state.config
        while True:
            delivery = self._next_body(lane)
            if delivery is None:
                return
            lane.in_flight += 1
            try:
                faults, rng = self._state.faults, self._state.rng
                if faults.webhook_drop_rate and rng.random() < faults.webhook_drop_rate:
                    self._state.stats_for(delivery.account_id).webhooks_dropped += 1
                    continue
                if faults.webhook_reorder_window > 1 and not isinstance(delivery, _Released):
                    self._held.append(delivery)
                    if len(self._held) >= faults.webhook_reorder_window:
                        self._release_held()
                    continue
                copies = (
                    2 if faults.webhook_duplicate_rate and rng.random() < faults.webhook_duplicate_rate else 1
                )
                if config.webhook_sender_jitter > 0:
                    # Network and queue jitter between amoCRM's senders: why bodies overtake each other.
                    await asyncio.sleep(rng.random() * config.webhook_sender_jitter)
                for _ in range(copies):
                    await self._deliver(delivery)
            finally:
                lane.in_flight -= 1

    def _release_held(self) -> None:
        held, self._held = self._held, []
        self._state.rng.shuffle(held)
        for delivery in held:
            lane = self._lane(delivery.destination)
            lane.bodies.append(_Released(delivery.account_id, delivery.destination, delivery.body))
            self._wake(lane)

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
        account = self._state.accounts.get(delivery.account_id)
        hook: Webhook | None = account.webhooks.get(delivery.destination) if account else None
        for attempt in range(1 + config.webhook_retries):
            if await self._post(delivery):
                stats.webhooks_sent += 1
                if hook is not None:
                    hook.failures = 0  # the threshold counts failures in a row
                return
            if attempt < config.webhook_retries:
                stats.webhook_retries += 1
                pause = RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)] * config.webhook_retry_scale
                await asyncio.sleep(pause)
        stats.webhooks_failed += 1
        if hook is not None:
            hook.failures += 1
            if hook.failures >= config.webhook_disable_after_failures:
                hook.disabled = True

    # --- control ------------------------------------------------------------------------------------------

    @property
    def queued(self) -> int:
        return len(self._held) + sum(len(lane.events) + len(lane.bodies) for lane in self._lanes.values())

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
            for task in lane.senders:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._lanes.clear()
        if self._client is not None:
            await self._client.aclose()
            self._client = None


@dataclass(frozen=True, slots=True)
class _Released(Delivery):
    """A body the reorder fault held back and let go: sent as it is, not held again."""
