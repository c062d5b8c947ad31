"""A live LeadPact installation for tests: the sandbox and the LeadPact app, each on a real port."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import SecretStr

from amocrm_sandbox import SandboxConfig, create_sandbox_app
from integration.servers import free_port, serve_in_thread
from integration.settings import Settings
from leadpact.app import BackgroundTask, Services, create_app

CLIENT_ID = "leadpact-test"
CLIENT_SECRET = "client-secret-9f3b7c1e"


@dataclass
class Live:
    settings: Settings
    public_url: str
    sandbox_url: str
    app: Any
    sandbox_app: Any
    accounts: dict[str, int] = field(default_factory=dict)
    app_loops: list[asyncio.AbstractEventLoop] = field(default_factory=list)

    @property
    def services(self) -> Services:
        services: Services = self.app.state.services
        return services

    def sandbox(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(method, f"{self.sandbox_url}{path}", timeout=30, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def create_account(self, subdomain: str, *, leads: int = 0, plan: str = "advanced") -> int:
        data = self.sandbox(
            "POST",
            "/_sandbox/accounts",
            json={"subdomain": subdomain, "seed_demo": True, "leads": leads, "plan": plan},
        )
        return int(data["id"])

    def install(self, subdomain: str, *, provision: bool = True) -> httpx.Response:
        """Walks the OAuth flow like a browser: our /oauth/start → sandbox consent → our callback; then, unless
        told not to, runs the provisioning job once as a replica's scheduler would."""
        with httpx.Client(timeout=30) as browser:
            start = browser.get(f"{self.public_url}/oauth/start")
            assert start.status_code == 302, start.text
            consent = browser.get(start.headers["location"] + f"&account={subdomain}")
            assert consent.status_code in (302, 303, 307), consent.text
            page = browser.get(consent.headers["location"])
        if provision and page.status_code == 200:
            self.provision()
        return page

    def provision(self, *, now: float | None = None) -> list[Any]:
        """One tick of the provisioning job (every due account) in the app itself, as its scheduler would run it:
        on the app's event loop, with its services (its metrics count the calls)."""
        from integration.install import provision_due_accounts
        from leadpact.scheduler import PROVISIONING_STEPS

        (loop,) = self.app_loops
        tick = provision_due_accounts(self.services, PROVISIONING_STEPS, now=now)
        return list(asyncio.run_coroutine_threadsafe(tick, loop).result(timeout=120))

    def stats(self, account_id: int) -> dict[str, Any]:
        result: dict[str, Any] = self.sandbox("GET", f"/_sandbox/stats?account_id={account_id}")
        return result

    def state(self, account_id: int) -> dict[str, Any]:
        result: dict[str, Any] = self.sandbox("GET", f"/_sandbox/state?account_id={account_id}")
        return result


@contextmanager
def live_installation(
    settings: Settings,
    *,
    background: tuple[BackgroundTask, ...] = (),
    sandbox: dict[str, Any] | None = None,
    overrides: dict[str, Any] | None = None,
) -> Iterator[Live]:
    app_port = free_port()
    public_url = f"http://127.0.0.1:{app_port}"
    config = SandboxConfig(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uri=f"{public_url}/oauth/callback",
        **(sandbox or {}),
    )
    sandbox_app = create_sandbox_app(config)
    with ExitStack() as stack:
        sandbox_url = stack.enter_context(serve_in_thread(sandbox_app))
        live_settings = settings.model_copy(
            update={
                "amocrm_client_id": CLIENT_ID,
                "amocrm_client_secret": SecretStr(CLIENT_SECRET),
                "amocrm_redirect_uri": f"{public_url}/oauth/callback",
                "amocrm_base_url": sandbox_url,
                "amocrm_authorize_url": f"{sandbox_url}/oauth",
                "public_url": public_url,
                **(overrides or {}),
            }
        )
        loops: list[asyncio.AbstractEventLoop] = []

        async def remember_loop(services: Services, stop: asyncio.Event) -> None:
            # Lets the test run coroutines on the app's own event loop (`Live.provision`).
            loops.append(asyncio.get_running_loop())
            await stop.wait()

        app = create_app(live_settings, background=(*background, remember_loop))
        stack.enter_context(serve_in_thread(app, port=app_port))
        yield Live(
            settings=live_settings,
            public_url=public_url,
            sandbox_url=sandbox_url,
            app=app,
            sandbox_app=sandbox_app,
            app_loops=loops,
        )


def own_services(live: Live) -> Any:
    """Services for the test's own event loop (like a second replica sharing the database)."""
    from integration.bootstrap import build_services

    return build_services(live.settings, migrate=False)
