"""`rules backtest --from-amocrm`: leads pulled from amoCRM (the sandbox) through the rate-limited client."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from integration.amocrm import AmoClient, TokenBucket
from leadpact.cli.rules import pull_backtest_leads
from rules import backtest, default_rules_text, default_ruleset, load_ruleset
from tests.integration.amocrm.sandbox import installed_api, running_sandbox
from tests.unit.rules.factories import NOW

RATE = 100.0


@pytest.fixture
def sandbox_url() -> Iterator[str]:
    with running_sandbox(rate_limit_per_second=RATE) as base_url:
        yield base_url


class TestPullFromAmocrm:
    async def test_every_demo_lead_is_pulled_and_backtested(self, sandbox_url: str) -> None:
        """All of the account's leads arrive over the paged API and the backtest covers each of them."""
        async with httpx.AsyncClient(timeout=10) as http:
            client = AmoClient(http, limiter=TokenBucket(RATE), backoff_base=0.01, backoff_max=0.2)
            api, _, _ = await installed_api(client, sandbox_url, "backtest", leads=60)
            seen: list[int] = []
            leads = await pull_backtest_leads(api, progress=seen.append)
        assert len(leads) == 60 and sum(seen) == 60
        assert len({lead.lead["id"] for lead in leads}) == 60
        stricter = load_ruleset(default_rules_text().replace("min_met: 3", "min_met: 4")).with_version(1)
        report = backtest(stricter, default_ruleset(), leads, NOW)
        assert report.total == 60
        assert report.qualified_candidate <= report.qualified_active
        assert any(lead.lead.get("custom_fields_values") for lead in leads)
