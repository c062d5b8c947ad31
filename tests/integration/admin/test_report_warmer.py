"""Last week's meeting report is computed ahead of the first visit, and again only when its data changed."""

from __future__ import annotations

import time
from datetime import date

from sqlalchemy.engine import Engine

from integration.db import session_scope
from integration.storage.accounts import upsert_account
from integration.storage.leads import LeadSnapshot
from leadpact.admin.report_cache import WeeklyReportCache
from leadpact.admin.reports import warm_last_week
from sync.reports.figures import data_fingerprint
from sync.reports.weeks import last_full_week

TODAY = date(2026, 11, 23)
ACCOUNT = 31000001


def _account_with_leads(engine: Engine, *lead_ids: int) -> None:
    with session_scope(engine) as session:
        upsert_account(
            session=session,
            account_id=ACCOUNT,
            subdomain="acme",
            base_url="http://127.0.0.1:1",
            language="ru",
            credential_kind="oauth",
            new_webhook_key="key",
        )
        _leads(session, *lead_ids)


def _leads(session: object, *lead_ids: int) -> None:
    created = int(time.mktime(date(2026, 11, 18).timetuple()))
    for lead_id in lead_ids:
        session.add(  # type: ignore[attr-defined]
            LeadSnapshot(
                account_id=ACCOUNT, lead_id=lead_id, created_at=created, updated_at=created + lead_id,
                channel="email", level="warm", qualified=True, status_id=100, pipeline_id=1,
            )
        )  # fmt: skip


class TestReportWarmer:
    def test_report_is_ready_before_anyone_visits(self, engine: Engine) -> None:
        """After one warm-up pass the default week's report is in the cache and current."""
        _account_with_leads(engine, 1, 2, 3)
        cache = WeeklyReportCache()
        assert warm_last_week(engine, cache, today=TODAY) == 1
        with session_scope(engine) as session:
            fingerprint = data_fingerprint(session=session, account_id=ACCOUNT)
        report, current = cache.lookup((ACCOUNT, last_full_week(TODAY)), fingerprint, time.time())
        assert report is not None and current

    def test_unchanged_data_is_not_recomputed_and_new_leads_are(self, engine: Engine) -> None:
        """A second pass with nothing new computes nothing; a new lead makes the next pass recompute."""
        _account_with_leads(engine, 1, 2)
        cache = WeeklyReportCache()
        warm_last_week(engine, cache, today=TODAY)
        assert warm_last_week(engine, cache, today=TODAY) == 0
        with session_scope(engine) as session:
            _leads(session, 3)
        assert warm_last_week(engine, cache, today=TODAY) == 1
