"""Figures the weekly meeting asked for, checked against hand-computed expectations on small hand-built data:
completeness over the fields the rule file's criteria use (declared by name), won/revenue/cost per customer by
close date versus by lead cohort, and `--as-of` on the 183-day ("6 months") decision window."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select
from typer.testing import CliRunner

from integration.amocrm.models import Lead, Pipeline
from integration.db import session_scope
from integration.settings import Settings
from integration.storage import rulesets as ruleset_store
from integration.storage import stats as storage
from integration.storage import users as user_store
from integration.storage.leads import LeadSnapshot
from rules import default_rules_text
from sync.stats.backfill import backfill_account
from sync.stats.periods import Period, parse_as_of
from sync.stats.service import StatsOptions, figures_for

ACCOUNT = 4242
NOVEMBER = Period(date(2026, 11, 1), date(2026, 11, 30))
MOSCOW = ZoneInfo("Europe/Moscow")
WON, LOST = 142, 143


def ts(month: int, day: int, year: int = 2026) -> int:
    return int(datetime(year, month, day, 12, tzinfo=UTC).timestamp())


def named(**values: Any) -> dict[str, Any]:
    """A lead's custom fields as amoCRM lists fields that have no code: by id and name only."""
    return {
        "custom_fields_values": [
            {"field_id": 500 + index, "field_name": name, "values": [{"value": value}]}
            for index, (name, value) in enumerate(values.items())
        ]
    }


def lead(
    lead_id: int,
    channel: str,
    *,
    created: int,
    status: int = 10,
    closed: int | None = None,
    price: int | None = None,
    manager: int = 1,
    data: dict[str, Any] | None = None,
) -> LeadSnapshot:
    return LeadSnapshot(
        account_id=ACCOUNT,
        lead_id=lead_id,
        name=f"lead {lead_id}",
        price=price,
        status_id=status,
        pipeline_id=7,
        responsible_user_id=manager,
        created_at=created,
        updated_at=closed or created,
        closed_at=closed,
        is_deleted=False,
        data=data or {},
        channel=channel,
        qualified=False,
        rule_version=1,
    )


def store(engine: Engine, leads: Sequence[LeadSnapshot]) -> None:
    with session_scope(engine) as session:
        session.add_all(leads)


def activate_rules(engine: Engine, text: str) -> None:
    with session_scope(engine) as session:
        version = ruleset_store.propose(session=session, account_id=ACCOUNT, text=text, author="test")
        for approver, role in (("marketing head", "marketing"), ("sales head", "sales")):
            ruleset_store.approve(
                session=session, account_id=ACCOUNT, version=version, approver=approver, role=role
            )
        ruleset_store.activate(session=session, account_id=ACCOUNT, version=version, by="test")


BY_NAME = (
    default_rules_text()
    .replace("{role: budget, type: number", "{name: Бюджет, type: number")
    .replace("{role: decision_maker, type: boolean", "{name: ЛПР, type: boolean")
    .replace("{role: need, type: text", "{name: Потребность, type: text")
    .replace("{role: decision_date, type: date", "{name: Дата решения, type: date")
    .replace("{role: product, type: text", "{name: Продукт, type: text")
)
assert BY_NAME.count("{name: ") == 5, "the default pack's field lines changed"


class TestCompletenessOverTheRuleFilesFields:
    def test_fields_declared_by_name_are_counted_per_field_in_total_and_per_channel(
        self, engine: Engine
    ) -> None:
        """Four November leads; the criteria read budget, decision maker, need and decision date (by name):
        filled 3, 2, 1, 1 of 4 → 75/50/25/25 %, 7 of 16 = 43.75 % overall; yandex 5/8, vk 2/8. The product
        field (no criterion reads it) and an empty need do not count."""
        activate_rules(engine, BY_NAME)
        store(
            engine,
            [
                lead(
                    1,
                    "yandex",
                    created=ts(11, 3),
                    data=named(Бюджет=500_000, ЛПР=True, Потребность="CRM", **{"Дата решения": ts(12, 1)}),
                ),
                lead(2, "yandex", created=ts(11, 4), data=named(Бюджет=500_000)),
                lead(3, "vk", created=ts(11, 5), data=named(Потребность="", Продукт="CRM Про")),
                lead(4, "vk", created=ts(11, 6), data=named(Бюджет=100, ЛПР=True)),
            ],
        )
        with session_scope(engine) as session:
            figures = figures_for(session=session, account_id=ACCOUNT, period=NOVEMBER, as_of=ts(12, 1))
        total = figures.completeness_total
        assert total is not None
        assert dict(total.by_field) == {
            "budget": 0.75,
            "decision_maker": 0.5,
            "need": 0.25,
            "decision_date": 0.25,
        }
        assert total.overall == pytest.approx(7 / 16)
        by_channel = {row.key: row for row in figures.completeness_by_channel}
        assert dict(by_channel["yandex"].by_field) == {
            "budget": 1.0,
            "decision_maker": 0.5,
            "need": 0.5,
            "decision_date": 0.5,
        }
        assert by_channel["yandex"].overall == pytest.approx(5 / 8)
        assert dict(by_channel["vk"].by_field) == {
            "budget": 0.5,
            "decision_maker": 0.5,
            "need": 0.0,
            "decision_date": 0.0,
        }
        assert by_channel["vk"].overall == pytest.approx(2 / 8)


def cohort_dataset(engine: Engine) -> None:
    store(
        engine,
        [
            # Created in October, won on 5 November: a November deal by close date, not in November's cohort.
            lead(1, "yandex", created=ts(10, 20), status=WON, closed=ts(11, 5), price=1000),
            # Created and won in November: counted either way.
            lead(2, "yandex", created=ts(11, 3), status=WON, closed=ts(11, 10), price=2000),
            # Created in November, won on 2 December: November's cohort, December by close date.
            lead(3, "vk", created=ts(11, 4), status=WON, closed=ts(12, 2), price=4000),
            lead(4, "vk", created=ts(11, 6)),
        ],
    )
    with session_scope(engine) as session:
        storage.upsert_spend(
            session=session,
            account_id=ACCOUNT,
            channel="yandex",
            period_start=NOVEMBER.start,
            period_end=NOVEMBER.end,
            amount=Decimal("6000"),
        )


class TestWonByCloseDateOrCohort:
    def test_close_date_and_cohort_differ_as_computed_by_hand(self, engine: Engine) -> None:
        """By close date November has deals 1 and 2 (3 000; yandex's customer costs 6 000 / 2 = 3 000); by
        cohort, deals 2 and 3 of November's leads (6 000; yandex 6 000 / 1, vk 1 deal of 4 000)."""
        cohort_dataset(engine)
        with session_scope(engine) as session:
            by_close = figures_for(session=session, account_id=ACCOUNT, period=NOVEMBER, as_of=ts(12, 3))
            by_cohort = figures_for(
                session=session,
                account_id=ACCOUNT,
                period=NOVEMBER,
                as_of=ts(12, 3),
                options=StatsOptions(won_basis="cohort"),
            )
        assert (by_close.totals.deals, by_close.totals.revenue, by_close.won_basis) == (2, 3000, "close_date")
        assert (by_cohort.totals.deals, by_cohort.totals.revenue, by_cohort.won_basis) == (2, 6000, "cohort")
        close_costs = {cost.channel: cost for cost in by_close.costs}
        cohort_costs = {cost.channel: cost for cost in by_cohort.costs}
        assert (close_costs["yandex"].customers, close_costs["yandex"].per_customer) == (
            2,
            Decimal("3000.00"),
        )
        assert (cohort_costs["yandex"].customers, cohort_costs["yandex"].per_customer) == (
            1,
            Decimal("6000.00"),
        )
        assert (close_costs["vk"].customers, cohort_costs["vk"].customers) == (0, 1)
        revenue = {row.channel: row.revenue for row in by_cohort.channels}
        assert revenue == {"yandex": 2000, "vk": 4000}

    def test_stats_show_labels_the_basis_it_counted_by(self, engine: Engine, settings: Settings) -> None:
        """`stats show --won-basis cohort` says so next to the figures; the default says "by close date"."""
        from leadpact.cli.stats import app

        cohort_dataset(engine)
        env = {
            "DATABASE_URL": settings.database_url,
            "LEADPACT_LANGUAGE": "en",
            "COLUMNS": "200",
            "SECRET_KEY": "test-secret-key-not-for-production",
            "DATA_DIR": str(settings.data_dir),
        }
        args = [
            "show",
            "--account",
            str(ACCOUNT),
            "--period",
            "2026-11",
            "--no-names",
            "--as-of",
            "2026-12-03",
        ]
        cohort = CliRunner().invoke(app, [*args, "--won-basis", "cohort"], env=env)
        assert cohort.exit_code == 0, cohort.output
        assert "deals by lead cohort" in cohort.output
        close = CliRunner().invoke(app, args, env={**env, "LEADPACT_LANGUAGE": "ru"})
        assert close.exit_code == 0, close.output
        assert "сделки — по дате закрытия" in close.output


class TestStatsShowNamesPeopleAndChannels:
    def test_managers_by_name_channels_by_title_and_small_samples_not_judged(
        self, engine: Engine, settings: Settings
    ) -> None:
        """`stats show` lists managers by their amoCRM names (an unlisted one is marked as such), channels by
        the rule file's titles, and a manager with 3 November leads as "too few to judge (n=3, need ≥ 10)"."""
        from leadpact.cli.stats import app

        cohort_dataset(engine)
        store(engine, [lead(10, "vk", created=ts(11, 8), manager=8000009)])
        with session_scope(engine) as session:
            user_store.replace_users(
                session=session, account_id=ACCOUNT, users=[{"id": 1, "name": "Анна Смирнова"}], now=ts(12, 1)
            )
        env = {
            "DATABASE_URL": settings.database_url,
            "LEADPACT_LANGUAGE": "en",
            "COLUMNS": "250",
            "SECRET_KEY": "test-secret-key-not-for-production",
            "DATA_DIR": str(settings.data_dir),
        }
        shown = CliRunner().invoke(
            app, ["show", "--account", str(ACCOUNT), "--period", "2026-11", "--no-names"], env=env
        )
        assert shown.exit_code == 0, shown.output
        lines = shown.output.splitlines()
        anna = next(line for line in lines if "Анна Смирнова" in line)
        assert "too few to judge (n=3, need ≥ 10)" in anna
        assert any("user #8000009 (name not read from amoCRM)" in line for line in lines)
        # The default rules title the channel "vk" as "VK"; its key is not shown.
        assert any(line.startswith("│ VK ") for line in lines)
        assert not any(line.startswith("│ vk ") for line in lines)
        assert "minimum sample: 10" in shown.output


class _Leads:
    """An amoCRM account holding `leads`, with no events list (enough for classification)."""

    def __init__(self, leads: Sequence[dict[str, Any]]) -> None:
        self.leads = leads

    async def list_pipelines(self) -> list[Pipeline]:
        return []

    async def iter_leads(self, *, params: Any = None, with_: Any = ()) -> AsyncIterator[Lead]:
        for item in self.leads:
            yield Lead.model_validate(item)

    async def get_contacts(self, ids: Any) -> list[Any]:
        return []

    async def paginate(
        self, path: str, entity: str, *, params: Any = None, limit: int = 250
    ) -> AsyncIterator[dict[str, Any]]:
        for item in ():
            yield item

    async def iter_tasks(self, *, params: Any = None) -> AsyncIterator[Any]:
        for task in ():
            yield task


def decision_lead(lead_id: int, decision_day: date) -> dict[str, Any]:
    decision = int(
        datetime(decision_day.year, decision_day.month, decision_day.day, tzinfo=MOSCOW).timestamp()
    )
    return {
        "id": lead_id,
        "name": f"lead {lead_id}",
        "created_at": ts(5, 20),
        "updated_at": ts(5, 20) + lead_id,
        "status_id": 10,
        "pipeline_id": 7,
        "custom_fields_values": [
            {"field_id": 1, "field_code": "DECISION_DATE", "values": [{"value": decision}]},
        ],
    }


class TestAsOfOnTheDecisionWindow:
    @pytest.mark.parametrize(
        ("as_of", "hot"),
        [("2026-06-01", {1}), ("2026-06-02", {1, 2}), ("2026-05-31", set())],
    )
    async def test_six_months_are_counted_from_the_as_of_day(
        self, engine: Engine, as_of: str, hot: set[int]
    ) -> None:
        """Decision on 1 December 2026 is 183 days after 1 June: "hot" (within 6 months) as of 1 June, not as
        of 31 May; a decision on 2 December becomes hot only as of 2 June — the wall clock plays no part."""
        moment = parse_as_of(as_of, MOSCOW)
        assert moment is not None
        assert (date(2026, 12, 1) - date(2026, 6, 1)).days == 183
        api = _Leads([decision_lead(1, date(2026, 12, 1)), decision_lead(2, date(2026, 12, 2))])
        await backfill_account(
            api=api,
            engine=engine,
            account_id=ACCOUNT,
            since=None,  # type: ignore[arg-type]
            as_of=datetime.fromtimestamp(moment, UTC),
        )
        with session_scope(engine) as session:
            rows = session.exec(select(LeadSnapshot).where(LeadSnapshot.account_id == ACCOUNT)).all()
            assert {row.lead_id for row in rows if row.level == "hot"} == hot
            assert {row.classified_at for row in rows} == {moment}

    def test_a_malformed_as_of_is_refused_by_stats_show(self, engine: Engine, settings: Settings) -> None:
        """`stats show --as-of 20.06.2026` exits with code 2 and names the expected form; nothing is computed."""
        from leadpact.cli.stats import app

        env = {
            "DATABASE_URL": settings.database_url,
            "LEADPACT_LANGUAGE": "en",
            "SECRET_KEY": "test-secret-key-not-for-production",
            "DATA_DIR": str(settings.data_dir),
        }
        store(engine, [lead(1, "vk", created=ts(11, 3))])
        shown = CliRunner().invoke(
            app, ["show", "--account", str(ACCOUNT), "--as-of", "20.06.2026", "--no-names"], env=env
        )
        assert shown.exit_code == 2
        assert "expected a date like 2026-01-31" in shown.output and "20.06.2026" in shown.output

    def test_as_of_a_date_is_the_end_of_that_day_in_the_rules_time_zone(self) -> None:
        """`--as-of 2026-06-01` means 23:59:59 on 1 June in Moscow, i.e. 20:59:59 UTC."""
        assert parse_as_of("2026-06-01", MOSCOW) == int(
            datetime(2026, 6, 1, 20, 59, 59, tzinfo=UTC).timestamp()
        )
