"""How a sandbox behaves: limits, token lifetimes and webhook delivery, fixed when the app is built.

Values marked [assumed] in `docs/amocrm.md` (token lifetimes, the 429 → 403 block, webhook retries) are
settings here rather than constants, so tests and benches can change them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

DEFAULT_REDIRECT_URI = "http://127.0.0.1:8000/oauth/callback"


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    client_id: str = "leadpact-demo"
    client_secret: str = "sandbox-secret"  # noqa: S105 - a public demo credential of a local fake
    redirect_uri: str = DEFAULT_REDIRECT_URI
    # [doc] 7 requests/s per integration, counted per account over a sliding one-second window.
    rate_limit_per_second: float = 7.0
    # [seen] batch writes take at most 250 entities; [doc] pages hold at most 250.
    batch_limit: int = 250
    page_limit_max: int = 250
    # [doc] amoCRM's events list returns at most 100 per page; a larger `limit` is refused [assumed, stricter].
    events_page_limit_max: int = 100
    # [assumed, stricter] an API call refused with 401 still takes a slot of the account's rate window (amoCRM
    # knows the account from the host, whatever the token). The token endpoint is always paced like the API.
    count_401_in_rate_window: bool = True
    # [assumed] 24 h access tokens, ~3 months refresh tokens, 20 min authorization codes.
    access_token_ttl: int = 86400
    refresh_token_ttl: int = 90 * 86400
    code_ttl: int = 1200
    # [assumed] the receiver must answer fast; failed deliveries are retried, then counted as failures.
    webhook_timeout: float = 2.0
    webhook_retries: int = 3
    # [assumed] retries come after 2, 10 and 30 s; times this factor (tests shrink it, 0 retries at once).
    webhook_retry_scale: float = 1.0
    # [assumed] "over 100 failures within 2 h" disables a hook; counted per hook here as failed deliveries in
    # a row (a success starts the count again), without the window.
    webhook_disable_after_failures: int = 100
    # [assumed, the stricter model] several senders per destination, so bodies arrive out of order, each body
    # holding up to this many events queued for it, and up to this much random delay before each send.
    webhook_senders: int = 3
    webhook_max_events_per_body: int = 5
    # Whether events of different writes waiting for the same destination share a body (off: one body per write).
    webhook_coalesce: bool = True
    webhook_sender_jitter: float = 0.05
    seed_demo: bool = False
    demo_leads: int = 0
    # The shape of the seeded demo account: "demo" (LeadPact's coded fields) or "realistic" (fields people
    # made by hand: Russian names, no codes, «ЛПР» as a select).
    demo_account: str = "demo"
    random_seed: int = 42
    # [assumed] repeated 429 abuse → 403 HTML block page; off by default.
    block_after_429s: int | None = None
    # [seen] real amoCRM does not always send Retry-After with a 429.
    send_retry_after: bool = False
    # [doc] accounts on plans without the webhooks API (Kommo: below Advanced) are refused `POST /api/v4/webhooks`;
    # [assumed] the status: 403 problem+json as for missing rights (402 is amoCRM's v2 "must be paid" code).
    webhooks_refused_status: int = 403
    # [assumed] amoCRM's widget-install hook waits about 3 s for our answer and ignores it.
    widget_hook_timeout: float = 3.0
    # The events list refused, as for an integration without the rights to it (403) or an account that has no
    # events list to give (404): `leadpact backfill` must say the stage history is missing. None: served.
    events_api_status: int | None = None

    def __repr__(self) -> str:
        # The client secret stays out of logs and tracebacks.
        return (
            f"SandboxConfig(client_id={self.client_id!r}, redirect_uri={self.redirect_uri!r}, "
            f"rate_limit_per_second={self.rate_limit_per_second}, batch_limit={self.batch_limit})"
        )


# JSON types accepted for each annotation used in SandboxConfig.
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "bool": (bool,),
    "int": (int,),
    "float": (int, float),
    "int | None": (int, type(None)),
}


def with_overrides(base: SandboxConfig, changes: dict[str, Any]) -> SandboxConfig:
    """`base` with the named settings changed (as sent in JSON); ValueError names an unknown or mistyped one."""
    annotations = {field.name: str(field.type) for field in dataclasses.fields(SandboxConfig)}
    for key, value in changes.items():
        if key not in annotations:
            raise ValueError(f"Unknown sandbox setting: {key}")
        annotation = annotations[key]
        if isinstance(value, bool) != (annotation == "bool") or not isinstance(
            value, _JSON_TYPES[annotation]
        ):
            raise ValueError(f"Invalid value for {key}")
    return dataclasses.replace(base, **changes)
