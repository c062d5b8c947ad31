"""A faithful local amoCRM API v4: in-memory, multi-account, with OAuth, limits, webhooks and fault injection.

Tests, benches and the demo talk to it over real HTTP (`integration.servers.serve_in_thread`); in-process code
may inspect `app.state.sandbox` (a `SandboxState`). The Bearer token decides the account.

amoCRM side: `GET /oauth` (auto-consent, 302 to the redirect URI with code/referer/state/client_id),
`POST /oauth2/access_token`, and `/api/v4/…`: account, users, pipelines/statuses, leads, contacts, tags,
custom fields, catalogs and elements, links, notes, tasks, webhooks, the events list (`GET /api/v4/events`).

Control side, no auth and never rate limited (`/_sandbox/…`): `POST accounts {subdomain, seed_demo, leads,
shape: demo|realistic}`, `GET accounts`, `POST accounts/{id}/seed {leads, seed, shape}`,
`PATCH accounts/{id}/leads[?user_id=]` (a person's edit in the UI: API-only fields are read-only),
`POST reset {<SandboxConfig overrides>}`, `POST faults {rate_429, rate_5xx, latency_ms, webhook_duplicate_rate,
webhook_reorder_window, webhook_drop_rate, webhook_sparse_rate, token_429s, token_5xxs}`, `GET state?account_id=`,
`GET stats[?account_id=]`,
`POST stats/reset`, `POST webhooks/flush[?wait_seconds=]`, `POST tokens/expire {account_id}`,
`POST tokens/long-lived {account_id, ttl}`, `POST leads/{id}/delete|restore?account_id=`,
`POST widget-token {account_id, user_id, is_admin, aud, ttl}`.
"""

from amocrm_sandbox.app import create_sandbox_app
from amocrm_sandbox.config import SandboxConfig
from amocrm_sandbox.seeding import SHAPES
from amocrm_sandbox.state import SandboxState

# The shapes a seeded account can take (`SandboxConfig.demo_account`): "demo", "realistic".
ACCOUNT_SHAPES: tuple[str, ...] = tuple(SHAPES)

__all__ = ["ACCOUNT_SHAPES", "SandboxConfig", "SandboxState", "create_sandbox_app"]
