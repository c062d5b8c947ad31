"""`leadpact promos import|list` as a marketer uses them."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from integration.db import session_scope
from integration.storage import accounts as account_store
from integration.storage import promos as store
from leadpact.cli import app as leadpact

ACCOUNT = 34000001


@pytest.fixture
def cli_env(database_url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("LEADPACT_LANGUAGE", "en")
    monkeypatch.chdir(tmp_path)
    with session_scope(engine) as session:
        account_store.upsert_account(
            session=session,
            account_id=ACCOUNT,
            subdomain="acme",
            base_url="https://acme.amocrm.ru",
            language="ru",
            credential_kind="oauth",
            new_webhook_key="k",
        )
    return tmp_path


class TestPromosCli:
    def test_import_then_list_shows_the_promos_and_free_coupons(self, cli_env: Path) -> None:
        """Importing a YAML file then listing shows each promo and its free/total coupons."""
        (cli_env / "promos.yaml").write_text(
            "- key: spring\n  name: Spring\n  code: SPRING10\n- key: vip\n  name: VIP\n  coupons: [A1, A2]\n",
            encoding="utf-8",
        )
        imported = CliRunner().invoke(leadpact, ["promos", "import", "promos.yaml"])
        assert imported.exit_code == 0, imported.output
        assert "Imported promos: 2, new coupons: 2" in imported.output
        listed = CliRunner().invoke(leadpact, ["promos", "list"])
        assert listed.exit_code == 0, listed.output
        assert "SPRING10" in listed.output and "2/2" in listed.output

    def test_bad_file_imports_nothing_and_lists_each_error(self, cli_env: Path, engine: Engine) -> None:
        """A CSV with a bad date and a duplicate code exits non-zero, naming rows, and stores nothing."""
        (cli_env / "promos.csv").write_text(
            "key,name,coupons,ends_on\na,A,X1,2026-13-01\nb,B,X1,\nc,C,Z9,\n", encoding="utf-8"
        )
        result = CliRunner().invoke(leadpact, ["promos", "import", "promos.csv"])
        assert result.exit_code == 1
        assert "row 2, field “ends_on”" in result.output and "row 3, field “coupons”" in result.output
        with session_scope(engine) as session:
            assert store.list_promos(session=session, account_id=ACCOUNT) == []
