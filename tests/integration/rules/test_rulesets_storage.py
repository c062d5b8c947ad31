"""The rule-agreement workflow on a real database: propose, sign off by both departments, activate."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from integration.db import session_scope
from integration.storage import rulesets
from integration.storage.rulesets import ActiveRulesCache, RulesetError, RuleStatus
from rules import RuleFileError, classify_lead, default_rules_text
from tests.unit.rules.factories import NOW, make_lead

ACCOUNT = 31337
STRICTER = default_rules_text().replace("min_met: 3", "min_met: 4")
LOOSER = default_rules_text().replace("min_met: 3", "min_met: 2")


def propose(engine: Engine, text: str = STRICTER, author: str = "anna@marketing") -> int:
    with session_scope(engine) as session:
        return rulesets.propose(
            session=session, account_id=ACCOUNT, text=text, author=author, comment="tighter target", now=100
        )


def approve_both(engine: Engine, version: int) -> None:
    with session_scope(engine) as session:
        rulesets.approve(
            session=session, account_id=ACCOUNT, version=version, approver="anna", role="marketing"
        )
        rulesets.approve(
            session=session, account_id=ACCOUNT, version=version, approver="sergey", role="sales"
        )


class TestAgreementWorkflow:
    def test_default_pack_runs_as_version_zero(self, engine: Engine) -> None:
        """An account that never activated its own rules runs the default pack, version 0."""
        with session_scope(engine) as session:
            version, ruleset = rulesets.active_ruleset(session=session, account_id=ACCOUNT)
        assert version == 0 and ruleset.version == 0

    def test_draft_becomes_active_after_both_departments_sign(self, engine: Engine) -> None:
        """A draft signed by marketing and sales activates, and classifications carry its version."""
        version = propose(engine)
        approve_both(engine, version)
        with session_scope(engine) as session:
            verdict = rulesets.activate(session=session, account_id=ACCOUNT, version=version, by="sergey")
        assert verdict.allowed and not verdict.emergency
        with session_scope(engine) as session:
            active_version, ruleset = rulesets.active_ruleset(session=session, account_id=ACCOUNT)
        assert active_version == version
        assert classify_lead(ruleset, make_lead(), now=NOW).rule_version == version

    def test_activation_without_sales_is_refused(self, engine: Engine) -> None:
        """With only marketing's sign-off the draft stays a draft and the default keeps running."""
        version = propose(engine)
        with session_scope(engine) as session:
            rulesets.approve(
                session=session, account_id=ACCOUNT, version=version, approver="anna", role="marketing"
            )
        with pytest.raises(RulesetError) as error, session_scope(engine) as session:
            rulesets.activate(session=session, account_id=ACCOUNT, version=version, by="anna")
        assert "sales" in error.value.text("en") and "продажи" in error.value.text("ru")
        with session_scope(engine) as session:
            assert rulesets.active_version(session=session, account_id=ACCOUNT) == 0

    def test_one_person_cannot_sign_for_both_departments(self, engine: Engine) -> None:
        """The same approver, or the same actor under another name, is refused the second department's sign-off
        with a message naming the first one (ru/en), and activation still waits for a second person."""
        version = propose(engine)
        with session_scope(engine) as session:
            rulesets.approve(
                session=session,
                account_id=ACCOUNT,
                version=version,
                approver="boss",
                role="marketing",
                actor="u1",
            )
            # Signing the same thing again is harmless.
            rulesets.approve(
                session=session,
                account_id=ACCOUNT,
                version=version,
                approver="boss",
                role="marketing",
                actor="u1",
            )
        for approver, actor in (("boss", None), ("bob", "u1")):
            with pytest.raises(RulesetError) as refused, session_scope(engine) as session:
                rulesets.approve(
                    session=session,
                    account_id=ACCOUNT,
                    version=version,
                    approver=approver,
                    role="sales",
                    actor=actor,
                )
            assert refused.value.text("en").startswith(
                f"boss already signed version {version} off for marketing"
            )
            assert refused.value.text("ru").startswith(
                f"boss уже согласовал(а) версию {version} за отдел «маркетинг»"
            )
        with pytest.raises(RulesetError), session_scope(engine) as session:
            rulesets.activate(session=session, account_id=ACCOUNT, version=version, by="boss")

    def test_emergency_activation_is_allowed_and_marked(self, engine: Engine) -> None:
        """A single approver can activate in an emergency, and history marks it as such."""
        version = propose(engine)
        with session_scope(engine) as session:
            rulesets.approve(
                session=session, account_id=ACCOUNT, version=version, approver="sergey", role="sales"
            )
            verdict = rulesets.activate(
                session=session, account_id=ACCOUNT, version=version, by="sergey", emergency=True
            )
        assert verdict.emergency
        with session_scope(engine) as session:
            entry = rulesets.history(session=session, account_id=ACCOUNT)[0]
        assert (entry.status, entry.emergency, entry.activated_by) == (RuleStatus.ACTIVE, True, "sergey")

    def test_invalid_file_is_never_stored_or_activated(self, engine: Engine) -> None:
        """A broken file is refused at proposal, and the running version stays."""
        with pytest.raises(RuleFileError), session_scope(engine) as session:
            rulesets.propose(session=session, account_id=ACCOUNT, text="channels: [", author="x", comment="")
        with session_scope(engine) as session:
            assert rulesets.history(session=session, account_id=ACCOUNT) == []
            assert rulesets.active_version(session=session, account_id=ACCOUNT) == 0

    def test_new_activation_supersedes_the_previous_one(self, engine: Engine) -> None:
        """Activating v2 makes v1 superseded, and a superseded version cannot be approved again."""
        first = propose(engine)
        approve_both(engine, first)
        with session_scope(engine) as session:
            rulesets.activate(session=session, account_id=ACCOUNT, version=first, by="anna")
        second = propose(engine, LOOSER)
        approve_both(engine, second)
        with session_scope(engine) as session:
            rulesets.activate(session=session, account_id=ACCOUNT, version=second, by="anna")
        with session_scope(engine) as session:
            statuses = {e.version: e.status for e in rulesets.history(session=session, account_id=ACCOUNT)}
        assert statuses == {first: RuleStatus.SUPERSEDED, second: RuleStatus.ACTIVE}
        with pytest.raises(RulesetError), session_scope(engine) as session:
            rulesets.approve(session=session, account_id=ACCOUNT, version=first, approver="a", role="sales")

    def test_history_records_author_comment_approvals_and_diff(self, engine: Engine) -> None:
        """History shows who proposed what, why, who signed, and the diff against the running rules."""
        version = propose(engine)
        approve_both(engine, version)
        with session_scope(engine) as session:
            entry = rulesets.history(session=session, account_id=ACCOUNT)[0]
        assert (entry.proposed_by, entry.comment, entry.proposed_at) == (
            "anna@marketing",
            "tighter target",
            100,
        )
        assert {(a.approver, a.role) for a in entry.approvals} == {("anna", "marketing"), ("sergey", "sales")}
        assert "-  min_met: 3" in entry.diff and "+  min_met: 4" in entry.diff

    def test_diff_between_two_versions(self, engine: Engine) -> None:
        """`rules diff A B` shows exactly the changed lines between two stored versions."""
        first, second = propose(engine), propose(engine, LOOSER)
        with session_scope(engine) as session:
            text = rulesets.diff(session=session, account_id=ACCOUNT, old=first, new=second)
        assert "-  min_met: 4" in text and "+  min_met: 2" in text
        assert text.startswith("--- v1")

    def test_unknown_version_and_role_are_clear_errors(self, engine: Engine) -> None:
        """Approving a version that does not exist, or with an unknown role, is refused with a message."""
        with pytest.raises(RulesetError, match="no version 42"), session_scope(engine) as session:
            rulesets.approve(session=session, account_id=ACCOUNT, version=42, approver="a", role="sales")
        version = propose(engine)
        with pytest.raises(RulesetError, match="unknown role"), session_scope(engine) as session:
            rulesets.approve(session=session, account_id=ACCOUNT, version=version, approver="a", role="ceo")

    def test_versions_are_per_account(self, engine: Engine) -> None:
        """Another account's proposals neither share numbers nor become active here."""
        propose(engine)
        with session_scope(engine) as session:
            other = rulesets.propose(session=session, account_id=ACCOUNT + 1, text=STRICTER, author="b")
        assert other == 1


class TestHotReload:
    def test_cache_picks_up_a_newly_activated_version_without_restart(self, engine: Engine) -> None:
        """The next event after an activation is classified by the new rules, with the same cache object."""
        cache = ActiveRulesCache()
        with session_scope(engine) as session:
            assert cache.get(session=session, account_id=ACCOUNT).version == 0
        version = propose(engine)
        approve_both(engine, version)
        with session_scope(engine) as session:
            rulesets.activate(session=session, account_id=ACCOUNT, version=version, by="anna")
        with session_scope(engine) as session:
            ruleset = cache.get(session=session, account_id=ACCOUNT)
            again = cache.get(session=session, account_id=ACCOUNT)
        assert ruleset.version == version
        assert again is ruleset
        assert ruleset.qualification.min_met == 4
