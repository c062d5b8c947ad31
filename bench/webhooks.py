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
import contextlib
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
    kind: str,
    port: int,
    database_url: str,
    data_dir: str,
    worker: bool,
    sandbox_url: str,
    gc_freeze: bool,
    reconcile: bool = False,
    overrides: dict[str, Any] | None = None,
) -> None:
    import logging

    import uvicorn

    logging.disable(logging.WARNING)
    if kind == "bare":
        app = _bare_app()
    else:
        from leadpact.app import create_app
        from webhooks.reconcile import run_reconciler
        from webhooks.worker import run_worker

        background: list[Any] = [run_worker] if worker else []
        if reconcile:
            background.append(run_reconciler)
        settings = _settings(database_url, data_dir, sandbox_url, port).model_copy(update=overrides or {})
        app = create_app(settings, background=tuple(background))
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
    reconcile: bool = False,
    overrides: dict[str, Any] | None = None,
) -> Iterator[tuple[str, int, int]]:
    from integration.servers import free_port

    port = free_port()
    context = multiprocessing.get_context("spawn")
    process = context.Process(
        target=_serve,
        args=(kind, port, database_url, data_dir, worker, sandbox_url, gc_freeze, reconcile, overrides),
        daemon=True,
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
    return _metric_total(app_url, "leadpact_amocrm_requests_total")


def _metric_total(app_url: str, name: str) -> int:
    """The sum of a counter over all its labels, from LeadPact's /metrics."""
    metrics = httpx.get(f"{app_url}/metrics").text
    return int(sum(float(m) for m in re.findall(rf"^{name}(?:\{{[^}}]*\}})? ([0-9.e+]+)$", metrics, re.M)))


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


# --- part 3: people at human pace -------------------------------------------------------------------------

# What a person does to one lead, and how often (of 400 edits).
HUMAN_EDITS: tuple[tuple[str, float], ...] = (
    ("field", 0.30),
    ("status", 0.20),
    ("same_status", 0.10),
    ("tag", 0.20),
    ("utm", 0.20),
)
PERSON_TAGS = ("vip", "звонок", "перезвонить", "ответ получен", "сайт")
UTM_SOURCES = ("google", "yandex", "vk", "email", "referral", "tiktok", "gogle", "yandx")
UTM_MEDIUMS = ("cpc", "email", "referral", "organic", "")
NEEDS = ("Нужна CRM для отдела продаж", "Интеграция с телефонией", "")


@dataclass
class HumanRun:
    actions: int
    creations: int
    events_delivered: int
    seconds: float
    leadpact_calls: int
    leads_read: int
    patches: int
    rate_limited: int
    latencies: list[float]
    leads: int
    wrong: list[int]
    unsettled: int
    person_tags_lost: int
    idle_calls_per_round: float
    reconcile_interval: float
    window: float

    @property
    def calls_per_1000_actions(self) -> float:
        return self.leadpact_calls * 1000 / max(1, self.actions)

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


class _Tracker:
    """Watches the sandbox (its control API: not counted as anyone's calls) and times, per lead, how long it
    takes from a person's edit until LeadPact's channel and level tags in amoCRM match what the rules say."""

    def __init__(self, sandbox: httpx.AsyncClient, account_id: int) -> None:
        from rules import default_ruleset

        self._sandbox = sandbox
        self._account_id = account_id
        self._ruleset = default_ruleset()
        self.last_edit: dict[int, float] = {}
        self.pending_since: dict[int, float] = {}
        self.latencies: list[float] = []
        self.wrong: list[int] = []
        self.leads: list[dict[str, Any]] = []

    def edited(self, lead_id: int) -> None:
        self.last_edit[lead_id] = time.monotonic()

    async def poll(self) -> None:
        from rules import classify_lead

        answer = await self._sandbox.get("/_sandbox/state", params={"account_id": self._account_id})
        now = time.monotonic()
        self.leads = answer.json()["leads"]
        wrong: list[int] = []
        moment = datetime.now(UTC)
        for lead in self.leads:
            lead_id = int(lead["id"])
            expected = classify_lead(self._ruleset, lead, now=moment)
            tags = {t["name"] for t in lead["_embedded"]["tags"]}
            ours = {t for t in tags if t.startswith(("channel:", "level:"))}
            if ours == {f"channel:{expected.channel}", f"level:{expected.level}"}:
                since = self.pending_since.pop(lead_id, None)
                if since is not None:
                    self.latencies.append(now - since)
            else:
                wrong.append(lead_id)
                self.pending_since.setdefault(lead_id, self.last_edit.get(lead_id, now))
        self.wrong = wrong

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.poll()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=0.25)


def _human_lead(rng: random.Random, index: int) -> dict[str, Any]:
    fields: list[dict[str, Any]] = [
        {"field_code": "UTM_SOURCE", "values": [{"value": rng.choice(UTM_SOURCES)}]},
        {"field_code": "UTM_MEDIUM", "values": [{"value": rng.choice(UTM_MEDIUMS) or "cpc"}]},
    ]
    if rng.random() < 0.4:
        fields.append({"field_code": "BUDGET", "values": [{"value": str(rng.choice([50_000, 150_000]))}]})
    if rng.random() < 0.3:
        fields.append({"field_code": "NEED", "values": [{"value": NEEDS[0]}]})
    return {
        "name": f"Заявка с сайта #{index}",
        "price": rng.choice([0, 20_000, 90_000]),
        "custom_fields_values": fields,
    }


def _human_edit(
    rng: random.Random, kind: str, lead: dict[str, Any], statuses: list[int]
) -> tuple[dict[str, Any], str | None]:
    """One person's edit of `lead` (its current state) as a PATCH entry, and the tag it adds (if any)."""
    lead_id = int(lead["id"])
    if kind == "field":
        choice = rng.choice(["BUDGET", "NEED", "DECISION_DATE", "DECISION_MAKER", "price", "name"])
        if choice == "price":
            return {"id": lead_id, "price": rng.choice([10_000, 90_000, 500_000])}, None
        if choice == "name":
            return {"id": lead_id, "name": f"{lead['name']} (уточнено)"[:200]}, None
        value: Any = {
            "BUDGET": str(rng.choice([30_000, 120_000, 400_000])),
            "NEED": rng.choice(NEEDS) or "Автоматизация",
            "DECISION_DATE": int(time.time()) + rng.choice([10, 60, 400]) * 86400,
            "DECISION_MAKER": rng.random() < 0.7,
        }[choice]
        return {
            "id": lead_id,
            "custom_fields_values": [{"field_code": choice, "values": [{"value": value}]}],
        }, None
    if kind == "status":
        others = [status for status in statuses if status != lead["status_id"]]
        return {"id": lead_id, "status_id": rng.choice(others)}, None
    if kind == "same_status":
        return {"id": lead_id, "status_id": lead["status_id"]}, None
    if kind == "tag":
        tag = rng.choice(PERSON_TAGS)
        return {"id": lead_id, "tags_to_add": [{"name": tag}]}, tag
    code = rng.choice(["UTM_SOURCE", "UTM_MEDIUM"])
    value = rng.choice(UTM_SOURCES[:6] if code == "UTM_SOURCE" else UTM_MEDIUMS[:4])
    return {"id": lead_id, "custom_fields_values": [{"field_code": code, "values": [{"value": value}]}]}, None


async def _drive_humans(
    database_url: str, workdir: Path, sandbox_url: str, app_url: str, port: int, args: argparse.Namespace
) -> HumanRun:
    from pydantic import SecretStr

    from integration.bootstrap import build_services
    from integration.install import install_with_long_lived_token
    from webhooks.reconcile import reconcile_account

    rng = random.Random(args.seed)
    settings = _settings(database_url, str(workdir / "data"), sandbox_url, port).model_copy(
        update={"rate_limit_per_second": 40.0}
    )
    async with (
        httpx.AsyncClient(base_url=sandbox_url, timeout=60) as sandbox,
        build_services(settings, migrate=False) as people,
    ):
        created = (await sandbox.post("/_sandbox/accounts", json={"subdomain": "acme"})).json()
        # The demo lead fields (BUDGET, NEED, UTM_* …) and managers, no leads.
        await sandbox.post(f"/_sandbox/accounts/{created['id']}/seed", json={"leads": 0, "seed": args.seed})
        token = (await sandbox.post("/_sandbox/tokens/long-lived", json={"account_id": created["id"]})).json()
        installed = await install_with_long_lived_token(
            people, host=token["host"], token=SecretStr(token["access_token"])
        )
        account_id = installed.account_id
        api = people.connector.api_for(account_id)
        pipelines = await api.list_pipelines()
        statuses = [s.id for s in pipelines[0].statuses if s.id not in (142, 143)] if pipelines else []
        if args.drop_rate:
            await sandbox.post("/_sandbox/faults", json={"webhook_drop_rate": args.drop_rate})
        calls_before = _leadpact_calls(app_url)
        read_before = _metric_total(app_url, "leadpact_leads_read_total")
        patched_before = _patch_calls(sandbox_url, sandbox, account_id)
        limited_before = _metric_total(app_url, "leadpact_amocrm_rate_limited_total")
        _deliveries, events_before = inbox_counts(database_url)
        tracker = _Tracker(sandbox, account_id)
        stop = asyncio.Event()
        watcher = asyncio.create_task(tracker.run(stop))
        interval = 1 / args.rate
        started = next_at = time.monotonic()
        person_tags: dict[int, set[str]] = {}
        lead_ids: list[int] = []
        kinds = [kind for kind, _ in HUMAN_EDITS]
        weights = [weight for _, weight in HUMAN_EDITS]
        actions = 0
        for index in range(args.creations + args.edits):
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            next_at += interval
            if index < args.creations:
                (lead_id,) = await api.create_leads([_human_lead(rng, index)])
                lead_ids.append(lead_id)
            else:
                lead_id = rng.choice(lead_ids)
                current = next((lead for lead in tracker.leads if lead["id"] == lead_id), None)
                if current is None:
                    current = (await api.get_lead(lead_id)).model_dump(mode="json", by_alias=True)
                kind = rng.choices(kinds, weights)[0]
                if kind in ("status", "same_status") and not statuses:
                    kind = "tag"
                change, tag = _human_edit(rng, kind, current, statuses)
                await api.update_leads([change])
                if tag:
                    person_tags.setdefault(lead_id, set()).add(tag)
            tracker.edited(lead_id)
            actions += 1
        # Settle: every delivery applied and every lead right (reconciliation heals dropped deliveries).
        deadline = time.monotonic() + args.settle_timeout
        while time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            if pending_count(database_url) == 0 and not tracker.wrong and not tracker.pending_since:
                break
        seconds = time.monotonic() - started
        stop.set()
        await watcher
        await tracker.poll()
        calls = _leadpact_calls(app_url) - calls_before
        leads_read = _metric_total(app_url, "leadpact_leads_read_total") - read_before
        patches = _patch_calls(sandbox_url, sandbox, account_id) - patched_before
        limited = _metric_total(app_url, "leadpact_amocrm_rate_limited_total") - limited_before
        _deliveries, events_after = inbox_counts(database_url)
        lost = sum(
            1
            for lead in tracker.leads
            for tag in person_tags.get(int(lead["id"]), ())
            if tag not in {t["name"] for t in lead["_embedded"]["tags"]}
        )
        # An idle account: reconciliation rounds with nothing changed, counted by the people's own client.
        await reconcile_account(people, account_id)
        idle_before = _requests_of(people, account_id)
        rounds = 3
        for _ in range(rounds):
            await reconcile_account(people, account_id)
        idle_per_round = (_requests_of(people, account_id) - idle_before) / rounds
        return HumanRun(
            actions=actions,
            creations=args.creations,
            events_delivered=events_after - events_before,
            seconds=seconds,
            leadpact_calls=calls,
            leads_read=leads_read,
            patches=patches,
            rate_limited=limited,
            latencies=tracker.latencies,
            leads=len(tracker.leads),
            wrong=tracker.wrong,
            unsettled=len(tracker.pending_since),
            person_tags_lost=lost,
            idle_calls_per_round=idle_per_round,
            reconcile_interval=args.reconcile_interval,
            window=args.window,
        )


def _requests_of(services: Any, account_id: int) -> float:
    value = services.metrics.registry.get_sample_value(
        "leadpact_amocrm_requests_total", {"account_id": str(account_id)}
    )
    return float(value or 0.0)


def _patch_calls(sandbox_url: str, sandbox: httpx.AsyncClient, account_id: int) -> int:
    """PATCH /api/v4/leads calls the sandbox served to anyone (people's edits included; used as a difference)."""
    stats = httpx.get(f"{sandbox_url}/_sandbox/stats", params={"account_id": account_id}).json()
    return int(sum(count for route, count in stats["by_route"].items() if route.startswith("PATCH")))


def bench_human(database_url: str, workdir: Path, args: argparse.Namespace) -> HumanRun:
    from amocrm_sandbox import SandboxConfig, create_sandbox_app
    from integration.servers import serve_in_thread

    # amoCRM's delivery: several senders, ≤ 5 events a body, retries after 2/10/30 s (the sandbox's defaults).
    # The per-account limit is raised so the people simulated here do not eat LeadPact's 7/s.
    sandbox_app = create_sandbox_app(SandboxConfig(rate_limit_per_second=60.0))
    overrides = {
        "writeback_latency_seconds": args.window,
        "reconcile_interval_seconds": args.reconcile_interval,
    }
    with (
        serve_in_thread(sandbox_app) as sandbox_url,
        server_process(
            "receiver",
            database_url,
            str(workdir / "data"),
            worker=True,
            sandbox_url=sandbox_url,
            reconcile=True,
            overrides=overrides,
        ) as (app_url, port, _pid),
    ):
        return asyncio.run(_drive_humans(database_url, workdir, sandbox_url, app_url, port, args))


def report_human(run: HumanRun, backend: str) -> None:
    load = os.getloadavg()
    people_patches = run.actions - run.creations
    our_patches = run.patches - people_patches
    print(
        f"# Human pace — {backend}: {run.creations} leads created one at a time, then {run.actions - run.creations} "
        f"single edits, at {run.actions / max(1e-9, run.seconds):.1f} actions/s over {run.seconds:.0f} s "
        f"(write-back latency {run.window:g} s, reconciliation every {run.reconcile_interval:g} s); load average "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    print(
        f"amoCRM calls by LeadPact: {run.leadpact_calls} = {run.calls_per_1000_actions:.1f} per 1000 people's "
        f"actions ({run.events_delivered} webhook events delivered, echoes included: "
        f"{run.leadpact_calls * 1000 / max(1, run.events_delivered):.1f} per 1000); PATCH /leads by LeadPact "
        f"{our_patches}, leads read {run.leads_read}, 429s {run.rate_limited}"
    )
    print(
        f"edit → LeadPact's tags in amoCRM: p50 {run.percentile(0.5):.2f} s, p95 {run.percentile(0.95):.2f} s, "
        f"max {max(run.latencies, default=float('nan')):.2f} s over {len(run.latencies)} edits that needed a write"
    )
    print(
        f"end state: {run.leads - len(run.wrong)}/{run.leads} leads classified as the rules say"
        f"{f' (wrong: {run.wrong[:10]})' if run.wrong else ''}; person-set tags lost: {run.person_tags_lost}"
    )
    print(
        f"idle account: {run.idle_calls_per_round:.1f} call per reconciliation round = "
        f"{run.idle_calls_per_round * 3600 / run.reconcile_interval + 1:.0f} calls per hour "
        f"(+1: the hourly subscription check)"
    )


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
    parser.add_argument(
        "--scenario",
        choices=("bulk", "human"),
        default="bulk",
        help="bulk: receiver ack + people as bulk API writes (50-lead creates, 25-30-lead PATCHes); human: "
        "people one lead at a time at --rate actions/s, with amoCRM's concurrent, coalescing delivery",
    )
    parser.add_argument("--rate", type=float, default=5.0, help="human: people's actions per second")
    parser.add_argument("--creations", type=int, default=200, help="human: leads created one at a time")
    parser.add_argument("--edits", type=int, default=400, help="human: single edits after the creations")
    parser.add_argument("--window", type=float, default=3.0, help="human: LeadPact's write-back latency (s)")
    parser.add_argument(
        "--reconcile-interval", type=float, default=45.0, help="human: LeadPact's reconciliation interval (s)"
    )
    parser.add_argument("--drop-rate", type=float, default=0.0, help="human: share of deliveries lost")
    parser.add_argument("--settle-timeout", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    backend = "PostgreSQL" if args.database_url else "SQLite"
    with tempfile.TemporaryDirectory(prefix="leadpact-bench-") as tmp:
        workdir = Path(tmp)
        if args.scenario == "human":
            with fresh_database(args.database_url, workdir) as url:
                report_human(bench_human(url, workdir, args), backend)
            return
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
