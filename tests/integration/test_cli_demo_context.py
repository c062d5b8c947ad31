"""The CLI finds the running demo's database and account, and never creates an empty database on its own."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from integration.db import session_scope
from integration.storage import accounts as account_store
from leadpact.cli import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith(("AMOCRM_", "DATABASE_URL", "PUBLIC_URL")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("LEADPACT_LANGUAGE", "en")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)


def _publish_demo(tmp_path: Path, database_url: str, *, pid: int) -> None:
    (tmp_path / ".leadpact").mkdir(exist_ok=True)
    (tmp_path / ".leadpact" / "demo.json").write_text(
        json.dumps(
            {
                "pid": pid,
                "database_url": database_url,
                "public_url": "http://127.0.0.1:8000",
                "sandbox_url": "http://127.0.0.1:8001",
                "amocrm_client_id": "leadpact-demo",
                "amocrm_client_secret": "s3cret-made-up",
                "amocrm_redirect_uri": "http://127.0.0.1:8000/oauth/callback",
                "amocrm_base_url": "http://127.0.0.1:8001",
                "amocrm_authorize_url": "http://127.0.0.1:8001/oauth",
            }
        )
    )


class TestCliDatabase:
    def test_a_missing_database_is_an_error_not_a_new_empty_file(self, tmp_path: Path) -> None:
        """`leadpact accounts list` with no database says how to get one and creates no ./leadpact.db."""
        result = runner.invoke(app, ["accounts", "list"])
        assert result.exit_code == 2
        assert (
            "There is no database at leadpact.db" in result.output and "leadpact db upgrade" in result.output
        )
        assert not (tmp_path / "leadpact.db").exists()

    def test_db_upgrade_still_creates_the_database(self, tmp_path: Path) -> None:
        """`leadpact db upgrade` is the one command meant to create the database."""
        result = runner.invoke(app, ["db", "upgrade"])
        assert result.exit_code == 0, result.output
        assert (tmp_path / "leadpact.db").exists()


class TestRunningDemo:
    def test_commands_use_the_running_demos_database_without_flags(
        self, tmp_path: Path, engine: Engine, database_url: str
    ) -> None:
        """With a demo running here, `leadpact accounts list` lists the demo's account and says it uses the demo."""
        with session_scope(engine) as session:
            account_store.upsert_account(
                session=session,
                account_id=31000001,
                subdomain="demo",
                base_url="http://127.0.0.1:8001",
                language="ru",
                credential_kind="oauth",
                new_webhook_key="k",
            )
        _publish_demo(tmp_path, database_url, pid=os.getpid())
        result = runner.invoke(app, ["accounts", "list"])
        assert result.exit_code == 0, result.output
        assert "31000001" in result.output and "Working on the running demo" in result.output
        assert "s3cret" not in result.output

    def test_a_demo_that_stopped_is_not_used(self, tmp_path: Path, database_url: str) -> None:
        """A demo.json left by a process that is gone is ignored: `--demo` says no demo is running."""
        _publish_demo(tmp_path, database_url, pid=2**22 + 12345)
        result = runner.invoke(app, ["--demo", "accounts", "list"])
        assert result.exit_code == 2 and "No demo is running" in result.output

    def test_explicit_database_url_wins_over_the_demo(
        self, tmp_path: Path, engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """DATABASE_URL set by the operator is used even while a demo runs here."""
        _publish_demo(tmp_path, "sqlite:///nowhere/demo.db", pid=os.getpid())
        monkeypatch.setenv("DATABASE_URL", database_url)
        result = runner.invoke(app, ["accounts", "list"])
        assert result.exit_code == 0, result.output
        assert "Working on the running demo" not in result.output
