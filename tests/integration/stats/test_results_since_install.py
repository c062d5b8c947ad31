"""Results since install (#14): weekly from the week of install — seller conversion, revenue, spend per
customer, median deal cycle and the share of qualified leads — on a hand-built history."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import Engine

from integration.db import session_scope
from integration.storage.leads import LeadSnapshot
from sync.reports.figures import week_trends
from sync.reports.render import render_html, render_markdown
from sync.stats.periods import Period
from sync.stats.trends import median_of_histogram, weeks_since
from tests.unit.reports.sample import sample_report

ACCOUNT = 77
WEEK = Period(date(2026, 11, 16), date(2026, 11, 22))  # 2026-W47
INSTALLED = date(2026, 11, 4)  # a Wednesday of W45
WON, LOST = 142, 143


def at(day: int, hour: int = 10, month: int = 11) -> int:
    return int(datetime(2026, month, day, hour, tzinfo=UTC).timestamp())


# lead id: (created, closed, status, price, qualified)
LEADS = {
    1: (at(4), at(6), WON, 100, True),  # W45, won in W45 after 2 days
    2: (at(5), at(7), LOST, 0, True),  # W45, lost
    3: (at(9), at(19), WON, 300, False),  # W46, won in W47 after 10 days
    4: (at(10), at(14), WON, 200, True),  # W46, won in W46 after 4 days
    5: (at(16), at(17), WON, 50, None),  # W47, won the next day; not classified yet
    6: (at(30, month=10), at(31, month=10), WON, 999, True),  # before the install week: not in the panel
}


@pytest.fixture
def history(engine: Engine) -> Engine:
    with session_scope(engine) as session:
        for lead_id, (created, closed, status, price, qualified) in LEADS.items():
            session.add(
                LeadSnapshot(
                    account_id=ACCOUNT,
                    lead_id=lead_id,
                    name=f"Lead {lead_id}",
                    status_id=status,
                    created_at=created,
                    updated_at=closed,
                    closed_at=closed,
                    price=price,
                    qualified=qualified,
                )
            )
    return engine


def test_weeks_since_install_and_the_median_of_a_histogram() -> None:
    """W45 through W47 since a Wednesday install; a later install has no weeks; medians by hand."""
    weeks, truncated = weeks_since(INSTALLED, WEEK)
    assert [week.start for week in weeks] == [date(2026, 11, 2), date(2026, 11, 9), date(2026, 11, 16)]
    assert not truncated
    assert weeks_since(date(2026, 11, 30), WEEK) == ([], False)
    assert weeks_since(date(2025, 1, 1), WEEK, limit=4)[1] is True
    assert median_of_histogram({}) is None
    assert median_of_histogram({2: 1}) == 2
    assert median_of_histogram({10: 1, 1: 1}) == 5.5
    assert median_of_histogram({1: 2, 3: 1, 9: 1}) == 2


def test_each_week_since_install_by_hand(history: Engine) -> None:
    """Close-date basis: W45 revenue 100, cycle 2 d, 1 of 2 won, 2 of 2 qualified; W46 revenue 200, cycle 4 d,
    2 of 2 won, 1 of 2 qualified; W47 revenue 350 (300 + 50), cycle (10 + 1) / 2 = 5.5 d, 1 of 1 won, % qualified
    unknown (nothing classified). No spend was recorded, so spend per customer is unknown, never 0."""
    with session_scope(history) as session:
        _, results = week_trends(
            session=session,
            account_id=ACCOUNT,
            week=WEEK,
            as_of=at(23),
            tz=ZoneInfo("UTC"),
            won_basis="close_date",
            installed_on=INSTALLED,
        )
    assert results is not None
    rows = [
        (row.revenue, row.median_cycle_days, row.conversion, row.qualified_pct, row.per_customer)
        for row in results.weeks
    ]
    assert rows == [(100, 2, 0.5, 1.0, None), (200, 4, 1.0, 0.5, None), (350, 5.5, 1.0, None, None)]


@pytest.mark.parametrize(
    ("lang", "heading", "cycle", "unknown"),
    [
        ("en", "### Results since install", "| Median deal cycle, days | 2 | 5.5 | 2 · 4 · 5.5 |", "unknown"),
        (
            "ru",
            "### Результаты с момента установки",
            "| Медианный цикл сделки, дней | 2 | 5.5 |",
            "неизвестно",
        ),
    ],
)
def test_the_panel_is_in_the_report_in_both_languages(
    history: Engine, lang: str, heading: str, cycle: str, unknown: str
) -> None:
    """The report shows the panel with the install date, the week of install next to this week, in ru and en;
    the HTML draws a sparkline per row."""
    with session_scope(history) as session:
        trends, results = week_trends(
            session=session,
            account_id=ACCOUNT,
            week=WEEK,
            as_of=at(23),
            tz=ZoneInfo("UTC"),
            won_basis="close_date",
            installed_on=INSTALLED,
        )
    report = sample_report(WEEK, account_id=ACCOUNT, trends=trends, results=results)
    text = render_markdown(report, lang)  # type: ignore[arg-type]
    assert heading in text and "2026-11-04" in text
    assert cycle in text
    spend_row = next(line for line in text.splitlines() if "customer" in line or "клиента" in line)
    assert unknown in spend_row
    html = render_html(report, lang)  # type: ignore[arg-type]
    panel = html[html.index('id="results"') :].split("</table>")[0]
    assert panel.count("data-chart='sparkline'") == 5
