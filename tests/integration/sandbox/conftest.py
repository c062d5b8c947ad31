"""Helpers for talking to a sandbox over real HTTP: start one, install into an account, capture its webhooks."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import httpx
import pytest
from fastapi import FastAPI, Request, Response

from amocrm_sandbox import SandboxConfig, SandboxState, create_sandbox_app
from integration.servers import serve_in_thread

# Body-format tests read one body per write, in the order of the writes: one sender, no coalescing, no jitter.
# Delivery as amoCRM does it (several senders, coalesced bodies, out of order) uses the sandbox's defaults.
FAST = SandboxConfig(
    rate_limit_per_second=10_000,
    webhook_retry_scale=0.0,
    webhook_timeout=1.0,
    webhook_senders=1,
    webhook_coalesce=False,
    webhook_sender_jitter=0.0,
)


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
class ReceiverServer:
    """An in-process webhook receiver shared by the session; each test reads only its own path."""

    base_url: str = ""
    statuses: dict[str, int] = field(default_factory=dict)
    received: list[tuple[str, dict[str, str], list[tuple[str, str]]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/hook/{name}")
        async def hook(request: Request, name: str) -> Response:
            body = (await request.body()).decode()
            with self.lock:
                self.received.append((name, dict(request.headers), parse_qsl(body, keep_blank_values=True)))
            return Response(status_code=self.statuses.get(name, 200))

        return app


@dataclass
class Receiver:
    """This test's view of the receiver: its own URL, answer status and received hooks."""

    server: ReceiverServer
    name: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def status(self) -> int:
        return self.server.statuses.get(self.name, 200)

    @status.setter
    def status(self, value: int) -> None:
        self.server.statuses[self.name] = value

    def url(self) -> str:
        return f"{self.server.base_url}/hook/{self.name}"

    @property
    def received(self) -> list[tuple[dict[str, str], list[tuple[str, str]]]]:
        with self.server.lock:
            return [(headers, pairs) for name, headers, pairs in self.server.received if name == self.name]

    def bodies(self) -> list[dict[str, str]]:
        return [dict(pairs) for _, pairs in self.received]

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict[str, str]]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.bodies()


@pytest.fixture(scope="session")
def _sandbox_server() -> Iterator[tuple[FastAPI, str]]:
    """One sandbox server for the session; each test resets it to a fresh world."""
    app = create_sandbox_app(FAST)
    with serve_in_thread(app) as base_url:
        yield app, base_url


@pytest.fixture
def start_sandbox(_sandbox_server: tuple[FastAPI, str]) -> Iterator[Callable[..., Sandbox]]:
    """Gives a fresh sandbox world (FAST settings plus overrides) on the shared server."""
    app, base_url = _sandbox_server
    with ExitStack() as stack:

        def start(**overrides: Any) -> Sandbox:
            control = stack.enter_context(httpx.Client(base_url=base_url))
            answer = control.post("/_sandbox/reset", json=overrides)
            assert answer.status_code == 200, answer.text
            sandbox = Sandbox(base_url=base_url, state=app.state.sandbox, control=control)
            stack.callback(lambda: [c.close() for c in sandbox._clients])
            return sandbox

        yield start


@pytest.fixture
def sandbox(start_sandbox: Callable[..., Sandbox]) -> Sandbox:
    return start_sandbox()


@pytest.fixture(scope="session")
def _receiver_server() -> Iterator[ReceiverServer]:
    server = ReceiverServer()
    with serve_in_thread(server.app()) as base_url:
        server.base_url = base_url
        yield server


@pytest.fixture
def receiver(_receiver_server: ReceiverServer) -> Receiver:
    return Receiver(_receiver_server)


def code_from(location: str) -> str:
    return parse_qs(urlsplit(location).query)["code"][0]
