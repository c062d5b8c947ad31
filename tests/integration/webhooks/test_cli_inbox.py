"""`leadpact inbox failed|retry|stats` as an operator uses them."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from integration.db import session_scope
from integration.storage.inbox import InboxItem, InboxStatus, add_item, claim_batch, release_for_retry
from leadpact.cli import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("LEADPACT_LANGUAGE", "en")
    monkeypatch.setenv("COLUMNS", "200")


def dead_item(engine: Engine) -> int:
    with session_scope(engine) as session:
        item = add_item(
            session=session, account_id=5, body="leads[update][0][id]=1", events=[{"kind": "lead"}]
        )
    with session_scope(engine) as session:
        claim_batch(session=session, owner="w", limit=1, lease_seconds=5)
        release_for_retry(
            session=session,
            ids=[item.id or 0],
            owner="w",
            error="ServerError: 503",
            max_attempts=1,
            delay_seconds=0,
        )
    return item.id or 0


class TestInboxCommands:
    def test_failed_lists_unreadable_and_dead_deliveries_with_their_reason(self, engine: Engine) -> None:
        """The operator sees which deliveries need attention and why."""
        dead = dead_item(engine)
        with session_scope(engine) as session:
            add_item(
                session=session,
                account_id=5,
                body="garbage",
                events=[],
                parse_error="body is not form-encoded",
            )
        result = runner.invoke(app, ["inbox", "failed"], terminal_width=200)
        assert result.exit_code == 0, result.output
        assert "ServerError: 503" in result.output and "not form-encoded" in result.output
        assert str(dead) in result.output

    def test_retry_puts_a_dead_delivery_back_in_the_queue(self, engine: Engine) -> None:
        """After fixing the cause, `retry ID` makes the worker try the delivery again."""
        dead = dead_item(engine)
        result = runner.invoke(app, ["inbox", "retry", str(dead)])
        assert result.exit_code == 0, result.output
        with session_scope(engine) as session:
            item = session.get(InboxItem, dead)
            assert item is not None and (item.status, item.attempts) == (InboxStatus.PENDING, 0)

    def test_retry_of_an_unreadable_body_parses_it_again(self, engine: Engine) -> None:
        """A body that still cannot be read stays failed and says why; a readable one is queued with events."""
        with session_scope(engine) as session:
            bad = add_item(session=session, account_id=5, body="%%%", events=[], parse_error="old reason")
            good = add_item(
                session=session,
                account_id=5,
                body="leads[update][0][id]=77",
                events=[],
                parse_error="old parser",
            )
        still = runner.invoke(app, ["inbox", "retry", str(bad.id)])
        fixed = runner.invoke(app, ["inbox", "retry", str(good.id)])
        missing = runner.invoke(app, ["inbox", "retry", "999999"])
        assert still.exit_code == 2 and "still cannot be read" in still.output
        assert fixed.exit_code == 0
        assert missing.exit_code == 1
        with session_scope(engine) as session:
            item = session.get(InboxItem, good.id)
            assert item is not None and item.status == InboxStatus.PENDING
            assert [event["lead_id"] for event in item.events] == [77]

    def test_stats_summarise_the_queue(self, engine: Engine) -> None:
        """`inbox stats` prints pending, done, unreadable and dead-lettered counts."""
        dead_item(engine)
        with session_scope(engine) as session:
            add_item(session=session, account_id=5, body="x", events=[{"kind": "lead"}])
        result = runner.invoke(app, ["inbox", "stats"])
        assert result.exit_code == 0, result.output
        assert "Pending: 1" in result.output and "dead-lettered: 1" in result.output
