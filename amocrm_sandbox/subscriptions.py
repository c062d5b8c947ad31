"""The account's webhook subscriptions [doc]: `POST /api/v4/webhooks {destination, settings}` subscribes or
replaces the settings of that destination (and re-enables it), `DELETE` with `{destination}` unsubscribes;
listed hooks carry `disabled`.

Plans [doc: Kommo "webhooks-general"]: working with webhooks through the API needs the Advanced or Enterprise
plan (amoCRM: «Расширенный» or «Профессиональный»). On a lower plan a subscription is refused with
`SandboxConfig.webhooks_refused_status` [assumed: the status and text are not documented]; listing still works.
"""

from __future__ import annotations

from typing import Any

from amocrm_sandbox.batch import contains
from amocrm_sandbox.events import KNOWN_SETTINGS
from amocrm_sandbox.problems import Problem
from amocrm_sandbox.state import Account, SandboxState, Webhook


def destination_of(body: Any) -> str:
    destination = body.get("destination") if isinstance(body, dict) else None
    if not isinstance(destination, str) or not destination.startswith(("http://", "https://")):
        raise Problem(400, "destination must be an http(s) URL")
    return destination


PLANS: tuple[str, ...] = ("base", "advanced", "enterprise")
PLANS_WITH_WEBHOOKS_API = frozenset({"advanced", "enterprise"})


def set_plan(account: Account, plan: Any) -> None:
    if plan not in PLANS:
        raise Problem(400, f"plan must be one of {', '.join(PLANS)}")
    account.plan = plan


def subscribe(state: SandboxState, account: Account, body: Any) -> Webhook:
    if account.plan not in PLANS_WITH_WEBHOOKS_API:
        raise Problem(
            state.config.webhooks_refused_status, "Webhooks API is not available on the account's plan"
        )
    destination = destination_of(body)
    settings = body.get("settings")
    if (
        not isinstance(settings, list)
        or not settings
        or not all(contains(KNOWN_SETTINGS, s) for s in settings)
    ):
        raise Problem(400, "settings must be a non-empty list of known events")
    hook = account.webhooks.get(destination)
    if hook is None:
        hook = Webhook(
            id=state.ids.take("webhook"),
            destination=destination,
            settings=list(settings),
            created_at=state.now(),
        )
        account.webhooks[destination] = hook
    else:
        hook.settings = list(settings)
        hook.disabled = False
        hook.failures = 0
    return hook


def unsubscribe(account: Account, body: Any) -> None:
    if account.webhooks.pop(destination_of(body), None) is None:
        raise Problem(404, "Webhook not found")


def listed(account: Account, destinations: tuple[str, ...] | None) -> list[Webhook]:
    hooks = account.webhooks.values()
    return [hook for hook in hooks if destinations is None or hook.destination in destinations]
