"""The weekly report over a real database: the page, its Markdown and the CLI show the stats figures of the
week (the same functions as `leadpact stats show`), with charts, for the signed-in admin's account only."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from integration.db import session_scope
from integration.settings import Settings
from integration.storage import promos as promo_store
from integration.storage import users as user_store
from integration.storage.leads import LeadSnapshot
from leadpact.cli.report import app as report_cli
from sync.reports.weeks import parse_week
from sync.stats.metrics import PeriodFigures
from sync.stats.service import figures_for
from tests.integration.admin.support import admin_client, admin_settings, install_account, sign_in
from tests.integration.stats.conftest import ACCOUNT, Dataset, seed

WEEK = "2026-W45"  # 2–8 November 2026: the hand-counted dataset's leads arrive on the 5th
AS_OF = 1_767_225_600  # 2027-01-01, long after the week


@pytest.fixture
def configured(settings: Settings) -> Settings:
    configured = admin_settings(settings)
    install_account(configured, ACCOUNT, "acme", "https://acme.amocrm.ru")
    return configured


@pytest.fixture
def dataset(engine: Engine) -> Dataset:
    return seed(engine)


@pytest.fixture
def client(configured: Settings, dataset: Dataset) -> Iterator[httpx.Client]:
    with admin_client(configured) as client:
        sign_in(client, account_id=ACCOUNT)
        yield client


def week_figures(engine: Engine) -> PeriodFigures:
    with session_scope(engine) as session:
        return figures_for(session=session, account_id=ACCOUNT, period=parse_week(WEEK), as_of=AS_OF)


class TestReportPage:
    def test_the_page_shows_the_weeks_figures_per_channel(self, client: httpx.Client, engine: Engine) -> None:
        """Each channel's row on the page carries the stats engine's leads, qualified and % for the week."""
        page = client.get("/reports/weekly", params={"week": WEEK, "lang": "en"})
        assert page.status_code == 200
        figures = week_figures(engine)
        assert figures.totals.leads > 0
        for row in figures.quality:
            pct = "—" if row.qualified_pct is None else f"{row.qualified_pct:.0%}"
            cells = f"<td>{row.leads}</td><td>{row.classified}</td><td>{row.qualified}</td><td>{pct}</td>"
            assert cells in page.text, row.channel

    def test_the_page_draws_its_charts_inline(self, client: httpx.Client) -> None:
        """The funnel, run-rate and %-qualified charts and a sparkline per statistic are SVG inside the page,
        each with shapes drawn (a sparkline at least marks this week's point)."""
        page = client.get("/reports/weekly", params={"week": WEEK})
        charts = re.findall(r"<svg [^>]*data-chart='([^']+)'.*?</svg>", page.text, flags=re.S)
        assert {"funnel", "qualified", "run-rate-leads", "sparkline"} <= set(charts)
        assert charts.count("sparkline") == 6
        for svg in re.findall(r"<svg .*?</svg>", page.text, flags=re.S):
            assert "<rect" in svg or "<polyline" in svg or "<circle class='current'" in svg

    def test_markdown_holds_the_same_totals(self, client: httpx.Client, engine: Engine) -> None:
        """?format=md gives the report as Markdown with the week's total leads and qualified."""
        text = client.get("/reports/weekly", params={"week": WEEK, "format": "md", "lang": "en"}).text
        total = week_figures(engine).quality_total
        assert f"| Total | {total.leads} | {total.classified} | {total.qualified} |" in text

    def test_tasks_unreadable_from_amocrm_do_not_break_the_page(self, client: httpx.Client) -> None:
        """With amoCRM unreachable the page still renders and says the tasks could not be read."""
        page = client.get("/reports/weekly", params={"week": WEEK, "lang": "en"})
        assert "Could not read the tasks from amoCRM" in page.text

    def test_disputes_of_the_week_are_shown(self, client: httpx.Client, engine: Engine) -> None:
        """A rep's dispute of a lead classified this week appears in the report with its reason."""
        week_start, _ = parse_week(WEEK).bounds()
        with session_scope(engine) as session:
            snapshot = session.get(LeadSnapshot, (ACCOUNT, 1001))
            assert snapshot is not None
            promo_store.add_dispute(
                session=session,
                account_id=ACCOUNT,
                lead_id=1001,
                user_id=5,
                reason="<b>no budget</b>",
                now=week_start + 3600,
                snapshot=snapshot,
            )
        page = client.get("/reports/weekly", params={"week": WEEK, "lang": "en"})
        assert "Sales disputed these classifications this week:" in page.text
        assert "&lt;b&gt;no budget&lt;/b&gt; (1)" in page.text

    def test_a_bad_week_is_explained(self, client: httpx.Client) -> None:
        """?week=soon answers 422 with what a week looks like."""
        page = client.get("/reports/weekly", params={"week": "soon", "lang": "en"})
        assert page.status_code == 422 and "2026-W47" in page.text

    def test_a_malformed_as_of_is_refused_with_the_expected_form(self, client: httpx.Client) -> None:
        """?as_of=yesterday answers 422 naming the date format, instead of silently using today."""
        page = client.get("/reports/weekly", params={"week": WEEK, "as_of": "yesterday", "lang": "en"})
        assert page.status_code == 422 and "2026-01-31" in page.text and "yesterday" in page.text

    def test_another_accounts_admin_sees_only_their_own_figures(
        self, configured: Settings, dataset: Dataset
    ) -> None:
        """An admin of an account without leads sees an empty week, not this account's numbers."""
        install_account(configured, 424242, "other", "https://other.amocrm.ru")
        with admin_client(configured) as other:
            sign_in(other, account_id=424242, subdomain="other", issuer="https://other.amocrm.ru")
            text = other.get("/reports/weekly", params={"week": WEEK, "format": "md", "lang": "en"}).text
        assert "| Total | 0 | 0 | 0 |" in text


class TestCommandLine:
    def test_the_cli_prints_the_same_report(
        self, configured: Settings, dataset: Dataset, engine: Engine
    ) -> None:
        """`leadpact report weekly --week … --format md` prints the week's figures."""
        env = {
            "DATABASE_URL": configured.database_url,
            "SECRET_KEY": "test-secret-key-not-for-production",
            "DATA_DIR": str(configured.data_dir),
        }
        result = CliRunner().invoke(
            report_cli,
            [
                "weekly",
                "--week",
                WEEK,
                "--format",
                "md",
                "--account",
                str(ACCOUNT),
                "--lang",
                "en",
                "--no-tasks",
            ],
            env=env,
        )
        assert result.exit_code == 0, result.output
        total = week_figures(engine).quality_total
        assert f"| Total | {total.leads} | {total.classified} | {total.qualified} |" in result.output
        assert result.output.startswith("# Weekly marketing & sales meeting — 2026-W45")

    def test_the_cli_writes_a_self_contained_html_file(
        self, configured: Settings, dataset: Dataset, tmp_path: Path
    ) -> None:
        """--format html -o FILE writes a page whose charts are inline SVG."""
        target = tmp_path / "week.html"
        env = {
            "DATABASE_URL": configured.database_url,
            "SECRET_KEY": "k",
            "DATA_DIR": str(configured.data_dir),
        }
        result = CliRunner().invoke(
            report_cli,
            [
                "weekly",
                "--week",
                WEEK,
                "--format",
                "html",
                "--account",
                str(ACCOUNT),
                "--no-tasks",
                "-o",
                str(target),
            ],
            env=env,
        )
        assert result.exit_code == 0, result.output
        html = target.read_text(encoding="utf-8")
        assert html.startswith("<!doctype html>") and "data-chart='funnel'" in html

    def test_a_bad_week_on_the_command_line_is_explained(self, configured: Settings) -> None:
        """A mistyped --week is refused with the expected form."""
        env = {
            "DATABASE_URL": configured.database_url,
            "SECRET_KEY": "k",
            "DATA_DIR": str(configured.data_dir),
        }
        result = CliRunner().invoke(
            report_cli, ["weekly", "--week", "47", "--lang", "en", "--no-tasks"], env=env
        )
        assert result.exit_code != 0 and "2026-W47" in result.output


class TestSameAsStatsShow:
    def test_the_report_matches_leadpact_stats_show_for_the_week(
        self, client: httpx.Client, configured: Settings, engine: Engine
    ) -> None:
        """As of the same day, every channel row (by its rule-file title), run-rate actual, manager row (by name)
        and cost of the report equals `leadpact stats show --as-of --json` for that week."""
        from leadpact.cli.stats import app as stats_cli

        with session_scope(engine) as session:
            user_store.replace_users(
                session=session,
                account_id=ACCOUNT,
                users=[
                    {"id": 1, "name": "Анна Смирнова"},
                    {"id": 2, "name": "Иван Петров"},
                    {"id": 3, "name": "Мария Козлова"},
                    {"id": 4, "name": "Дмитрий Волков"},
                ],
                now=int(time.time()),
            )
        env = {
            "DATABASE_URL": configured.database_url,
            "SECRET_KEY": "test-secret-key-not-for-production",
            "DATA_DIR": str(configured.data_dir),
        }
        week = parse_week(WEEK)
        shown = CliRunner().invoke(
            stats_cli,
            [
                "show",
                "--period",
                f"{week.start}..{week.end}",
                "--account",
                str(ACCOUNT),
                "--as-of",
                "2026-11-10",
                "--json",
                "--no-names",
            ],
            env=env,
        )
        assert shown.exit_code == 0, shown.output
        stats = json.loads(shown.output)
        report = client.get(
            "/reports/weekly", params={"week": WEEK, "format": "md", "lang": "en", "as_of": "2026-11-10"}
        ).text
        assert stats["as_of"] == int(datetime(2026, 11, 11, tzinfo=ZoneInfo("Europe/Moscow")).timestamp()) - 1
        assert stats["quality"], "the week has leads"
        for row in stats["quality"]:
            title = stats["channel_titles"].get(row["channel"], {}).get("en", row["channel"])
            name = (title or "(no channel)") + (" *" if row["experimental"] else "")
            pct = "—" if row["qualified_pct"] is None else f"{row['qualified_pct']:.0%}"
            assert f"| {name} | {row['leads']} | {row['classified']} | {row['qualified']} | {pct} |" in report
        names = {"leads": "Leads", "qualified": "Qualified leads", "deals": "Deals", "revenue": "Revenue"}
        run_rate_table = report.split("## 3.")[1].split("###")[0]
        rows = {line.split(" | ")[0].strip("| "): line.split(" | ") for line in run_rate_table.splitlines()}
        for rate in stats["run_rates"]:
            cells = rows[names[rate["metric"]]]
            planned = rate["planned_to_date"]
            assert cells[2] == ("—" if planned is None else f"{planned:,.0f}".replace(",", "\u202f"))
            assert cells[3] == f"{rate['actual']:,.0f}".replace(",", "\u202f"), rate["metric"]
        managers = [m for m in stats["managers"]["managers"] if m["manager_id"] is not None]
        assert managers
        for manager in managers:
            person = stats["manager_names"][str(manager["manager_id"])]
            conversion = "—" if manager["conversion"] is None else f"{manager['conversion']:.0%}"
            assert f"| {person} | {manager['leads']} | {manager['won']} | {conversion} |" in report
        for cost in stats["costs"]:
            title = stats["channel_titles"].get(cost["channel"], {}).get("en", cost["channel"])
            per_lead = (
                "unknown"
                if cost["per_lead"] is None
                else f"{float(cost['per_lead']):,.0f}".replace(",", "\u202f")
            )
            assert f"| {title} | " in report and f" | {cost['leads']} | {per_lead} | " in report
        assert "user #" not in report and "amo-user" not in report


class TestTrends:
    @pytest.mark.parametrize("basis", ["close_date", "cohort"])
    def test_every_weeks_point_equals_the_stats_of_that_week(
        self, engine: Engine, dataset: Dataset, basis: str
    ) -> None:
        """The report's nine trend points (one pass over the leads) equal `figures_for` of each of those weeks:
        leads, % qualified, deals and revenue, on both the close-date and the cohort basis."""
        from integration.storage.rulesets import active_ruleset
        from sync.reports.figures import week_trends
        from sync.stats.service import StatsOptions

        week = parse_week("2026-W47")
        with session_scope(engine) as session:
            tz = active_ruleset(session=session, account_id=ACCOUNT)[1].timezone
            trends, results = week_trends(
                session=session,
                account_id=ACCOUNT,
                week=week,
                as_of=AS_OF,
                tz=tz,
                won_basis=basis,  # type: ignore[arg-type]
                installed_on=date(2026, 10, 7),
            )
            # Results since install (W41 on) are the same weekly figures as the trends where the two overlap.
            assert results is not None and results.weeks[0].week.start == date(2026, 10, 5)
            by_week = {point.week: point for point in trends.weeks}
            for row in results.weeks:
                if row.week in by_week:
                    point = by_week[row.week]
                    assert (row.revenue, row.conversion, row.qualified_pct, row.per_customer) == (
                        point.revenue,
                        point.conversion,
                        point.qualified_pct,
                        point.per_customer,
                    )
            checked = 0
            for point in trends.weeks:
                figures = figures_for(
                    session=session,
                    account_id=ACCOUNT,
                    period=point.week,
                    as_of=AS_OF,
                    options=StatsOptions(completeness_fields=(), won_basis=basis),  # type: ignore[arg-type]
                )
                expected = (
                    figures.totals.leads,
                    figures.quality_total.qualified_pct,
                    figures.totals.deals,
                    figures.totals.revenue,
                )
                assert (point.leads, point.qualified_pct, point.deals, point.revenue) == expected, point.week
                checked += figures.totals.leads + figures.totals.deals
        assert checked > 0, "the dataset has leads and deals in these weeks"


class TestFreshness:
    def test_a_lead_stored_after_a_visit_shows_on_the_next_one(
        self, client: httpx.Client, engine: Engine
    ) -> None:
        """A lead stored after a visit is counted on a following visit, without waiting for the cache to expire."""
        params = {"week": WEEK, "format": "md", "lang": "en"}
        before = week_figures(engine).quality_total
        first = client.get("/reports/weekly", params=params).text
        assert f"| Total | {before.leads} |" in first
        week_start, _ = parse_week(WEEK).bounds()
        with session_scope(engine) as session:
            session.add(
                LeadSnapshot(
                    account_id=ACCOUNT,
                    lead_id=99_999,
                    name="late arrival",
                    status_id=10,
                    pipeline_id=7,
                    created_at=week_start + 86_400,
                    updated_at=AS_OF,
                    channel="yandex",
                    qualified=True,
                    rule_version=3,
                )
            )
        # The next visit shows the stored figures while they are recomputed; the new lead follows shortly.
        deadline = time.monotonic() + 10
        while f"| Total | {before.leads + 1} |" not in client.get("/reports/weekly", params=params).text:
            assert time.monotonic() < deadline, "the report never caught up with the new lead"
            time.sleep(0.1)
