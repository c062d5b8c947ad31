"""`leadpact stats show`, `plan set`, `spend import` and `stats freeze` on a real database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from integration.db import session_scope
from integration.storage import stats as storage
from integration.storage.rulesets import active_ruleset
from leadpact.cli.stats import app, plan_app, spend_app
from tests.integration.stats.conftest import ACCOUNT, Dataset

runner = CliRunner()


@pytest.fixture
def env(database_url: str) -> dict[str, str]:
    # A wide terminal, so rich never wraps a table cell whatever the terminal running the tests.
    return {"DATABASE_URL": database_url, "LEADPACT_LANGUAGE": "en", "COLUMNS": "200"}


class TestShow:
    def test_json_output_carries_the_hand_counted_figures(
        self, november: Dataset, env: dict[str, str]
    ) -> None:
        """`stats show --json` prints the same bonus base, quality and costs as the metrics tests."""
        result = runner.invoke(
            app, ["show", "--period", "2026-11", "--account", str(ACCOUNT), "--json"], env=env
        )
        assert result.exit_code == 0, result.output
        data = json.loads(result.output)
        assert data["bonus"]["base"] == 90 and data["bonus"]["pct_of_plan"] == pytest.approx(0.9)
        assert data["period"]["label"] == "2026-11"
        costs = {row["channel"]: row for row in data["costs"]}
        assert costs["yandex"]["per_customer"] == "2142.86" and costs["tiktok"]["per_lead"] is None

    def test_the_table_shows_figures_and_dashes_for_empty_ones(
        self, november: Dataset, env: dict[str, str]
    ) -> None:
        """The rich table names the best manager and prints empty figures as a dash."""
        result = runner.invoke(app, ["show", "--period", "2026-11", "--account", str(ACCOUNT)], env=env)
        assert result.exit_code == 0, result.output
        assert "Marketing bonus base: 90" in result.output
        assert "best" in result.output and "worst" in result.output
        assert "—" in result.output and "75.0 %" in result.output

    def test_a_bad_period_is_a_clear_error(self, november: Dataset, env: dict[str, str]) -> None:
        """A typo in --period ends with the message and exit code 2, no traceback."""
        result = runner.invoke(app, ["show", "--period", "Nov", "--account", str(ACCOUNT)], env=env)
        assert result.exit_code == 2
        assert "Cannot read the period" in result.output


class TestPlanAndSpend:
    def test_plans_are_set_and_overlaps_refused(self, engine: Engine, env: dict[str, str]) -> None:
        """A monthly plan is stored; a week inside it is refused with a clear message."""
        ok = runner.invoke(
            plan_app, ["set", "--period", "2026-12", "--leads", "100", "--account", "5"], env=env
        )
        assert ok.exit_code == 0, ok.output
        assert "Plan for 2026-12 saved" in ok.output
        clash = runner.invoke(
            plan_app, ["set", "--period", "2026-12-07..2026-12-13", "--leads", "5", "--account", "5"], env=env
        )
        assert clash.exit_code == 2 and "overlaps" in clash.output

    def test_a_monthly_plan_is_shown_week_by_week(self, november: Dataset, env: dict[str, str]) -> None:
        """November's 100 leads split pro rata: 23.3 for each full week, 3.3 for the single days at the ends."""
        result = runner.invoke(plan_app, ["show", "--period", "2026-11", "--account", str(ACCOUNT)], env=env)
        assert result.exit_code == 0, result.output
        rows = {line.split()[1]: line.split()[3] for line in result.output.splitlines() if "2026-11-" in line}
        assert rows == {
            "2026-11-01..2026-11-01": "3.3",
            "2026-11-02..2026-11-08": "23.3",
            "2026-11-09..2026-11-15": "23.3",
            "2026-11-16..2026-11-22": "23.3",
            "2026-11-23..2026-11-29": "23.3",
            "2026-11-30..2026-11-30": "3.3",
        }

    def test_russian_is_the_default_language(self, engine: Engine, database_url: str) -> None:
        """Without LEADPACT_LANGUAGE=en the same refusal is in Russian."""
        result = runner.invoke(
            plan_app,
            ["set", "--period", "2026-12", "--leads", "-1", "--account", "5"],
            env={"DATABASE_URL": database_url},
        )
        assert result.exit_code == 2 and "не может быть отрицательным" in result.output

    def test_spend_is_imported_and_unknown_channels_refused(
        self, engine: Engine, env: dict[str, str], tmp_path: Path
    ) -> None:
        """A CSV with known channels is stored; a misspelt channel is refused naming the line."""
        with session_scope(engine) as session:
            channels = active_ruleset(session=session, account_id=5)[1].channel_names
        bad = tmp_path / "bad.csv"
        bad.write_text("period,channel,amount\n2026-12,no-such-channel,1000\n", encoding="utf-8")
        good = tmp_path / "spend.csv"
        good.write_text(f"period,channel,amount\n2026-12,{channels[0]},1000\n", encoding="utf-8")
        result = runner.invoke(spend_app, ["import", str(good), "--account", "5"], env=env)
        assert result.exit_code == 0, result.output
        assert "Spend lines imported: 1" in result.output
        refused = runner.invoke(spend_app, ["import", str(bad), "--account", "5"], env=env)
        assert refused.exit_code == 2 and "Line 2: unknown channel" in refused.output
        with session_scope(engine) as session:
            stored = storage.list_spend(session=session, account_id=5)
        assert [(row.channel, int(row.amount)) for row in stored] == [(channels[0], 1000)]


class TestFreeze:
    def test_freezing_twice_keeps_the_first_snapshot(self, november: Dataset, env: dict[str, str]) -> None:
        """October (5 qualified leads) freezes once; the second freeze reports the existing snapshot."""
        first = runner.invoke(app, ["freeze", "--period", "2026-10", "--account", str(ACCOUNT)], env=env)
        assert first.exit_code == 0, first.output
        assert "frozen: 5 qualified leads" in first.output
        second = runner.invoke(app, ["freeze", "--period", "2026-10", "--account", str(ACCOUNT)], env=env)
        assert "was frozen on" in second.output and "does not change" in second.output
        shown = runner.invoke(app, ["show", "--period", "2026-10", "--account", str(ACCOUNT)], env=env)
        assert "Frozen bonus base" in shown.output and "rules v3): 5; disputed leads: —" in shown.output
        as_json = runner.invoke(
            app, ["show", "--period", "2026-10", "--account", str(ACCOUNT), "--json"], env=env
        )
        assert len(json.loads(as_json.output)["frozen_bonus"]["lead_ids"]) == 5
