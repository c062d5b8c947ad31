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


@contextmanager
def serving(tmp_path: Path, *options: str) -> Iterator[tuple[str, Path]]:
    """`leadpact serve` with these options in a subprocess without amoCRM credentials: its URL and its log."""
    port = free_port()
    log = tmp_path / "serve.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AMOCRM_", "DATABASE_URL", "PUBLIC_URL"))}
    command = [sys.executable, "-c", "from leadpact.cli import main; main()", "serve", "--port", str(port)]
    with log.open("w") as out:
        process = subprocess.Popen(
            [*command, *options], cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT
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
    found: str = _wait(
        lambda: (m := re.search(r"(http://127\.0\.0\.1:\d+)/_sandbox/state", log.read_text())) and m.group(1),
        within=90,
        what="the demo to be ready",
        log=log,
    )
    return found


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
        """Within seconds of `leadpact serve` every demo lead (200, the default) carries LeadPact's level, every
        webhook the sandbox sent was taken — the echo of our first write-back to 200 leads is a ~1.2 MB body — and
        the pages answer."""
        public, log = demo
        sandbox = _sandbox_url(log)

        def classified() -> bool:
            state = httpx.get(f"{sandbox}/_sandbox/state", timeout=10).json()
            codes = [
                {f.get("field_code") for f in lead.get("custom_fields_values") or ()}
                for lead in state["leads"]
            ]
            return len(codes) == 200 and all("LEADPACT_LEVEL" in c for c in codes)

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
