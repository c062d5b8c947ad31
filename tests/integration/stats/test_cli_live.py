"""The demo path: install into the sandbox, `leadpact backfill`, `leadpact stats push`; the catalog in amoCRM then
holds the same figures `leadpact stats show` prints."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from integration.settings import Settings
from leadpact.cli.stats import app, backfill
from tests.live import CLIENT_ID, CLIENT_SECRET, Live, live_installation

runner = CliRunner()


@pytest.fixture
def live(settings: Settings) -> Iterator[Live]:
    with live_installation(settings, sandbox={"rate_limit_per_second": 50.0}) as installation:
        yield installation


def cli_env(live: Live) -> dict[str, str]:
    settings = live.settings
    assert settings.amocrm_redirect_uri is not None and settings.amocrm_base_url is not None
    return {
        "DATABASE_URL": settings.database_url,
        "DATA_DIR": str(settings.data_dir),
        "SECRET_KEY": "test-secret-key-not-for-production",
        "AMOCRM_CLIENT_ID": CLIENT_ID,
        "AMOCRM_CLIENT_SECRET": CLIENT_SECRET,
        "AMOCRM_REDIRECT_URI": settings.amocrm_redirect_uri,
        "AMOCRM_BASE_URL": settings.amocrm_base_url,
        "PUBLIC_URL": live.public_url,
        "RATE_LIMIT_PER_SECOND": "50",
        "LEADPACT_LANGUAGE": "en",
        "COLUMNS": "200",
    }


def catalog_figures(live: Live, account_id: int) -> dict[str, dict[str, Any]]:
    """Element name → {field code: value} of the "LeadPact funnel" catalog, read from the sandbox."""
    state = live.state(account_id)
    catalog = next(c for c in state["catalogs"] if c["name"] == "LeadPact funnel")
    elements = state["catalog_elements"][str(catalog["id"])]
    items = elements.values() if isinstance(elements, dict) else elements
    return {
        element["name"]: {
            v["field_code"]: v["values"][0]["value"] for v in element["custom_fields_values"] or []
        }
        for element in items
    }


class TestDemo:
    @pytest.mark.slow
    def test_backfill_then_push_puts_the_shown_figures_into_the_catalog(self, live: Live) -> None:
        """After backfill and push, the all-channels element holds the leads and % qualified `stats show` prints."""
        account_id = live.create_account("funnel", leads=40)
        assert live.install("funnel").status_code == 200
        env = cli_env(live)

        loaded = runner.invoke(_backfill_app(), ["--account", str(account_id)], env=env)
        assert loaded.exit_code == 0, loaded.output
        assert "Leads loaded: 40" in loaded.output

        pushed = runner.invoke(app, ["push", "--account", str(account_id)], env=env)
        assert pushed.exit_code == 0, pushed.output
        shown = runner.invoke(app, ["show", "--account", str(account_id), "--json"], env=env)
        assert shown.exit_code == 0, shown.output
        figures = json.loads(shown.output)

        period = figures["period"]["label"]
        total = catalog_figures(live, account_id)[f"{period} · all channels"]
        assert int(float(total["LEADPACT_LEADS"])) == figures["totals"]["leads"]
        pct = figures["quality_total"]["qualified_pct"]
        if pct is None:
            assert "LEADPACT_QUALIFIED_PCT" not in total
        else:
            assert float(total["LEADPACT_QUALIFIED_PCT"]) == round(pct * 100, 1)
        assert int(float(total["LEADPACT_BONUS_BASE"])) == figures["bonus"]["base"]

        again = runner.invoke(app, ["push", "--account", str(account_id)], env=env)
        assert "0 elements created, 0 updated; leads updated: 0" in again.output


def _backfill_app() -> typer.Typer:
    """`leadpact backfill` as the CLI root mounts it (a single command)."""
    single = typer.Typer()
    single.command()(backfill)
    return single
