"""Webhook bench: receiver ack throughput/latency vs a bare endpoint, end-to-end events/s, API calls per 1000 events.

    .venv/bin/python bench/webhooks.py                      # SQLite (a temporary file)
    .venv/bin/python bench/webhooks.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

1. Ack: each server runs alone in its own process (uvicorn, identical settings, one worker); the load comes from
   this process over loopback through keep-alive HTTP/1.1 connections written with asyncio streams (a client
   lighter than httpx, so the client is not what we measure). The same realistic `update_lead` body goes to
   the bare FastAPI endpoint (reads the body, answers 200) and to LeadPact's receiver (looks up the key, parses,
   stores raw body + events in the inbox in one transaction, answers 200).
2. End to end: the amoCRM sandbox (in this process) and LeadPact with its worker (`create_app` + `run_worker`,
   in a server process) on one database. A realistic mix of people's activity is driven through the sandbox
   API — leads created in bulk, prices edited, stages moved, 10% duplicated deliveries — and we measure lead
   events applied per second and LeadPact's amoCRM calls (its own `leadpact_amocrm_requests_total`) per 1000
   events delivered (our own PATCH echoes included in the events, as amoCRM sends them).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing
import os
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from fastapi import FastAPI, Request, Response
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_ACCOUNT = 29_000_001
BENCH_KEY = "bench-" + "k" * 32


# --- what we send -----------------------------------------------------------------------------------------


def update_lead_body(lead_id: int) -> bytes:
    """A realistic update_lead delivery (API v2 shape): one lead with tags and five custom fields."""
    prefix = "leads[update][0]"
    now = int(time.time())
    pairs: list[tuple[str, Any]] = [
        (f"{prefix}[id]", lead_id),
        (f"{prefix}[name]", f"Заявка с сайта #{lead_id}"),
        (f"{prefix}[status_id]", 142_001),
        (f"{prefix}[price]", 150_000),
        (f"{prefix}[responsible_user_id]", 8_001),
        (f"{prefix}[last_modified]", now),
        (f"{prefix}[modified_user_id]", 8_001),
        (f"{prefix}[created_user_id]", 8_001),
        (f"{prefix}[date_create]", now - 3600),
        (f"{prefix}[pipeline_id]", 7_001),
        (f"{prefix}[account_id]", BENCH_ACCOUNT),
        (f"{prefix}[created_at]", now - 3600),
        (f"{prefix}[updated_at]", now),
        (f"{prefix}[tags][0][id]", 1),
        (f"{prefix}[tags][0][name]", "vip"),
    ]
    fields = [
        (101, "Бюджет", "BUDGET", "150000", None),
        (102, "ЛПР", "DECISION_MAKER", "1", None),
        (103, "Продукт", "PRODUCT", "CRM", 5_001),
        (104, "utm_source", "UTM_SOURCE", "google", None),
        (105, "utm_campaign", "UTM_CAMPAIGN", "brand-search-2024", None),
    ]
    for i, (field_id, name, code, value, enum) in enumerate(fields):
        base = f"{prefix}[custom_fields][{i}]"
        pairs += [(f"{base}[id]", field_id), (f"{base}[name]", name), (f"{base}[code]", code)]
        pairs.append((f"{base}[values][0][value]", value))
        if enum:
            pairs.append((f"{base}[values][0][enum]", enum))
    pairs += [("account[subdomain]", "bench"), ("account[id]", BENCH_ACCOUNT)]
    return urlencode(pairs).encode()


# --- servers (each in its own process) --------------------------------------------------------------------


def _bare_app() -> Any:
    """A FastAPI endpoint that reads the body and answers 200: the ceiling for any receiver."""
    app = FastAPI()
    app.add_api_route("/webhooks/amocrm/{account_key}", _bare_receive, methods=["POST"])
    app.add_api_route("/healthz", _bare_healthz, methods=["GET"])
    return app


async def _bare_receive(account_key: str, request: Request) -> Response:
    await request.body()
    return Response(status_code=200)


async def _bare_healthz() -> dict[str, str]:
    return {"status": "ok"}


def _serve(
    kind: str, port: int, database_url: str, data_dir: str, worker: bool, sandbox_url: str, gc_freeze: bool
) -> None:
    import logging

    import uvicorn

    logging.disable(logging.WARNING)
    if kind == "bare":
        app = _bare_app()
    else:
        from leadpact.app import create_app
        from webhooks.worker import run_worker

        app = create_app(
            _settings(database_url, data_dir, sandbox_url, port), background=(run_worker,) if worker else ()
        )
    if gc_freeze:
        # What a long-running server does after start-up: keep the import-time heap out of every full GC pass.
        gc.freeze()
    # Spelled out (not "auto") so both servers surely run the same event loop and HTTP parser.
    uvicorn.run(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False, **UVICORN_IMPLEMENTATIONS
    )


def _uvicorn_implementations() -> dict[str, str]:
    try:
        import httptools  # noqa: F401
        import uvloop  # noqa: F401
    except ImportError:
        return {"loop": "asyncio", "http": "h11"}
    return {"loop": "uvloop", "http": "httptools"}


UVICORN_IMPLEMENTATIONS = _uvicorn_implementations()


def _settings(database_url: str, data_dir: str, sandbox_url: str, port: int) -> Any:
    from integration.settings import Settings

    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        data_dir=Path(data_dir),
        secret_key="bench-secret-key-not-for-production",  # type: ignore[arg-type]  # noqa: S106
        amocrm_base_url=sandbox_url or None,
        public_url=f"http://127.0.0.1:{port}",
        worker_poll_seconds=0.05,
    )


@contextmanager
def server_process(
    kind: str,
    database_url: str,
    data_dir: str,
    *,
    worker: bool = False,
    sandbox_url: str = "",
    gc_freeze: bool = False,
) -> Iterator[tuple[str, int, int]]:
    from integration.servers import free_port

    port = free_port()
    context = multiprocessing.get_context("spawn")
    process = context.Process(
        target=_serve, args=(kind, port, database_url, data_dir, worker, sandbox_url, gc_freeze), daemon=True
    )
    process.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or not process.is_alive():
            raise RuntimeError(f"{kind} server did not start")
        time.sleep(0.1)
    try:
        yield url, port, process.pid or 0
    finally:
        process.terminate()
        process.join(10)


# --- load (this process): keep-alive HTTP/1.1 over asyncio streams ----------------------------------------


@dataclass(frozen=True)
class AckResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    statuses: dict[int, int]
    server_cpu_ms: float = 0.0  # server process CPU per request (user + system)

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


_STATUS = re.compile(rb"HTTP/1\.1 (\d{3})")


async def _connection_worker(
    port: int, path: str, body: bytes, todo: list[int], latencies: list[float], statuses: dict[int, int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: amoCRM-WebHook-client/1.0\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    try:
        while todo:
            todo.pop()
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            match = _STATUS.match(head)
            code = int(match.group(1)) if match else 0
            statuses[code] = statuses.get(code, 0) + 1
    finally:
        writer.close()


async def _load(port: int, path: str, body: bytes, requests: int, concurrency: int) -> AckResult:
    warmup: list[float] = []
    await asyncio.gather(
        *(_connection_worker(port, path, body, list(range(20)), warmup, {}) for _ in range(concurrency))
    )
    todo = list(range(requests))
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    started = time.perf_counter()
    await asyncio.gather(
        *(_connection_worker(port, path, body, todo, latencies, statuses) for _ in range(concurrency))
    )
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return AckResult(
        requests=len(latencies),
        seconds=elapsed,
        p50_ms=statistics.median(ordered) * 1000,
        p99_ms=ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        statuses=statuses,
    )


# --- databases --------------------------------------------------------------------------------------------


@contextmanager
def fresh_database(base_url: str | None, workdir: Path) -> Iterator[str]:
    """A new, migrated database: a SQLite file in `workdir`, or a throw-away PostgreSQL database."""
    from integration.db import make_engine, upgrade

    if not base_url:
        url = f"sqlite:///{workdir / f'bench-{uuid.uuid4().hex[:6]}.db'}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
        return
    admin_url = make_url(base_url.replace("postgresql://", "postgresql+psycopg://"))
    name = f"lp_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def add_bench_account(database_url: str) -> None:
    from integration.db import make_engine, session_scope
    from integration.storage.accounts import Account

    engine = make_engine(database_url)
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        session.add(
            Account(
                id=BENCH_ACCOUNT,
                subdomain="bench",
                base_url="http://amo.invalid",
                webhook_key=BENCH_KEY,
                created_at=now,
                updated_at=now,
            )
        )
    engine.dispose()


def inbox_counts(database_url: str) -> tuple[int, int]:
    """(deliveries, events) stored in the inbox."""
    from integration.db import make_engine

    engine = make_engine(database_url)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT count(*), coalesce(sum(event_count), 0) FROM inbox_items")).one()
    engine.dispose()
    return int(row[0]), int(row[1])


def pending_count(database_url: str) -> int:
    from integration.db import make_engine

    engine = make_engine(database_url)
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM inbox_items WHERE status = 'pending'")).scalar_one()
    engine.dispose()
    return int(count)


# --- part 1: acknowledgement ------------------------------------------------------------------------------


def bench_ack(
    database_url: str, workdir: Path, requests: int, concurrency: int, gc_freeze: bool
) -> dict[str, AckResult]:
    add_bench_account(database_url)
    body = update_lead_body(4242)
    path = f"/webhooks/amocrm/{BENCH_KEY}"
    results: dict[str, AckResult] = {}
    for kind in ("bare", "receiver"):
        with server_process(kind, database_url, str(workdir / "data"), gc_freeze=gc_freeze) as (
            _url,
            port,
            pid,
        ):
            cpu_before = _cpu_seconds(pid)
            result = asyncio.run(_load(port, path, body, requests, concurrency))
            cpu_used = _cpu_seconds(pid) - cpu_before
            results[kind] = replace(result, server_cpu_ms=cpu_used * 1000 / max(1, result.requests))
    deliveries, _events = inbox_counts(database_url)
    stored = results["receiver"].statuses.get(200, 0)
    assert deliveries >= stored, f"receiver answered 200 {stored} times but stored {deliveries}"
    return results


# --- part 2: end to end against the sandbox ---------------------------------------------------------------


@dataclass(frozen=True)
class EndToEnd:
    people_events: int
    events_delivered: int
    seconds: float
    leadpact_calls: int
    leads: int
    leads_classified: int
    first_lead_seconds: float
    burst_events: int
    burst_seconds: float
    burst_calls: int

    @property
    def events_per_second(self) -> float:
        return self.events_delivered / self.seconds

    @property
    def calls_per_1000_events(self) -> float:
        return self.leadpact_calls * 1000 / max(1, self.events_delivered)

    @property
    def calls_per_1000_people_events(self) -> float:
        return self.leadpact_calls * 1000 / max(1, self.people_events)


def _cpu_seconds(pid: int) -> float:
    """CPU seconds used so far by the process (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _leadpact_calls(app_url: str) -> int:
    metrics = httpx.get(f"{app_url}/metrics").text
    return int(
        sum(
            float(m)
            for m in re.findall(r"^leadpact_amocrm_requests_total\{[^}]*\} ([0-9.e+]+)$", metrics, re.M)
        )
    )


async def _drive_people(
    database_url: str, workdir: Path, sandbox_url: str, app_url: str, port: int
) -> EndToEnd:
    from pydantic import SecretStr

    from integration.bootstrap import build_services
    from integration.install import install_with_long_lived_token

    rng = random.Random(7)
    settings = _settings(database_url, str(workdir / "data"), sandbox_url, port).model_copy(
        update={"rate_limit_per_second": 40.0}
    )
    async with (
        httpx.AsyncClient(base_url=sandbox_url, timeout=60) as sandbox,
        build_services(settings, migrate=False) as people,
    ):
        created = (await sandbox.post("/_sandbox/accounts", json={"subdomain": "acme"})).json()
        token = (await sandbox.post("/_sandbox/tokens/long-lived", json={"account_id": created["id"]})).json()
        installed = await install_with_long_lived_token(
            people, host=token["host"], token=SecretStr(token["access_token"])
        )
        api = people.connector.api_for(installed.account_id)
        pipelines = await api.list_pipelines()
        statuses = [s.id for s in pipelines[0].statuses if s.id not in (142, 143)] if pipelines else []
        await sandbox.post("/_sandbox/faults", json={"webhook_duplicate_rate": 0.1})
        calls_before = _leadpact_calls(app_url)

        # One lead alone first: how long until a person sees its LeadPact tags.
        started = time.monotonic()
        (probe,) = await api.create_leads([{"name": "Проба", "price": 90_000}])
        while True:
            lead = await api.get_lead(probe)
            if any(tag.name.startswith("level:") for tag in lead.embedded.tags):
                break
            await asyncio.sleep(0.05)
        first_lead_seconds = time.monotonic() - started

        started = time.monotonic()
        people_events = 1
        lead_ids: list[int] = [probe]
        for wave in range(6):  # forms and imports: 50 leads per request
            batch = [
                {"name": f"Lead {wave}-{i}", "price": rng.choice([0, 20_000, 80_000, 300_000])}
                for i in range(50)
            ]
            lead_ids += await api.create_leads(batch)
            people_events += len(batch)
            for _ in range(4):  # managers editing prices, a few leads at a time
                chosen = rng.sample(lead_ids, 25)
                await api.update_leads(
                    [{"id": i, "price": rng.choice([10_000, 90_000, 500_000])} for i in chosen]
                )
                people_events += len(chosen)
                await asyncio.sleep(0.05)
            if statuses:  # and moving deals along the funnel
                chosen = rng.sample(lead_ids, 30)
                await api.update_leads([{"id": i, "status_id": rng.choice(statuses)} for i in chosen])
                people_events += len(chosen)
        seconds = await _settle(sandbox, database_url) - started
        calls = _leadpact_calls(app_url) - calls_before
        state = (await sandbox.get("/_sandbox/state", params={"account_id": installed.account_id})).json()
        classified = sum(
            1
            for lead in state["leads"]
            if any(t["name"].startswith("level:") for t in lead["_embedded"]["tags"])
        )
        _deliveries, events = inbox_counts(database_url)

        # A burst: every lead's price changes 8 times in quick succession (imports, mass edits); levels flip
        # between rounds, so LeadPact really has to write. Applied events per second, end to end.
        burst_started = time.monotonic()
        burst_calls_before = _leadpact_calls(app_url)
        burst_events = 0
        for round_ in range(8):
            price = 500_000 if round_ % 2 else 5_000
            for start in range(0, len(lead_ids), 250):
                chunk = lead_ids[start : start + 250]
                await api.update_leads([{"id": i, "price": price} for i in chunk])
                burst_events += len(chunk)
        await _settle(sandbox, database_url)
        burst_seconds = time.monotonic() - burst_started - 1.5
        burst_calls = _leadpact_calls(app_url) - burst_calls_before
        return EndToEnd(
            burst_events=burst_events,
            burst_seconds=burst_seconds,
            burst_calls=burst_calls,
            people_events=people_events,
            events_delivered=events,
            seconds=seconds,
            leadpact_calls=calls,
            leads=len(state["leads"]),
            leads_classified=classified,
            first_lead_seconds=first_lead_seconds,
        )


async def _settle(sandbox: httpx.AsyncClient, database_url: str) -> float:
    """Wait until the sandbox has delivered everything and the inbox stayed empty for 1.5 s; when it emptied."""
    quiet_since = None
    while True:
        await sandbox.post("/_sandbox/webhooks/flush", params={"wait_seconds": 60})
        if pending_count(database_url) == 0:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since > 1.5:
                return quiet_since
        else:
            quiet_since = None
        await asyncio.sleep(0.1)


def bench_end_to_end(database_url: str, workdir: Path) -> EndToEnd:
    from amocrm_sandbox import SandboxConfig, create_sandbox_app
    from integration.servers import serve_in_thread

    # The sandbox's per-account limit is raised so the people simulated here do not eat LeadPact's 7/s.
    sandbox_app = create_sandbox_app(SandboxConfig(rate_limit_per_second=60.0))
    with (
        serve_in_thread(sandbox_app) as sandbox_url,
        server_process(
            "receiver", database_url, str(workdir / "data"), worker=True, sandbox_url=sandbox_url
        ) as (app_url, port, _pid),
    ):
        return asyncio.run(_drive_people(database_url, workdir, sandbox_url, app_url, port))


# --- report -----------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--skip-e2e", action="store_true")
    parser.add_argument("--gc-freeze", action="store_true", help="gc.freeze() in both servers before serving")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run the ack part N times (fresh database each) and keep each side's best",
    )
    args = parser.parse_args()
    backend = "PostgreSQL" if args.database_url else "SQLite"
    with tempfile.TemporaryDirectory(prefix="leadpact-bench-") as tmp:
        workdir = Path(tmp)
        with fresh_database(args.database_url, workdir) as url:
            ack = bench_ack(url, workdir, args.requests, args.concurrency, args.gc_freeze)
        for _ in range(args.repeat - 1):
            with fresh_database(args.database_url, workdir) as url:
                again = bench_ack(url, workdir, args.requests, args.concurrency, args.gc_freeze)
            ack = {kind: max(ack[kind], again[kind], key=lambda result: result.per_second) for kind in ack}
        bare, receiver = ack["bare"], ack["receiver"]
        print(f"# Webhook bench — {backend}, {os.cpu_count()} CPUs, {args.requests} requests, "
              f"{args.concurrency} connections, uvicorn 1 process ({UVICORN_IMPLEMENTATIONS['loop']}, "
              f"{UVICORN_IMPLEMENTATIONS['http']}){', gc.freeze()' if args.gc_freeze else ''}"
              f"{f', best of {args.repeat}' if args.repeat > 1 else ''}; load average {os.getloadavg()[0]:.2f}")  # fmt: skip
        print(f"{'':24}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'server CPU ms/req':>19}  statuses")
        for name, result in (("bare FastAPI endpoint", bare), ("LeadPact receiver", receiver)):
            print(
                f"{name:24}{result.per_second:>8.0f}{result.p50_ms:>9.2f}{result.p99_ms:>9.2f}"
                f"{result.server_cpu_ms:>19.3f}  {result.statuses}"
            )
        print(f"receiver / bare throughput: {receiver.per_second / bare.per_second:.0%}")
        if args.skip_e2e:
            return
        with fresh_database(args.database_url, workdir) as url:
            e2e = bench_end_to_end(url, workdir)
        print(f"first lead: fields and tags visible after {e2e.first_lead_seconds:.2f} s")
        print(
            f"end to end: {e2e.events_delivered} lead events delivered ({e2e.people_events} from people, the rest "
            f"duplicates and echoes of our writes) applied in {e2e.seconds:.1f} s = "
            f"{e2e.events_per_second:.0f} events/s; {e2e.leads_classified}/{e2e.leads} leads classified"
        )
        print(
            f"amoCRM API calls by LeadPact: {e2e.leadpact_calls} = {e2e.calls_per_1000_events:.1f} per 1000 events "
            f"delivered ({e2e.calls_per_1000_people_events:.1f} per 1000 people's events; naive GET+PATCH: 2000)"
        )
        print(
            f"burst: {e2e.burst_events} price edits on {e2e.leads} leads applied in {e2e.burst_seconds:.1f} s = "
            f"{e2e.burst_events / e2e.burst_seconds:.0f} events/s end to end, {e2e.burst_calls} amoCRM calls "
            f"({e2e.burst_calls * 1000 / e2e.burst_events:.1f} per 1000 events)"
        )


if __name__ == "__main__":
    main()
