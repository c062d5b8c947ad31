"""A whole LeadPact over real HTTP for tests: the amoCRM sandbox, our app (receiver + optional worker) and
an account installed into the sandbox with a long-lived token."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr

from amocrm_sandbox import SandboxConfig, create_sandbox_app
from integration.bootstrap import Services, build_services
from integration.install import install_with_long_lived_token
from integration.servers import free_port, serve_in_thread
from integration.settings import Settings
from leadpact.app import create_app
from webhooks.reconcile import run_reconciler
from webhooks.worker import process_once, run_worker


@dataclass
class System:
    sandbox_url: str
    app_url: str
    account_id: int
    webhook_key: str
    services: Services  # built in the test's event loop: for installing, calling the API, process_once
    sandbox: httpx.AsyncClient

    async def state(self) -> dict[str, Any]:
        response = await self.sandbox.get("/_sandbox/state", params={"account_id": self.account_id})
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    async def leads(self) -> dict[int, dict[str, Any]]:
        return {int(lead["id"]): lead for lead in (await self.state())["leads"]}

    async def flush_webhooks(self) -> None:
        (await self.sandbox.post("/_sandbox/webhooks/flush", params={"wait_seconds": 15})).raise_for_status()

    async def faults(self, **faults: Any) -> None:
        (await self.sandbox.post("/_sandbox/faults", json=faults)).raise_for_status()

    async def api_requests(self) -> int:
        stats = (await self.sandbox.get("/_sandbox/stats", params={"account_id": self.account_id})).json()
        return int(stats["requests_total"])

    async def create_leads(self, count: int, **fields: Any) -> list[int]:
        api = self.services.connector.api_for(self.account_id)
        return await api.create_leads([{"name": f"Lead {i}", **fields} for i in range(count)])


@contextmanager
def sandbox_server(config: SandboxConfig | None = None) -> Iterator[str]:
    with serve_in_thread(create_sandbox_app(config or SandboxConfig())) as url:
        yield url


@asynccontextmanager
async def running_system(
    settings: Settings,
    *,
    worker: bool = True,
    sandbox_config: SandboxConfig | None = None,
    reconcile: bool = False,
    window: float | None = None,
) -> AsyncIterator[System]:
    """Sandbox + our app on real ports, with one installed account; the worker (and the reconciler) run in the
    app when asked, the worker with a write-back window of `window` seconds (else the settings' own)."""
    with sandbox_server(sandbox_config) as sandbox_url:
        async with httpx.AsyncClient(base_url=sandbox_url, timeout=30) as sandbox:
            # The demo fields (BUDGET, …, UTM_*) give the account what the default rules read, found by code.
            created = (
                await sandbox.post(
                    "/_sandbox/accounts", json={"subdomain": "acme", "seed_demo": True, "leads": 0}
                )
            ).json()
            token = (
                await sandbox.post("/_sandbox/tokens/long-lived", json={"account_id": created["id"]})
            ).json()
            port = free_port()
            app_settings = settings.model_copy(
                update={
                    "amocrm_base_url": sandbox_url,
                    "public_url": f"http://127.0.0.1:{port}",
                    "worker_poll_seconds": 0.05,
                    **({} if window is None else {"writeback_latency_seconds": window}),
                }
            )
            background: list[Any] = [run_worker] if worker else []
            if reconcile:
                background.append(run_reconciler)
            app = create_app(app_settings, background=tuple(background))
            with serve_in_thread(app, port=port) as app_url:
                async with build_services(app_settings) as services:
                    installed = await install_with_long_lived_token(
                        services, host=token["host"], token=SecretStr(token["access_token"])
                    )
                    key = _webhook_key(services, installed.account_id)
                    yield System(
                        sandbox_url=sandbox_url,
                        app_url=app_url,
                        account_id=installed.account_id,
                        webhook_key=key,
                        services=services,
                        sandbox=sandbox,
                    )


def _webhook_key(services: Services, account_id: int) -> str:
    from integration.db import session_scope
    from integration.storage.accounts import Account

    with session_scope(services.engine) as session:
        account = session.get(Account, account_id)
        assert account is not None
        return account.webhook_key


async def wait_for(
    check: Callable[[], Any], *, within: float = 5.0, interval: float = 0.05, what: str = "condition"
) -> Any:
    """Poll an async `check` until it returns something truthy; fails the test after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(interval)


def field_value(lead: dict[str, Any], field_id: int) -> Any:
    for entry in lead.get("custom_fields_values") or ():
        if entry["field_id"] == field_id:
            values = entry.get("values") or [{}]
            return values[0].get("enum_id", values[0].get("value"))
    return None


def tag_names(lead: dict[str, Any]) -> set[str]:
    return {tag["name"] for tag in (lead.get("_embedded") or {}).get("tags") or ()}


async def drain(system: System, *, passes: int = 200) -> None:
    """Run worker passes until nothing is due."""
    for _ in range(passes):
        if await process_once(system.services) == 0:
            return
    raise AssertionError("inbox did not drain")
