"""`leadpact rules …` on a real database: check, propose → approve → activate, history, diff, backtest."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select
from typer.testing import CliRunner

from integration.db import session_scope
from integration.storage import rulesets
from integration.storage.leads import LeadSnapshot
from leadpact.cli.rules import app
from rules import default_rules_text
from tests.unit.rules.factories import make_lead

runner = CliRunner()
ACCOUNT = 4242


@pytest.fixture
def env(database_url: str) -> dict[str, str]:
    return {"DATABASE_URL": database_url, "LEADPACT_LANGUAGE": "en"}


@pytest.fixture
def stricter(tmp_path: Path) -> Path:
    path = tmp_path / "stricter.yaml"
    path.write_text(default_rules_text().replace("min_met: 3", "min_met: 4"), encoding="utf-8")
    return path


def invoke(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env=env)
    return result.exit_code, result.output


class TestCheck:
    def test_broken_file_lists_issues_with_position_and_exits_1(
        self, tmp_path: Path, env: dict[str, str]
    ) -> None:
        """`rules check` prints file:line:col: message (hint) for each problem and fails."""
        path = tmp_path / "broken.yaml"
        path.write_text(default_rules_text().replace("gte: $budget_min", "gte: lots"), encoding="utf-8")
        code, output = invoke(env, "check", str(path))
        line = (
            default_rules_text()
            .replace("gte: $budget_min", "gte: lots")
            .splitlines()
            .index(next(row for row in path.read_text().splitlines() if "gte: lots" in row))
            + 1
        )
        assert code == 1
        assert f"{path}:{line}:" in output
        assert "wrong type in comparison" in output and "issues found: 1" in output

    def test_good_file_passes(self, env: dict[str, str], stricter: Path) -> None:
        """A valid file is reported clean with exit code 0."""
        assert invoke(env, "check", str(stricter)) == (0, f"{stricter}: no issues\n")

    def test_messages_follow_the_language_option(self, tmp_path: Path, env: dict[str, str]) -> None:
        """`--lang ru` prints the issues in Russian."""
        path = tmp_path / "empty.yaml"
        path.write_text("", encoding="utf-8")
        code, output = invoke(env, "check", str(path), "--lang", "ru")
        assert code == 1 and "файл правил пуст" in output

    def test_fields_from_the_account_are_checked(self, tmp_path: Path, env: dict[str, str]) -> None:
        """With the account's saved custom-field list, a role no field of the account can play is reported at
        its line, naming the role."""
        fields = tmp_path / "fields.json"
        items = [
            {"id": i, "name": code.title(), "type": kind, "code": code}
            for i, (code, kind) in enumerate(
                [
                    ("BUDGET", "numeric"),
                    ("DECISION_MAKER", "checkbox"),
                    ("NEED", "textarea"),
                    ("PRODUCT", "select"),
                    ("UTM_SOURCE", "tracking_data"),
                    ("UTM_MEDIUM", "tracking_data"),
                    ("UTM_CAMPAIGN", "tracking_data"),
                    ("REFERRER", "tracking_data"),
                ]
            )
        ]
        fields.write_text(json.dumps({"_embedded": {"custom_fields": items}}), encoding="utf-8")
        pack = tmp_path / "pack.yaml"
        pack.write_text(default_rules_text(), encoding="utf-8")
        code, output = invoke(env, "check", str(pack), "--fields", str(fields))
        line = next(
            i for i, row in enumerate(default_rules_text().splitlines(), 1) if "decision_date:" in row
        )
        assert code == 1
        assert f"{pack}:{line}:3: no field of the account found for role 'decision_date'" in output

    def test_ten_megabyte_file_is_refused_with_its_size(self, tmp_path: Path, env: dict[str, str]) -> None:
        """A 10 MB file is refused at once, naming its real size, without being parsed."""
        path = tmp_path / "huge.yaml"
        path.write_bytes(b"# " + b"x" * (10 * 1024 * 1024))
        code, output = invoke(env, "check", str(path))
        assert code == 1
        assert f"{path}:1:1: rule file is too large: {10 * 1024 * 1024 + 2} bytes" in output

    def test_missing_file_is_a_clear_error(self, tmp_path: Path, env: dict[str, str]) -> None:
        """A path that does not exist is reported without a traceback."""
        code, output = invoke(env, "check", str(tmp_path / "nope.yaml"))
        assert code == 1 and "cannot read" in output


class TestWorkflow:
    def test_propose_approve_activate_history_and_diff(self, env: dict[str, str], stricter: Path) -> None:
        """The whole agreement runs from the command line, and history shows who did what."""
        assert (
            invoke(env, "propose", str(stricter), "-a", str(ACCOUNT), "--author", "anna", "--comment", "4/4")[
                0
            ]
            == 0
        )
        code, output = invoke(env, "activate", "1", "-a", str(ACCOUNT), "--by", "anna")
        assert code == 1 and "missing approval: marketing, sales" in output
        for approver, role in (("anna", "marketing"), ("sergey", "sales")):
            code, output = invoke(
                env, "approve", "1", "-a", str(ACCOUNT), "--approver", approver, "--role", role
            )
            assert code == 0, output
        code, output = invoke(env, "activate", "1", "-a", str(ACCOUNT), "--by", "sergey")
        assert code == 0 and "agreed by marketing and sales" in output
        code, output = invoke(env, "history", "-a", str(ACCOUNT), "--diff")
        assert "v1 [active] proposed by anna" in output and "approved by sergey (sales)" in output
        assert "+  min_met: 4" in output
        code, output = invoke(env, "diff", "0", "1", "-a", str(ACCOUNT))
        assert code == 0 and "-  min_met: 3" in output

    def test_invalid_proposal_is_refused_with_positions(self, tmp_path: Path, env: dict[str, str]) -> None:
        """Proposing a broken file prints its issues and stores nothing."""
        path = tmp_path / "bad.yaml"
        path.write_text("levels: [\n", encoding="utf-8")
        code, output = invoke(env, "propose", str(path), "-a", str(ACCOUNT), "--author", "x")
        assert code == 1 and f"{path}:" in output
        assert invoke(env, "history", "-a", str(ACCOUNT))[1].startswith("no versions yet")

    def test_emergency_activation_is_marked_in_history(self, env: dict[str, str], stricter: Path) -> None:
        """`activate --emergency` with one approval works and history flags it."""
        invoke(env, "propose", str(stricter), "-a", str(ACCOUNT), "--author", "anna")
        invoke(env, "approve", "1", "-a", str(ACCOUNT), "--approver", "sergey", "--role", "sales")
        code, _ = invoke(env, "activate", "1", "-a", str(ACCOUNT), "--by", "sergey", "--emergency")
        assert code == 0
        assert "EMERGENCY" in invoke(env, "history", "-a", str(ACCOUNT))[1]


class TestBacktestCommand:
    def test_backtest_reads_stored_snapshots(
        self, engine: Engine, env: dict[str, str], stricter: Path
    ) -> None:
        """`rules backtest --json` compares the candidate with the active rules over the account's snapshots."""
        leads = [
            make_lead(1, status_id=142, BUDGET=500000, DECISION_MAKER=True, NEED="crm"),
            make_lead(
                2,
                status_id=142,
                BUDGET=500000,
                DECISION_MAKER=True,
                NEED="crm",
                DECISION_DATE=date(2027, 1, 10),
            ),
            make_lead(3, status_id=143),
        ]
        with session_scope(engine) as session:
            for lead in leads:
                session.add(
                    LeadSnapshot(
                        account_id=ACCOUNT,
                        lead_id=lead["id"],
                        status_id=lead["status_id"],
                        data=lead,
                        created_at=1_700_000_000 + lead["id"],
                    )
                )
            session.add(
                LeadSnapshot(account_id=ACCOUNT + 1, lead_id=9, data=leads[0], created_at=1_800_000_000)
            )
        code, output = invoke(env, "backtest", str(stricter), "-a", str(ACCOUNT), "--json")
        assert code == 0, output
        data = json.loads(output)
        assert data["total"] == 3
        assert data["changed"]["qualified"] == 1
        assert data["qualified"] == {"active": 2, "candidate": 1}
        assert data["prediction"]["active"]["won_share_qualified"] == 1.0
        code, output = invoke(env, "backtest", str(stricter), "-a", str(ACCOUNT), "--since", "2030-01-01")
        assert code == 0 and "Leads checked: 0" in output

    def test_human_summary_mentions_changes(
        self, engine: Engine, env: dict[str, str], stricter: Path
    ) -> None:
        """Without --json the summary lists the changes per channel and sample explanations."""
        lead = make_lead(1, BUDGET=500000, DECISION_MAKER=True, NEED="crm")
        with session_scope(engine) as session:
            session.add(LeadSnapshot(account_id=ACCOUNT, lead_id=1, data=lead, created_at=1))
        code, output = invoke(env, "backtest", str(stricter), "-a", str(ACCOUNT))
        assert code == 0, output
        assert "Would change: channel for 0, level for 0, qualified for 1" in output
        assert "#1: Warm: need filled" in output

    def test_backtest_refuses_a_broken_candidate(self, tmp_path: Path, env: dict[str, str]) -> None:
        """A candidate that does not validate is reported, not backtested."""
        path = tmp_path / "bad.yaml"
        path.write_text("format: 2\n", encoding="utf-8")
        code, output = invoke(env, "backtest", str(path), "-a", str(ACCOUNT))
        assert code == 1 and "unsupported format version" in output


class TestSharedState:
    def test_storage_and_cli_share_the_account_rules(
        self, engine: Engine, env: dict[str, str], stricter: Path
    ) -> None:
        """A version activated through the CLI is what the storage layer hands to the worker."""
        invoke(env, "propose", str(stricter), "-a", str(ACCOUNT), "--author", "a")
        invoke(env, "approve", "1", "-a", str(ACCOUNT), "--approver", "a", "--role", "marketing")
        invoke(env, "approve", "1", "-a", str(ACCOUNT), "--approver", "b", "--role", "sales")
        invoke(env, "activate", "1", "-a", str(ACCOUNT), "--by", "b")
        with session_scope(engine) as session:
            version, ruleset = rulesets.active_ruleset(session=session, account_id=ACCOUNT)
        assert (version, ruleset.qualification.min_met) == (1, 4)


class TestApply:
    def test_apply_queues_open_leads_for_the_worker(self, env: dict[str, str], engine: Engine) -> None:
        """`rules apply` queues every open lead (not won/lost, not deleted) for re-classification by the worker."""
        from integration.storage.inbox import InboxItem

        with session_scope(engine) as session:
            for lead_id, status_id, deleted in (
                (1, 100, False),
                (2, 142, False),
                (3, 143, False),
                (4, 100, True),
            ):
                session.add(
                    LeadSnapshot(account_id=ACCOUNT, lead_id=lead_id, status_id=status_id, is_deleted=deleted)
                )
        code, output = invoke(env, "apply", "--account", str(ACCOUNT))
        assert code == 0, output
        assert "1" in output
        with session_scope(engine) as session:
            items = session.exec(select(InboxItem)).all()
        queued = [event["lead_id"] for item in items for event in item.events]
        assert queued == [1]
        assert all(item.account_id == ACCOUNT for item in items)
