"""The sandbox's in-memory world: accounts and everything inside them, held by one `SandboxState` per app.

`World` is what faults, OAuth and the webhook emitter may see of the state; `SandboxState` (state.py) adds them
on top, so the imports run one way: world <- faults, oauth, webhook_emitter <- state.

Entities are stored as amoCRM v4 JSON dicts keyed by id, so reads are dict look-ups and answers are copies of
what is stored. Ids come from per-kind counters shared by all accounts, as amoCRM's ids are global [seen].
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from amocrm_sandbox.config import SandboxConfig
from amocrm_sandbox.problems import Problem

Record = dict[str, Any]


def clone(value: Any) -> Any:
    """A deep copy of JSON-shaped data (dicts, lists, scalars); about 3× faster than `copy.deepcopy`."""
    if type(value) is dict:
        return {key: clone(item) for key, item in value.items()}
    if type(value) is list:
        return [clone(item) for item in value]
    return value


WON_STATUS_ID = 142
LOST_STATUS_ID = 143

_FIRST_IDS: dict[str, int] = {
    "account": 31_000_001,
    "user": 8_000_001,
    "group": 400_001,
    "pipeline": 5_000_001,
    "status": 50_000_001,
    "field": 600_001,
    "enum": 900_001,
    "lead": 20_000_001,
    "contact": 30_000_001,
    "tag": 100_001,
    "note": 700_000_001,
    "task": 40_000_001,
    "catalog": 9_001,
    "catalog_element": 800_001,
    "webhook": 1,
    "event": 1,
}


@dataclass(slots=True)
class IdSequences:
    next_ids: dict[str, int] = field(default_factory=lambda: dict(_FIRST_IDS))

    def take(self, kind: str) -> int:
        value = self.next_ids[kind]
        self.next_ids[kind] = value + 1
        return value


@dataclass(slots=True)
class Webhook:
    id: int
    destination: str
    settings: list[str]
    created_at: int
    disabled: bool = False
    failures: int = 0

    def as_json(self) -> Record:
        return {
            "id": self.id,
            "destination": self.destination,
            "created_at": self.created_at,
            "updated_at": self.created_at,
            "sort": 1,
            "disabled": self.disabled,
            "settings": list(self.settings),
        }


@dataclass(slots=True)
class Account:
    id: int
    subdomain: str
    name: str
    created_at: int
    users: dict[int, Record] = field(default_factory=dict)
    groups: list[Record] = field(default_factory=lambda: [{"id": 0, "name": "Отдел продаж", "uuid": None}])
    pipelines: dict[int, Record] = field(default_factory=dict)
    # Custom fields per entity path: "leads", "contacts", "catalogs/{id}".
    fields: dict[str, dict[int, Record]] = field(default_factory=dict)
    leads: dict[int, Record] = field(default_factory=dict)
    contacts: dict[int, Record] = field(default_factory=dict)
    tags: dict[str, dict[int, Record]] = field(default_factory=dict)
    notes: dict[int, Record] = field(default_factory=dict)
    tasks: dict[int, Record] = field(default_factory=dict)
    catalogs: dict[int, Record] = field(default_factory=dict)
    catalog_elements: dict[int, dict[int, Record]] = field(default_factory=dict)
    webhooks: dict[str, Webhook] = field(default_factory=dict)
    # The events list (`GET /api/v4/events`), oldest first: see `event_log.py`.
    event_log: list[Record] = field(default_factory=list)
    # The account's plan: the lower plans refuse the webhooks API (`amocrm_sandbox.subscriptions`).
    plan: str = "advanced"

    @property
    def host(self) -> str:
        return f"{self.subdomain}.amocrm.ru"

    @property
    def url(self) -> str:
        return f"https://{self.host}"

    @property
    def first_user_id(self) -> int:
        return next(iter(self.users), 0)

    def fields_of(self, entity: str) -> dict[int, Record]:
        return self.fields.setdefault(entity, {})

    def tags_of(self, entity: str) -> dict[int, Record]:
        return self.tags.setdefault(entity, {})

    def pipeline(self, pipeline_id: int) -> Record:
        try:
            return self.pipelines[pipeline_id]
        except KeyError:
            raise Problem(404, f"Pipeline {pipeline_id} not found") from None

    def main_pipeline(self) -> Record:
        for pipeline in self.pipelines.values():
            if pipeline["is_main"]:
                return pipeline
        return next(iter(self.pipelines.values()))

    def dump(self) -> Record:
        """Everything in the account, for `/_sandbox/state`."""
        return {
            "account": {"id": self.id, "subdomain": self.subdomain, "name": self.name, "plan": self.plan},
            "users": list(self.users.values()),
            "pipelines": list(self.pipelines.values()),
            "leads": list(self.leads.values()),
            "contacts": list(self.contacts.values()),
            "fields": {entity: list(fields.values()) for entity, fields in self.fields.items()},
            "tags": {entity: list(tags.values()) for entity, tags in self.tags.items()},
            "webhooks": [hook.as_json() | {"failures": hook.failures} for hook in self.webhooks.values()],
            "notes": list(self.notes.values()),
            "tasks": list(self.tasks.values()),
            "catalogs": list(self.catalogs.values()),
            "catalog_elements": {str(k): list(v.values()) for k, v in self.catalog_elements.items()},
            "events": list(self.event_log),
        }

    def lead(self, lead_id: int) -> Record:
        lead = self.leads.get(lead_id)
        if lead is None or lead["is_deleted"]:
            raise Problem(404, f"Lead {lead_id} not found")
        return lead


@dataclass(slots=True)
class Faults:
    """Injected failures, each a probability in 0..1 drawn from the state's seeded RNG."""

    rate_429: float = 0.0
    rate_5xx: float = 0.0
    latency_ms: int = 0
    webhook_duplicate_rate: float = 0.0
    webhook_reorder_window: int = 0
    webhook_drop_rate: float = 0.0
    # Lead hooks carrying only ids (id, status_id, pipeline_id, old_*), as real accounts sometimes send [seen].
    webhook_sparse_rate: float = 0.0
    # The next N token requests naming a known code or refresh token answer 429 / 503 before spending it, so
    # a test can make exactly the first refresh fail.
    token_429s: int = 0
    token_5xxs: int = 0


@dataclass(slots=True)
class AccountStats:
    requests_total: int = 0
    by_route: dict[str, int] = field(default_factory=dict)
    responses_429: int = 0
    webhooks_sent: int = 0
    webhooks_failed: int = 0
    webhooks_dropped: int = 0  # lost on purpose (`webhook_drop_rate`)
    webhook_retries: int = 0
    # Consecutive 429s, for the [assumed] block after repeated abuse.
    consecutive_429s: int = 0
    blocked: bool = False

    def as_json(self) -> Record:
        return {
            "requests_total": self.requests_total,
            "by_route": dict(self.by_route),
            "responses_429": self.responses_429,
            "webhooks_sent": self.webhooks_sent,
            "webhooks_failed": self.webhooks_failed,
            "webhooks_dropped": self.webhooks_dropped,
            "webhook_retries": self.webhook_retries,
        }


class World:
    """Accounts, counters, faults and clock: the part of the state that every sandbox module may see."""

    def __init__(self, config: SandboxConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        self.rng = random.Random(config.random_seed)
        self.ids = IdSequences()
        self.accounts: dict[int, Account] = {}
        self.faults = Faults()
        self.stats: dict[int, AccountStats] = {}

    def now(self) -> int:
        return int(self.clock())

    def stats_for(self, account_id: int) -> AccountStats:
        return self.stats.setdefault(account_id, AccountStats())

    def account(self, account_id: int) -> Account:
        try:
            return self.accounts[account_id]
        except KeyError:
            raise Problem(404, f"Account {account_id} not found") from None

    def account_by_subdomain(self, subdomain: str) -> Account | None:
        return next((a for a in self.accounts.values() if a.subdomain == subdomain), None)

    def total_stats(self) -> AccountStats:
        """Every account's counters added up."""
        total = AccountStats()
        for item in self.stats.values():
            total.requests_total += item.requests_total
            total.responses_429 += item.responses_429
            total.webhooks_sent += item.webhooks_sent
            total.webhooks_failed += item.webhooks_failed
            total.webhooks_dropped += item.webhooks_dropped
            total.webhook_retries += item.webhook_retries
            for route, count in item.by_route.items():
                total.by_route[route] = total.by_route.get(route, 0) + count
        return total

    def reset_stats(self) -> None:
        # A blocked account stays blocked: only the counters start again.
        self.stats = {key: AccountStats(blocked=old.blocked) for key, old in self.stats.items()}
