"""Benchmark: every funnel metric for one month over 1 000 000 leads and 5 000 000 status events.

    .venv/bin/python bench/stats.py                       # SQLite and PostgreSQL, 1M leads, 5 events each
    .venv/bin/python bench/stats.py --backend sqlite --leads 100000

The data is generated straight into a freshly migrated database (bulk executemany on SQLite, COPY on
PostgreSQL); then a separate process computes all metrics, so its peak memory (ru_maxrss) is the metrics'
own, not the generator's. Goal: < 10 s and < 500 MB on each backend.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

# Run as a script, Python puts bench/ first on the path, where bench/rules.py would shadow `rules`.
ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench")]

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from integration.db import make_engine, session_scope, upgrade  # noqa: E402
from integration.storage import stats as storage  # noqa: E402
from sync.stats.metrics import compute_period_figures  # noqa: E402
from sync.stats.periods import Period  # noqa: E402
from sync.stats.queries import BANT_FIELD_CODES, load_stats_inputs  # noqa: E402

ACCOUNT = 1
PIPELINE = 7
STAGES = (10, 20, 30, 40)
WON, LOST = 142, 143
CHANNELS = ("yandex", "google", "vk", "telegram", "seo", "referral", "tiktok", "email")
PERIOD = Period.month(2026, 11)
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def lead_rows(
    count: int, events_per_lead: int, seed: int = 7, span: tuple[int, int] | None = None
) -> Iterator[tuple[tuple[object, ...], list[tuple[object, ...]]]]:
    """(lead row, its status events): leads spread over November (or `span`), walking the stages then
    won/lost/open."""
    rng = random.Random(seed)
    start, end = span or PERIOD.bounds()
    span = end - start - 86_400
    for lead_id in range(1, count + 1):
        # amoCRM hands out lead ids in creation order, so creation times grow with the id (and the row order).
        created = start + (lead_id - 1) * span // count
        steps = [STAGES[min(i, len(STAGES) - 1)] for i in range(events_per_lead - 1)]
        outcome = rng.random()
        last = WON if outcome < 0.2 else LOST if outcome < 0.6 else STAGES[rng.randrange(len(STAGES))]
        path = [*steps, last]
        events: list[tuple[object, ...]] = [
            (
                ACCOUNT,
                lead_id,
                PIPELINE,
                None if i == 0 else path[i - 1],
                status,
                created + i * 600,
                "backfill",
            )
            for i, status in enumerate(path)
        ]
        codes = [code for code in BANT_FIELD_CODES if rng.random() < 0.5]
        data = json.dumps(
            {
                "custom_fields_values": [
                    {"field_id": i, "field_code": c, "values": [{"value": "1"}]} for i, c in enumerate(codes)
                ]
            }
        )
        qualified = rng.random() < 0.7
        closed = created + events_per_lead * 600 if last in (WON, LOST) else None
        price = None if rng.random() < 0.05 else rng.randrange(1000, 100_000)
        row: tuple[object, ...] = (
            ACCOUNT,
            lead_id,
            f"Lead {lead_id}",
            price,
            last,
            PIPELINE,
            rng.randrange(1, 41),
            created,
            closed or created,
            closed,
            False,
            data,
            CHANNELS[rng.randrange(len(CHANNELS))],
            "warm",
            qualified,
            None,
            1,
            created,
        )
        yield row, events


def touch_rows(
    count: int, seed: int = 11, span: tuple[int, int] | None = None
) -> Iterator[tuple[object, ...]]:
    """Each lead's first action by a person (speed to lead): a manager's call minutes to hours after creation,
    none for about one lead in eight. Its own random stream, so the leads are the same with or without it."""
    rng = random.Random(seed)
    start, end = span or PERIOD.bounds()
    width = end - start - 86_400
    for lead_id in range(1, count + 1):
        created = start + (lead_id - 1) * width // count
        if rng.random() < 0.12:
            continue
        yield (
            ACCOUNT,
            lead_id,
            created + int(60 * 45 * rng.lognormvariate(0.0, 1.0)),
            "call",
            rng.randrange(1, 41),
        )


TOUCH_COLUMNS = "account_id, lead_id, touched_at, kind, user_id"

LEAD_COLUMNS = (
    "account_id, lead_id, name, price, status_id, pipeline_id, responsible_user_id, created_at, "
    "updated_at, closed_at, is_deleted, data, channel, level, qualified, reason, rule_version, "
    "classified_at"
)
EVENT_COLUMNS = "account_id, lead_id, pipeline_id, old_status_id, status_id, occurred_at, source"


def fill_sqlite(url: str, leads: int, events_per_lead: int, span: tuple[int, int] | None = None) -> None:
    engine = make_engine(url)
    raw = engine.raw_connection()
    cursor = raw.cursor()
    cursor.execute("PRAGMA synchronous=OFF")
    lead_batch: list[tuple[object, ...]] = []
    event_batch: list[tuple[object, ...]] = []

    def flush() -> None:
        cursor.executemany(
            f"INSERT INTO lead_snapshots ({LEAD_COLUMNS}) VALUES ({', '.join('?' * 18)})", lead_batch
        )
        cursor.executemany(
            f"INSERT INTO lead_status_events ({EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)", event_batch
        )
        lead_batch.clear()
        event_batch.clear()

    for row, events in lead_rows(leads, events_per_lead, span=span):
        lead_batch.append(row)
        event_batch.extend(events)
        if len(lead_batch) >= 50_000:
            flush()
    flush()
    cursor.executemany(
        f"INSERT INTO lead_first_touches ({TOUCH_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
        touch_rows(leads, span=span),
    )
    raw.commit()
    cursor.execute("ANALYZE")
    raw.close()
    engine.dispose()


def fill_postgres(url: str, leads: int, events_per_lead: int, span: tuple[int, int] | None = None) -> None:
    engine = make_engine(url)
    raw = engine.raw_connection()
    cursor = raw.cursor()
    # Events are spooled to a temporary file while the leads stream in, then copied in one go.
    with tempfile.TemporaryFile("w+") as events_file:
        with cursor.copy(f"COPY lead_snapshots ({LEAD_COLUMNS}) FROM STDIN") as copy:
            for row, events in lead_rows(leads, events_per_lead, span=span):
                copy.write_row(row)
                for event in events:
                    events_file.write("\t".join("\\N" if v is None else str(v) for v in event) + "\n")
        events_file.seek(0)
        with cursor.copy(f"COPY lead_status_events ({EVENT_COLUMNS}) FROM STDIN") as copy:
            while chunk := events_file.read(1 << 20):
                copy.write(chunk)
    with cursor.copy(f"COPY lead_first_touches ({TOUCH_COLUMNS}) FROM STDIN") as copy:
        for touch in touch_rows(leads, span=span):
            copy.write_row(touch)
    raw.commit()
    cursor.execute("ANALYZE")
    raw.commit()
    raw.close()
    engine.dispose()


def seed_settings(url: str) -> None:
    engine = make_engine(url)
    with session_scope(engine) as session:
        storage.replace_pipeline_stages(
            session=session,
            account_id=ACCOUNT,
            stages=[(PIPELINE, status, sort, str(status)) for sort, status in enumerate(STAGES)],
        )
        storage.upsert_plan(
            session=session,
            account_id=ACCOUNT,
            period_start=PERIOD.start,
            period_end=PERIOD.end,
            figures={"leads": 900_000, "qualified": 600_000, "deals": 200_000, "revenue": 10_000_000_000},
        )
    engine.dispose()


def peak_memory_mb() -> float:
    """This process's peak resident memory. VmHWM starts afresh at exec; ru_maxrss may carry the parent's
    (the data generator's) peak across the fork."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(url: str) -> dict[str, float]:
    """Runs in its own process: time and peak memory of loading the aggregates and computing every metric."""
    engine = make_engine(url)
    as_of = int(datetime(2026, 11, 16, tzinfo=UTC).timestamp())
    started, cpu_started = time.perf_counter(), time.process_time()
    with engine.connect() as connection:
        inputs = load_stats_inputs(connection, account_id=ACCOUNT, period=PERIOD, as_of=as_of)
    figures = compute_period_figures(
        inputs,
        experimental_channels={"tiktok"},
        qualified_norm=0.6,
        min_manager_sample=10,
        completeness_fields=BANT_FIELD_CODES,
    )
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    engine.dispose()
    peak_mb = peak_memory_mb()
    return {
        "seconds": round(seconds, 2),
        # CPU time of this process: all of SQLite's work; on PostgreSQL the server's work is not in it.
        "cpu_seconds": round(cpu_seconds, 2),
        "peak_mb": round(peak_mb, 1),
        "leads": figures.totals.leads,
        "load_average": round(os.getloadavg()[0], 1),
    }


def run_backend(name: str, url: str, leads: int, events_per_lead: int) -> dict[str, float]:
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    started = time.perf_counter()
    (fill_postgres if name == "postgresql" else fill_sqlite)(url, leads, events_per_lead)
    seed_settings(url)
    fill_seconds = time.perf_counter() - started
    output = subprocess.run(
        [sys.executable, __file__, "--measure", url],
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    if output.returncode != 0:
        raise SystemExit(f"measuring on {name} failed:\n{output.stderr}")
    result: dict[str, float] = json.loads(output.stdout.strip().splitlines()[-1])
    result["fill_seconds"] = round(fill_seconds, 1)
    return result


def report(backend: str, result: dict[str, float]) -> None:
    print(
        f"{backend + ':':<12}{result['seconds']:6.2f} s (process CPU {result['cpu_seconds']:.2f} s), "
        f"peak {result['peak_mb']:6.1f} MB, load average {result['load_average']} "
        f"(data generated in {result['fill_seconds']} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--events-per-lead", type=int, default=5)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--postgres-url", default=os.environ.get("TEST_DATABASE_URL", DEFAULT_POSTGRES))
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return
    print(f"{args.leads:,} leads, {args.leads * args.events_per_lead:,} status events, one month")
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as directory:
            result = run_backend(
                "sqlite", f"sqlite:///{directory}/bench.db", args.leads, args.events_per_lead
            )
            report("SQLite", result)
    if args.backend in ("postgresql", "both"):
        base = make_url(args.postgres_url.replace("postgresql://", "postgresql+psycopg://"))
        name = f"lp_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            url = base.set(database=name).render_as_string(hide_password=False)
            result = run_backend("postgresql", url, args.leads, args.events_per_lead)
            report("PostgreSQL", result)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
