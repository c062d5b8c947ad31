"""The sliding-window rate limiter and deterministic demo data."""

from __future__ import annotations

from collections import Counter

from amocrm_sandbox import SandboxConfig, SandboxState
from amocrm_sandbox import __all__ as public_names
from amocrm_sandbox.accounts import create_account
from amocrm_sandbox.faults import SlidingWindowLimiter
from amocrm_sandbox.seed import seed_account

NOW = 1_800_000_000


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class TestSlidingWindow:
    def test_allows_rate_per_second_then_refuses_until_the_window_slides(self) -> None:
        """Seven calls pass, the eighth waits until the first leaves the one-second window."""
        clock = FakeClock()
        limiter = SlidingWindowLimiter(7.0, clock=clock)
        assert [limiter.allow(1) for _ in range(8)] == [True] * 7 + [False]
        clock.now = 0.999
        assert not limiter.allow(1)
        clock.now = 1.0
        assert limiter.allow(1)

    def test_accounts_have_separate_windows(self) -> None:
        """One account's burst leaves another's budget untouched."""
        limiter = SlidingWindowLimiter(1.0, clock=FakeClock())
        assert limiter.allow(1)
        assert not limiter.allow(1)
        assert limiter.allow(2)


def seeded(seed: int, leads: int = 200) -> SandboxState:
    state = SandboxState(SandboxConfig(), clock=lambda: NOW)
    seed_account(state, create_account(state, "acme"), leads=leads, seed=seed)
    return state


def field(lead: dict[str, object], code: str) -> object:
    for item in lead["custom_fields_values"] or ():  # type: ignore[attr-defined]
        if item["field_code"] == code:
            return item["values"][0]["value"]
    return None


class TestSeed:
    def test_same_seed_same_data(self) -> None:
        """Seeding twice with one seed gives identical leads; another seed gives different ones."""
        first, second, other = seeded(7), seeded(7), seeded(8)
        leads = [next(iter(s.accounts.values())).leads for s in (first, second, other)]
        assert leads[0] == leads[1]
        assert leads[0] != leads[2]

    def test_realistic_mix_of_channels_levels_and_statuses(self) -> None:
        """Demo leads span channels (incl. direct and tiktok), cold/warm/hot fill levels, won/lost, ~60 days."""
        account = next(iter(seeded(42).accounts.values()))
        leads = list(account.leads.values())
        sources = Counter(field(lead, "UTM_SOURCE") for lead in leads)
        assert {"yandex", "google", "vk", "tiktok", None} <= set(sources)
        cold = [lead for lead in leads if field(lead, "NEED") is None]
        warm = [lead for lead in leads if field(lead, "NEED") and field(lead, "DECISION_DATE") is None]
        hot = [lead for lead in leads if field(lead, "DECISION_DATE") is not None]
        assert all(len(group) > 20 for group in (cold, warm, hot))
        horizons = [int(field(lead, "DECISION_DATE")) - lead["created_at"] for lead in hot]  # type: ignore[arg-type]
        assert any(h < 180 * 86400 for h in horizons) and any(h > 180 * 86400 for h in horizons)
        statuses = Counter(lead["status_id"] for lead in leads)
        assert statuses[142] > 0 and statuses[143] > 0
        ages = [NOW - lead["created_at"] for lead in leads]
        assert max(ages) <= 60 * 86400 and max(ages) > 45 * 86400
        assert len(account.users) == 6 and len(account.pipelines) == 2

    def test_every_lead_has_a_contact_with_phone_and_email(self) -> None:
        """Each demo lead links one main contact carrying a +7 phone and an email."""
        account = next(iter(seeded(1, leads=20).accounts.values()))
        for lead in account.leads.values():
            (link,) = lead["_embedded"]["contacts"]
            contact = account.contacts[link["id"]]
            values = {f["field_code"]: f["values"][0]["value"] for f in contact["custom_fields_values"]}
            assert values["PHONE"].startswith("+7")
            assert "@" in values["EMAIL"]


class TestPublicNames:
    def test_exports_are_pinned(self) -> None:
        """The package exports exactly the factory, the config, the state and the account shapes."""
        assert sorted(public_names) == [
            "ACCOUNT_SHAPES",
            "SandboxConfig",
            "SandboxState",
            "create_sandbox_app",
        ]


class TestSecrets:
    def test_reprs_hide_the_client_secret_and_tokens(self) -> None:
        """Printing the config or the state never shows the client secret or issued tokens."""
        config = SandboxConfig(client_secret="s3cr3t-value")
        state = SandboxState(config, clock=lambda: NOW)
        account = create_account(state, "acme")
        token = state.tokens.issue_long_lived(account, now=NOW, ttl=60)
        for text in (repr(config), repr(state), repr(state.tokens)):
            assert "s3cr3t-value" not in text
            assert token not in text
