"""Which seed makes which account: the coded `demo` shape or the hand-made `realistic` one, by name.

`SandboxConfig.demo_account` picks the shape of the account a fresh world starts with (`leadpact serve
--demo-account realistic`); `/_sandbox/accounts` and `/_sandbox/accounts/{id}/seed` take a `shape` too.
"""

from __future__ import annotations

from collections.abc import Callable

from amocrm_sandbox.accounts import create_account
from amocrm_sandbox.config import SandboxConfig
from amocrm_sandbox.problems import Problem
from amocrm_sandbox.seed import SeedSummary, seed_account
from amocrm_sandbox.seed_realistic import REALISTIC_NAME, REALISTIC_SUBDOMAIN, seed_realistic_account
from amocrm_sandbox.state import Account, SandboxState

DEMO_SUBDOMAIN = "demo"
DEMO_NAME = "LeadPact Demo"

Seeder = Callable[..., SeedSummary]
SHAPES: dict[str, tuple[Seeder, str, str]] = {
    # shape → (seeder, subdomain and name of the account a fresh demo world starts with)
    "demo": (seed_account, DEMO_SUBDOMAIN, DEMO_NAME),
    "realistic": (seed_realistic_account, REALISTIC_SUBDOMAIN, REALISTIC_NAME),
}


def seed_shaped(
    state: SandboxState, account: Account, *, shape: str, leads: int, seed: int | None = None
) -> SeedSummary:
    """Seeds `account` in the named shape; 400 names the shapes there are."""
    if shape not in SHAPES:
        raise Problem(400, f"Unknown account shape {shape!r}: use one of {', '.join(SHAPES)}")
    seeder = SHAPES[shape][0]
    return seeder(state, account, leads=leads, seed=seed)


def new_sandbox_state(config: SandboxConfig) -> SandboxState:
    """A fresh world; with `seed_demo`, one account of the `demo_account` shape holding `demo_leads` leads."""
    if config.demo_account not in SHAPES:
        raise ValueError(
            f"Unknown demo account shape {config.demo_account!r}: use one of {', '.join(SHAPES)}"
        )
    state = SandboxState(config)
    if config.seed_demo:
        seeder, subdomain, name = SHAPES[config.demo_account]
        seeder(state, create_account(state, subdomain, name), leads=config.demo_leads)
    return state
