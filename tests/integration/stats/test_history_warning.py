"""Missing status history is said out loud: `leadpact backfill` against an account whose events list answers 404
or 403 warns in its closing lines, and `stats show` and the weekly report then show stage figures as unknown."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from integration.amocrm.errors import Forbidden, NotFound
from integration.amocrm.models import Pipeline
from integration.db import session_scope
from integration.settings import Settings
from integration.storage import stats as storage
from leadpact.cli.report import app as report_app
from leadpact.cli.stats import app as stats_app
from sync.stats.backfill import backfill_account
from sync.stats.queries import history_missing
from tests.integration.stats.test_cli_live import _backfill_app, cli_env
from tests.live import Live, live_installation

runner = CliRunner()


@pytest.fixture(params=[404, 403])
def live(settings: Settings, request: pytest.FixtureRequest) -> Iterator[Live]:
    """A sandbox whose events list answers 404 (none to give) or 403 (no rights to it)."""
    sandbox = {"rate_limit_per_second": 50.0, "events_api_status": request.param}
    with live_installation(settings, sandbox=sandbox) as installation:
        yield installation


@pytest.fixture
def live_with_events(settings: Settings) -> Iterator[Live]:
    with live_installation(settings, sandbox={"rate_limit_per_second": 50.0}) as installation:
        yield installation


class TestBackfillWithoutEventsApi:
    def test_the_closing_lines_warn_and_the_figures_say_unknown(self, live: Live) -> None:
        """The events list answers 404 or 403: backfill warns in its closing lines in en and ru;
        `stats show` and the report then warn too and show stage conversion and the weighted pipeline as
        unknown rather than 0."""
        account_id = live.create_account("noevents", leads=40)
        assert live.install("noevents").status_code == 200
        env = cli_env(live)

        loaded = runner.invoke(_backfill_app(), ["--account", str(account_id)], env=env)
        assert loaded.exit_code == 0, loaded.output
        closing = loaded.output.strip().splitlines()[-4:]
        assert "Leads loaded: 40" in loaded.output
        assert any("Warning: amoCRM refused its events list" in line for line in closing), closing
        again = runner.invoke(
            _backfill_app(),
            ["--account", str(account_id), "--restart"],
            env={**env, "LEADPACT_LANGUAGE": "ru"},
        )
        assert again.exit_code == 0, again.output
        assert "amoCRM не отдал список событий" in " ".join(again.output.strip().splitlines()[-4:])

        shown = runner.invoke(stats_app, ["show", "--account", str(account_id)], env=env)
        assert shown.exit_code == 0, shown.output
        assert "No stage history: amoCRM refused its events list" in shown.output
        assert "Weighted value: unknown" in shown.output

        report = runner.invoke(
            report_app, ["weekly", "--account", str(account_id), "--format", "md", "--lang", "en"], env=env
        )
        assert report.exit_code == 0, report.output
        assert "> ⚠ No stage history: amoCRM refused its events list" in report.output
        assert "weighted by stage win rate: unknown" in report.output

    def test_an_account_with_an_events_list_gets_no_warning(self, live_with_events: Live) -> None:
        """When amoCRM gives its events list, backfill ends without the warning."""
        account_id = live_with_events.create_account("events", leads=40)
        assert live_with_events.install("events").status_code == 200
        loaded = runner.invoke(_backfill_app(), ["--account", str(account_id)], env=cli_env(live_with_events))
        assert loaded.exit_code == 0, loaded.output
        assert "Leads loaded: 40" in loaded.output
        assert "refused its events list" not in loaded.output


class _NoEventsApi:
    """An account whose events list answers with `error`; no leads."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    async def list_pipelines(self) -> list[Pipeline]:
        return []

    async def iter_leads(self, *, params: Any = None, with_: Any = ()) -> AsyncIterator[Any]:
        for lead in ():
            yield lead

    async def get_contacts(self, ids: Any) -> list[Any]:
        return []

    async def paginate(
        self, path: str, entity: str, *, params: Any = None, limit: int = 250
    ) -> AsyncIterator[dict[str, Any]]:
        raise self.error
        yield {}  # pragma: no cover - makes this an async generator

    async def iter_tasks(self, *, params: Any = None) -> AsyncIterator[Any]:
        for task in ():
            yield task


@pytest.mark.parametrize("status", [403, 404])
async def test_a_refused_events_list_is_remembered_for_the_figures(engine: Engine, status: int) -> None:
    """403 (no rights) and 404 (no events list) both end the backfill with `events_api` False, stored with the
    checkpoint, so the figures know the stage history is missing."""
    kind = Forbidden if status == 403 else NotFound
    error = kind("refused", status_code=status, method="GET", path="events")
    result = await backfill_account(api=_NoEventsApi(error), engine=engine, account_id=77, since=None)  # type: ignore[arg-type]
    assert result.events_api is False
    with session_scope(engine) as session:
        checkpoint = storage.get_checkpoint(session=session, account_id=77)
        assert checkpoint is not None and checkpoint.events_api is False
        assert history_missing(session.connection(), account_id=77) == "no_events_api"
