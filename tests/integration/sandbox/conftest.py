"""Helpers for talking to a sandbox over real HTTP: start one, install into an account, capture its webhooks."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import httpx
import pytest
from fastapi import FastAPI, Request, Response

from integration.sandbox import SandboxConfig, SandboxState, create_sandbox_app
from integration.servers import serve_in_thread

FAST = SandboxConfig(rate_limit_per_second=10_000, webhook_retry_delay=0.0, webhook_timeout=1.0)


@dataclass
class Sandbox:
    base_url: str
    state: SandboxState
    control: httpx.Client

    def new_account(self, subdomain: str, *, leads: int = 0) -> int:
        answer = self.control.post("/_sandbox/accounts", json={"subdomain": subdomain, "leads": leads})
        assert answer.status_code == 201, answer.text
        return int(answer.json()["id"])

    def consent(self, subdomain: str, oauth_state: str = "s1") -> dict[str, str]:
        answer = self.control.get(
            "/oauth",
            params={"client_id": self.state.config.client_id, "state": oauth_state, "account": subdomain},
        )
        assert answer.status_code == 302, answer.text
        return dict(parse_qsl(urlsplit(answer.headers["location"]).query))

    def token_request(self, **body: Any) -> httpx.Response:
        config = self.state.config
        payload = {"client_id": config.client_id, "client_secret": config.client_secret, **body}
        return self.control.post("/oauth2/access_token", json=payload)

    def api(self, subdomain: str) -> httpx.Client:
        """An API client for `subdomain`, authorised through the OAuth code flow."""
        code = self.consent(subdomain)["code"]
        tokens = self.token_request(grant_type="authorization_code", code=code).json()
        client = httpx.Client(
            base_url=self.base_url, headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        self._clients.append(client)
        return client

    def flush(self) -> None:
        assert self.control.post("/_sandbox/webhooks/flush").status_code == 200

    _clients: list[httpx.Client] = field(default_factory=list)


@dataclass
class Receiver:
    """An in-process webhook receiver that records what it gets and answers with `status`."""

    base_url: str = ""
    status: int = 200
    received: list[tuple[dict[str, str], list[tuple[str, str]]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/hook/{name}")
        async def hook(request: Request, name: str) -> Response:
            body = (await request.body()).decode()
            with self.lock:
                self.received.append(
                    (dict(request.headers) | {"x-path": name}, parse_qsl(body, keep_blank_values=True))
                )
            return Response(status_code=self.status)

        return app

    def url(self, name: str = "main") -> str:
        return f"{self.base_url}/hook/{name}"

    def bodies(self) -> list[dict[str, str]]:
        with self.lock:
            return [dict(pairs) for _, pairs in self.received]

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict[str, str]]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.bodies()


@pytest.fixture
def start_sandbox() -> Iterator[Callable[..., Sandbox]]:
    """Starts sandboxes (FAST config plus overrides) on real ports; all stop when the test ends."""
    with ExitStack() as stack:

        def start(**overrides: Any) -> Sandbox:
            config = SandboxConfig(
                **{**{n: getattr(FAST, n) for n in FAST.__dataclass_fields__}, **overrides}
            )
            app = create_sandbox_app(config)
            base_url = stack.enter_context(serve_in_thread(app))
            control = stack.enter_context(httpx.Client(base_url=base_url))
            sandbox = Sandbox(base_url=base_url, state=app.state.sandbox, control=control)
            stack.callback(lambda: [c.close() for c in sandbox._clients])
            return sandbox

        yield start


@pytest.fixture
def sandbox(start_sandbox: Callable[..., Sandbox]) -> Sandbox:
    return start_sandbox()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    recorder = Receiver()
    with serve_in_thread(recorder.app()) as base_url:
        recorder.base_url = base_url
        yield recorder


def code_from(location: str) -> str:
    return parse_qs(urlsplit(location).query)["code"][0]
