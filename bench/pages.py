"""Benchmark: server time of `/admin` and `/reports/weekly` with 1 000 000 leads stored.

    .venv/bin/python bench/pages.py                                  # SQLite, 1M leads
    .venv/bin/python bench/pages.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/pages.py --leads 100000 --repeat 3

The leads are bulk-inserted into a freshly migrated database (executemany on SQLite, COPY on PostgreSQL, with
the generator of bench/stats.py: 21 September to 30 November 2026, so the reported week W47 has 8 earlier weeks
for its trends; 8 channels, stage walks, won/lost/open); the admin app is
served by uvicorn on a real port and an admin signs in with a widget token. Each page is fetched once to warm
up (`first_s`: the report computed from scratch), then `--repeat` times (`median_s`: the page as every later
visitor gets it — the computed week is reused until a lead, the rules, a plan or spend change); times are from
request to last byte on loopback (an upper bound of the server time). `first_cpu_s` is this process's CPU
time during the first fetch — server and client share the process, so on SQLite it is all of the page's work
(on PostgreSQL the database server's is not in it) — steadier than wall time on a busy machine.
The account has 10 open hypotheses (bench `HYPOTHESES`), measured on every view of the report.
`report_after_a_new_lead`: a lead is stored after the report was computed, and the next visits are timed
while the page recomputes it in the background. Goal: < 1 s per page.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import jwt
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.stats import ACCOUNT, fill_postgres, fill_sqlite, seed_settings
from integration.bootstrap import build_services
from integration.db import make_engine, session_scope, upgrade
from integration.servers import serve_in_thread
from integration.settings import Settings
from integration.storage import accounts as account_store
from integration.storage import stats as stats_store
from integration.storage.hypotheses import add_hypothesis
from integration.storage.leads import LeadSnapshot
from leadpact.admin import router
from leadpact.admin.reports import reports_router

CLIENT_SECRET = "bench-client-secret-0123456789abcdef0123456789"  # noqa: S105 - a throwaway bench value
REDIRECT_URI = "https://leadpact.example.com/oauth/callback"
WEEK = "2026-W47"
# Ten weeks of leads (W39 to W48): the report's trends show the 8 weeks before the reported one with data.
LEAD_SPAN = (
    int(datetime(2026, 9, 21, tzinfo=UTC).timestamp()),
    int(datetime(2026, 11, 30, tzinfo=UTC).timestamp()),
)
PAGES = (
    "/admin",
    "/admin/rules",
    "/admin/rules/history",
    "/admin/promos",
    "/admin/plans",
    "/admin/inbox",
    f"/reports/weekly?week={WEEK}",
    f"/reports/weekly?week={WEEK}&format=md",
)


@contextmanager
def fresh_database(url: str | None, workdir: Path) -> Iterator[str]:
    """A new, migrated database: a file in `workdir`, or a new database on the given PostgreSQL server."""
    if url is None:
        path = workdir / "bench-pages.db"
        database = f"sqlite:///{path}"
        engine = make_engine(database)
        upgrade(engine)
        engine.dispose()
        yield database
        return
    server = make_url(url.replace("postgresql://", "postgresql+psycopg://"))
    name = f"lp_bench_pages_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    database = server.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(database)
    upgrade(engine)
    engine.dispose()
    try:
        yield database
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def install_account(database: str) -> None:
    engine = make_engine(database)
    with session_scope(engine) as session:
        account_store.upsert_account(
            session=session,
            account_id=ACCOUNT,
            subdomain="bench",
            base_url="https://bench.amocrm.ru",
            language="ru",
            credential_kind="oauth",
            new_webhook_key="bench-key",
        )
    engine.dispose()


HYPOTHESES = (
    ("qualified_pct", "up", "yandex", date(2026, 11, 2)),
    ("qualified_pct", "up", "vk", date(2026, 11, 9)),
    ("qualified_pct", "down", None, date(2026, 10, 26)),
    ("conversion", "up", "google", date(2026, 11, 2)),
    ("conversion", "up", None, date(2026, 11, 9)),
    ("conversion", "down", "tiktok", date(2026, 10, 19)),
    ("cpl", "down", "yandex", date(2026, 11, 2)),
    ("cpl", "down", "vk", date(2026, 11, 16)),
    ("cpql", "down", "google", date(2026, 10, 26)),
    ("cpql", "down", None, date(2026, 11, 9)),
)


PAID_CHANNELS = ("yandex", "google", "vk", "tiktok")


def record_hypotheses(database: str) -> None:
    """Ten open hypotheses, as a few meetings would leave them: every metric, channels and all leads; weekly
    spend on the paid channels, so the cost hypotheses are measured rather than "too early"."""
    engine = make_engine(database)
    with session_scope(engine) as session:
        # Installed when its leads begin, so the report's "results since install" panel spans all ten weeks.
        account = account_store.get_account(session=session, account_id=ACCOUNT)
        assert account is not None
        account.created_at = datetime(2026, 9, 21, 9, tzinfo=UTC)
        session.add(account)
        week_start = date(2026, 9, 21)
        while week_start < date(2026, 11, 30):
            for channel in PAID_CHANNELS:
                stats_store.upsert_spend(
                    session=session,
                    account_id=ACCOUNT,
                    channel=channel,
                    period_start=week_start,
                    period_end=week_start + timedelta(days=6),
                    amount=Decimal(2_000_000),
                )
            week_start += timedelta(days=7)
        for index, (metric, direction, channel, starts_on) in enumerate(HYPOTHESES, start=1):
            add_hypothesis(
                session=session,
                account_id=ACCOUNT,
                text=f"Hypothesis {index}: {metric} {direction} for {channel or 'all'}",
                owner_id=index,
                metric=metric,
                direction=direction,
                channel=channel,
                starts_on=starts_on,
            )
    engine.dispose()


def admin_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with build_services(settings, migrate=False) as services:
            app.state.services = services
            yield

    app = FastAPI(lifespan=lifespan)
    app.include_router(router)
    app.include_router(reports_router)
    return app


def admin_token() -> str:
    now = int(time.time())
    claims = {
        "iss": "https://bench.amocrm.ru",
        "aud": "https://leadpact.example.com",
        "jti": uuid.uuid4().hex,
        "iat": now,
        "nbf": now,
        "exp": now + 1800,
        "account_id": ACCOUNT,
        "subdomain": "bench",
        "client_uuid": "bench",
        "user_id": 1,
        "is_admin": True,
    }
    return jwt.encode(claims, CLIENT_SECRET, algorithm="HS256")


def measure(base_url: str, repeat: int) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    with httpx.Client(base_url=base_url, timeout=120) as client:
        login = client.get("/admin/login", params={"token": admin_token()})
        assert login.status_code == 303, login.text
        for path in PAGES:
            started, cpu_started = time.perf_counter(), time.process_time()
            warm = client.get(path)
            first = time.perf_counter() - started
            first_cpu = time.process_time() - cpu_started
            assert warm.status_code == 200, (path, warm.status_code, warm.text[:300])
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                response = client.get(path)
                times.append(time.perf_counter() - started)
                assert response.status_code == 200
            results[path] = {
                "first_s": round(first, 3),
                "first_cpu_s": round(first_cpu, 3),
                "median_s": round(statistics.median(times), 3),
                "max_s": round(max(times), 3),
                "bytes": len(response.content),
            }
    return results


def measure_after_change(base_url: str, database: str, repeat: int) -> dict[str, float]:
    """A lead arrives after the report was computed: the next visits are timed while it is recomputed."""
    engine = make_engine(database)
    with session_scope(engine) as session:
        session.add(
            LeadSnapshot(
                account_id=ACCOUNT,
                lead_id=10_000_001,
                name="late arrival",
                status_id=10,
                pipeline_id=7,
                created_at=1_763_600_000,
                updated_at=int(time.time()),
                channel="vk",
                qualified=True,
                rule_version=1,
            )
        )
    engine.dispose()
    path = f"/reports/weekly?week={WEEK}"
    with httpx.Client(base_url=base_url, timeout=120) as client:
        assert client.get("/admin/login", params={"token": admin_token()}).status_code == 303
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            assert client.get(path).status_code == 200
            times.append(time.perf_counter() - started)
    return {"median_s": round(statistics.median(times), 3), "max_s": round(max(times), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--events-per-lead", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("TEST_DATABASE_URL"),
        help="PostgreSQL server (default: SQLite)",
    )
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as workdir,
        fresh_database(args.database_url, Path(workdir)) as database,
    ):
        started = time.perf_counter()
        if database.startswith("postgresql"):
            fill_postgres(database, args.leads, args.events_per_lead, span=LEAD_SPAN)
        else:
            fill_sqlite(database, args.leads, args.events_per_lead, span=LEAD_SPAN)
        seed_settings(database)
        install_account(database)
        record_hypotheses(database)
        filled = time.perf_counter() - started
        settings = Settings(
            _env_file=None,
            database_url=database,
            data_dir=Path(workdir) / "data",
            secret_key=SecretStr("bench-secret-key"),
            amocrm_client_id="bench",
            amocrm_client_secret=SecretStr(CLIENT_SECRET),
            amocrm_redirect_uri=REDIRECT_URI,
        )
        with serve_in_thread(admin_app(settings)) as base_url:
            pages = measure(base_url, args.repeat)
            after_change = measure_after_change(base_url, database, args.repeat)
    backend = "postgresql" if database.startswith("postgresql") else "sqlite"
    print(
        json.dumps(
            {
                "backend": backend,
                "leads": args.leads,
                "fill_s": round(filled, 1),
                "load_average": round(os.getloadavg()[0], 1),
                "pages": pages,
                "report_after_a_new_lead": after_change,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
