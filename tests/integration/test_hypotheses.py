"""Hypotheses through storage, the grouped SQL count and the report; and `leadpact hypotheses add|list|close`."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from integration.db import session_scope
from integration.storage import accounts as account_store
from integration.storage import hypotheses as store
from integration.storage import users as user_store
from integration.storage.leads import LeadSnapshot
from leadpact.cli.hypotheses import app
from sync.reports.hypotheses import tracked_hypotheses
from sync.reports.model import ReportNames
from sync.reports.render import render_html, render_markdown
from tests.unit.reports.test_render import report as sample_report

ACCOUNT = 1
START = date(2026, 11, 15)
AS_OF = int(datetime(2026, 11, 22, 12, tzinfo=UTC).timestamp())  # 7 days after the start: N = 7


def at(day: int) -> int:
    return int(datetime(2026, 11, day, 10, tzinfo=UTC).timestamp())


def lead(
    lead_id: int, created: int, *, qualified: bool | None, channel: str = "tiktok", **extra: object
) -> LeadSnapshot:
    return LeadSnapshot(
        account_id=extra.pop("account", ACCOUNT),
        lead_id=lead_id,
        created_at=created,
        updated_at=created,
        channel=channel,
        qualified=qualified,
        **{"status_id": 10, "pipeline_id": 7, **extra},
    )


@pytest.fixture
def seeded(engine: Engine) -> Engine:
    """tiktok: 12 of 40 qualified in the 7 days before 15 Nov, 28 of 40 in the 7 days from it. Not counted:
    other channels, leads outside the 14 days, unclassified and deleted leads, another account's leads."""
    rows = [lead(i, at(8 + i % 7), qualified=i < 12) for i in range(40)]
    rows += [lead(100 + i, at(15 + i % 7), qualified=i < 28) for i in range(40)]
    rows += [lead(200 + i, at(16), qualified=False, channel="vk") for i in range(10)]
    rows += [lead(300, at(7), qualified=False), lead(301, at(22), qualified=False)]
    rows += [lead(302, at(16), qualified=None), lead(303, at(16), qualified=False, is_deleted=True)]
    rows += [lead(304, at(16), qualified=False, account=2)]
    with session_scope(engine) as session:
        session.add_all(rows)
        user_store.replace_users(
            session=session, account_id=ACCOUNT, users=[{"id": 5, "name": "Анна Смирнова"}], now=AS_OF
        )
        account_store.upsert_account(
            session=session,
            account_id=ACCOUNT,
            subdomain="hyp",
            base_url="https://hyp.example",
            language="ru",
            credential_kind="oauth",
            new_webhook_key="k",
        )
    return engine


def test_the_effect_is_counted_in_sql_and_shown_in_both_languages(seeded: Engine) -> None:
    with session_scope(seeded) as session:
        store.add_hypothesis(
            session=session,
            account_id=ACCOUNT,
            text="Новый скрипт квалификации",
            owner_id=5,
            metric="qualified_pct",
            direction="up",
            channel="tiktok",
            starts_on=START,
        )
        names = ReportNames(people=user_store.user_names(session=session, account_id=ACCOUNT))
        (tracked,) = tracked_hypotheses(session=session, account_id=ACCOUNT, as_of=AS_OF, tz=UTC, names=names)
    effect = tracked.effect
    assert effect.days == 7
    assert (effect.before.successes, effect.before.units) == (12, 40)
    assert (effect.after.successes, effect.after.units) == (28, 40)
    assert effect.interval == pytest.approx((0.1818, 0.5686), abs=1e-4)  # by hand: see tests/unit/rules
    assert effect.verdict == "confirmed"
    shown = replace(sample_report(), tracked=(tracked,))
    english = render_markdown(shown, "en")
    assert (
        "| Новый скрипт квалификации | Анна Смирнова | % qualified, should rise | tiktok | 2026-11-15 (N=7) |"
        in english
    )
    assert (
        "| 30% (12/40; 18%–45%) | 70% (28/40; 55%–82%) | +40.0 pp [+18.2 pp; +56.9 pp] | confirmed |"
        in english
    )
    russian = render_markdown(shown, "ru")
    assert "Гипотезы в проверке" in russian and "подтверждена" in russian and "должна расти" in russian
    html = render_html(shown, "ru")
    assert 'class="verdict-confirmed">подтверждена' in html


runner = CliRunner()


def test_hypotheses_are_added_by_owner_name_listed_and_closed(seeded: Engine, database_url: str) -> None:
    env = {"DATABASE_URL": database_url, "LEADPACT_LANGUAGE": "en", "COLUMNS": "250"}
    added = runner.invoke(
        app,
        [
            "add",
            "Landing v2",
            "--owner",
            "анна",
            "--metric",
            "conversion",
            "--channel",
            "tiktok",
            "--start",
            "2026-11-15",
        ],
        env=env,
    )
    assert added.exit_code == 0, added.output
    assert "Hypothesis 1 recorded, owner Анна Смирнова." in added.output
    unknown = runner.invoke(app, ["add", "x", "--owner", "Пётр", "--metric", "cpl"], env=env)
    assert unknown.exit_code == 1 and "No amoCRM user 'Пётр' (Анна Смирнова)" in unknown.output
    listed = runner.invoke(app, ["list"], env=env)
    assert listed.exit_code == 0, listed.output
    assert (
        "Landing v2" in listed.output
        and "Анна Смирнова" in listed.output
        and "conversion lead→won" in listed.output
    )
    closed = runner.invoke(app, ["close", "1", "--note", "no effect"], env=env)
    assert closed.exit_code == 0 and "Hypothesis 1 closed." in closed.output
    assert "No open hypotheses." in runner.invoke(app, ["list"], env=env).output
    history = runner.invoke(app, ["list", "--all"], env=env).output
    assert "Closed hypotheses" in history and "no effect" in history
    assert runner.invoke(app, ["close", "1"], env=env).exit_code == 1


def test_several_hypotheses_share_one_query_and_wins_get_equal_time(engine: Engine) -> None:
    """Account 3, as of 22 Nov 12:00. "Conversion, all channels, from 18 Nov" (N = 4): before [14, 18 Nov) has
    4 leads, won on 17 Nov twice and on 20 Nov once — that one is after the before side's cut (18 Nov 12:00),
    so 2/4; after [18, 22 Nov) has 4 leads, one won on 21 Nov: 1/4. "CPL of vk, from 20 Nov" (N = 2): 2 vk
    leads before, 1 after; 700 spent over 7 days (100 a day): 200/2 = 100 before, 200/1 = 200 after, +100 %."""
    account = 3

    def won(lead_id: int, created: int, closed: int, channel: str) -> LeadSnapshot:
        return lead(
            lead_id,
            created,
            qualified=True,
            channel=channel,
            account=account,
            status_id=142,
            closed_at=closed,
        )

    rows = [won(1, at(14), at(17), "vk"), won(2, at(15), at(17), "tiktok"), won(3, at(16), at(20), "tiktok")]
    rows += [lead(4, at(17), qualified=False, account=account, channel="tiktok")]
    rows += [won(5, at(18), at(21), "vk"), lead(6, at(19), qualified=False, account=account, channel="vk")]
    rows += [lead(7, at(20), qualified=False, account=account, channel="tiktok")]
    # vk leads for the CPL windows: before [18, 20 Nov) = leads 5, 6; after [20, 22 Nov) = lead 8.
    rows += [lead(8, at(21), qualified=False, account=account, channel="vk")]
    with session_scope(engine) as session:
        session.add_all(rows)
        from integration.storage import stats as stats_store

        session.add(
            stats_store.StatsSpend(
                account_id=account,
                channel="vk",
                period_start=date(2026, 11, 16),
                period_end=date(2026, 11, 22),
                amount=700,
            )
        )
        for metric, channel, start in (
            ("conversion", None, date(2026, 11, 18)),
            ("cpl", "vk", date(2026, 11, 20)),
        ):
            store.add_hypothesis(
                session=session,
                account_id=account,
                text=metric,
                owner_id=None,
                metric=metric,
                direction="up",
                channel=channel,
                starts_on=start,
            )
        conversion, cost = tracked_hypotheses(
            session=session, account_id=account, as_of=AS_OF, tz=UTC, names=ReportNames()
        )
    assert conversion.effect.days == 4
    assert (conversion.effect.before.successes, conversion.effect.before.units) == (2, 4)
    assert (conversion.effect.after.successes, conversion.effect.after.units) == (1, 4)
    assert conversion.effect.verdict == "too_early"
    assert (conversion.owner.en, conversion.owner.ru) == ("unknown", "неизвестен")
    assert conversion.segment.en == "all channels"
    assert cost.effect.days == 2
    assert (cost.effect.before.units, cost.effect.after.units) == (2, 1)
    assert (cost.effect.before.spend, cost.effect.after.spend) == pytest.approx((200.0, 200.0))
    assert cost.effect.change == pytest.approx(1.0)
