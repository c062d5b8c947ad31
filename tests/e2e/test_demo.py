"""The README's first command: `leadpact serve` with no amoCRM credentials runs the whole demo on the sandbox."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from integration.servers import free_port

CLI = [sys.executable, "-c", "from leadpact.cli import main; main()"]
URL = re.compile(r"(http://127\.0\.0\.1:\d+\S*)")
READY = re.compile(r"INFO leadpact\.demo: (Демо готово|Demo ready)")


def _env() -> dict[str, str]:
    """This process's environment without amoCRM credentials, database, public URL or a chosen language."""
    skipped = ("AMOCRM_", "DATABASE_URL", "PUBLIC_URL", "LEADPACT_LANGUAGE")
    return {k: v for k, v in os.environ.items() if not k.startswith(skipped)}


@contextmanager
def serving(tmp_path: Path, *options: str) -> Iterator[tuple[str, Path]]:
    """`leadpact serve` with these options in a subprocess without amoCRM credentials: its URL and its log."""
    port = free_port()
    log = tmp_path / "serve.log"
    command = [*CLI, "serve", "--port", str(port), "--sandbox-port", str(free_port())]
    with log.open("w") as out:
        process = subprocess.Popen(
            [*command, *options], cwd=tmp_path, env=_env(), stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield f"http://127.0.0.1:{port}", log
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    with serving(tmp_path) as running:
        yield running


def _sandbox_url(log: Path) -> str:
    """The sandbox's address from the demo's log, once the demo says it is ready."""
    _wait(lambda: READY.search(log.read_text()), within=90, what="the demo to be ready", log=log)
    found = re.search(r"(http://127\.0\.0\.1:\d+)/_sandbox/", log.read_text())
    assert found is not None, log.read_text()[:2000]
    return found.group(1)


def _wait(check: Any, *, within: float, what: str, log: Path) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            result = check()
        except httpx.TransportError:
            result = None
        if result:
            return result
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}; log:\n{log.read_text()[-3000:]}")


@pytest.mark.slow
class TestDemo:
    def test_serve_installs_into_the_sandbox_and_classifies_its_leads(self, demo: tuple[str, Path]) -> None:
        """Within seconds of `leadpact serve` every demo lead (600, the default) carries LeadPact's level, every
        webhook the sandbox sent was taken — the echo of our first write-back to 600 leads is a ~3.6 MB body — and
        the pages answer."""
        public, log = demo
        sandbox = _sandbox_url(log)

        def classified() -> bool:
            state = httpx.get(f"{sandbox}/_sandbox/state", timeout=10).json()
            codes = [
                {f.get("field_code") for f in lead.get("custom_fields_values") or ()}
                for lead in state["leads"]
            ]
            return len(codes) == 600 and all("LEADPACT_LEVEL" in c for c in codes)

        _wait(classified, within=60, what="every demo lead to be classified", log=log)
        httpx.post(f"{sandbox}/_sandbox/webhooks/flush", params={"wait_seconds": 30}, timeout=40)
        webhooks = httpx.get(f"{sandbox}/_sandbox/stats", timeout=10).json()
        assert webhooks["webhooks_sent"] >= 1 and webhooks["webhooks_failed"] == 0, webhooks
        received = re.findall(
            r'^leadpact_webhooks_received_total\{outcome="(\w+)"\} ',
            httpx.get(f"{public}/metrics").text,
            re.M,
        )
        assert received == ["stored"]
        home = httpx.get(public, params={"lang": "en"})
        assert home.status_code == 200 and "demo" in home.text
        with httpx.Client(base_url=public, follow_redirects=True, timeout=30) as browser:
            admin = browser.get("/demo/admin")
            assert admin.status_code == 200 and "<form" in admin.text
            report = browser.get("/reports/weekly")
            assert report.status_code == 200 and "<svg" in report.text


@pytest.mark.slow
class TestRealisticDemo:
    def test_serve_can_run_the_demo_on_the_realistic_account(self, tmp_path: Path) -> None:
        """`leadpact serve --demo-account realistic` installs LeadPact into the hand-made account (fields without
        codes, «ЛПР» a select) and writes LeadPact's fields to its leads."""
        with serving(tmp_path, "--demo-account", "realistic", "--demo-leads", "40") as (public, log):
            sandbox = _sandbox_url(log)
            state = httpx.get(f"{sandbox}/_sandbox/state", timeout=10).json()
            fields = {f["name"]: f for f in state["fields"]["leads"]}

            def written_back() -> bool:
                leads = httpx.get(f"{sandbox}/_sandbox/state", timeout=10).json()["leads"]
                codes = [
                    {f.get("field_code") for f in lead.get("custom_fields_values") or ()} for lead in leads
                ]
                return len(codes) == 40 and all("LEADPACT_LEVEL" in c for c in codes)

            _wait(written_back, within=60, what="every realistic lead to get LeadPact's fields", log=log)
            home = httpx.get(public, params={"lang": "en"})
        assert state["account"]["subdomain"] == "realistic"
        assert fields["ЛПР"]["type"] == "select" and fields["ЛПР"]["code"] is None
        assert fields["Бюджет клиента"]["code"] is None
        assert home.status_code == 200 and "/demo/admin" in home.text and "realistic" not in home.text


@pytest.mark.slow
class TestDemoForAPerson:
    def test_the_logged_urls_come_first_and_open_without_a_sign_in(self, demo: tuple[str, Path]) -> None:
        """The log opens with the five URLs a person opens and has no warning; each URL answers 200 with no 401 on
        the way, the report shows the pace, the coverage and a channel within the norm, and the lead card loads
        the widget."""
        public, log = demo
        _sandbox_url(log)
        lines = log.read_text().splitlines()
        urls = [m.group(1) for line in lines[:6] if (m := URL.search(line))]
        assert len(urls) == 5 and all(" INFO " in line for line in lines[:6]), lines[:7]
        admin, report, sales_head, card, sandbox_state = urls
        assert admin == f"{public}/demo/admin" and card == f"{public}/demo/lead-card"
        # Nothing the demo does on purpose (its own sandbox's rate limit, its coupon pools) is a warning.
        assert not re.findall(r"^.* (WARNING|ERROR) .*$", log.read_text(), re.M)
        with httpx.Client(follow_redirects=True, timeout=30) as browser:
            pages = {url: browser.get(httpx.URL(url).copy_merge_params({"lang": "en"})) for url in urls}
            for url, page in pages.items():
                assert page.status_code == 200, (url, page.status_code)
                assert all(step.status_code != 401 for step in page.history), (url, page.history)
            text = re.sub(r"<[^>]+>", " ", pages[report].text)
            assert "within norm" in text and "below norm" in text, "the agreed norm splits the channels"
            assert re.search(r"Deals \d+ [\d.]+ [1-9]", " ".join(text.split())), "last week's deals"
            assert "4. Manager conversion" in text and "5. Cost per lead" in text
            assert "Sales disputed these classifications" in text, "the seeded disputes are counted"
            flat = " ".join(text.split())
            assert "Speed to lead" in flat and re.search(r"\d+ (min|h|d)\b[^|]*? \d+ of \d+", flat), (
                "speed to lead: a median per manager from the seeded first calls"
            )
            assert "Sign out" in pages[sales_head].text
            assert re.search(r"Leads[^%]{0,40}?[1-9]\d*%", " ".join(text.split())), "a run rate in %"
            assert re.search(r"coverage of the remaining plan: [1-9][\d ]*%", text)
            assert (
                "weighted by stage win rate: " in text and "unknown" not in text.split("weighted by")[1][:40]
            )
            assert "<script src=" in pages[card].text and "/demo/widget/script.js" in pages[card].text
            assert "LeadPact" in pages[sandbox_state].text and "<table" in pages[sandbox_state].text
            home = browser.get(public, params={"lang": "en"})
            links = re.findall(r"href='(/[^']*)'", home.text)
            for link in links:
                if link.startswith("/metrics"):
                    continue  # guarded by its own token when one is configured
                answer = browser.get(f"{public}{link}")
                assert answer.status_code == 200 and all(s.status_code != 401 for s in answer.history), link
            refused = httpx.get(f"{public}/reports/weekly", params={"lang": "en"})
            assert refused.status_code == 401 and "/demo/admin?next=%2Freports%2Fweekly" in refused.text

    def test_cli_works_on_the_running_demo_without_flags(self, demo: tuple[str, Path]) -> None:
        """`leadpact accounts list` and `leadpact backfill`, run where the demo runs, use its database and
        account; no `./leadpact.db` appears."""
        _public, log = demo
        _sandbox_url(log)
        cwd = log.parent
        listed = subprocess.run(
            [*CLI, "accounts", "list"],
            cwd=cwd,
            env=_env() | {"COLUMNS": "200"},
            capture_output=True,
            text=True,
        )
        assert listed.returncode == 0 and "31000001" in listed.stdout, listed.stdout + listed.stderr
        backfilled = subprocess.run([*CLI, "backfill"], cwd=cwd, env=_env(), capture_output=True, text=True)
        assert backfilled.returncode == 0, backfilled.stdout + backfilled.stderr
        assert re.search(r"(Загружено лидов|Leads loaded): [1-9]", backfilled.stdout), backfilled.stdout
        assert not (cwd / "leadpact.db").exists()
