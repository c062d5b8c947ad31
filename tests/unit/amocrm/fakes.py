"""A tiny stateful amoCRM behind `httpx.MockTransport`, plus the clocks and sleeps the client is given."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import SecretStr

from integration.amocrm import AmoClient, InMemoryTokenStore, OAuthApp, TokenPair

BASE_URL = "https://acme.amocrm.ru"
ACCOUNT_ID = 31_000_001
CLIENT_SECRET = "client-secret-Zq81"
APP = OAuthApp(
    client_id="client-id", client_secret=SecretStr(CLIENT_SECRET), redirect_uri="https://lp.test/oauth"
)
START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

# Returns the answer for the request, None to let the normal routes answer, or raises a transport error.
Handler = Callable[[httpx.Request], httpx.Response | None]


class FakeClock:
    """Wall-clock time that moves only when a test says so."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class RecordingSleep:
    """Records every delay the client asks for and returns at once (yielding to other tasks)."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(0)


class NoLimit:
    """A limiter that never waits (pacing is tested on its own)."""

    async def acquire(self, account_id: int) -> None:
        return None


@dataclass
class FakeAmo:
    """amoCRM for one account: rotating single-use OAuth tokens, leads, and scripted faults.

    `events` interleaves what the server saw (`("api", token)`, `("refresh", old_refresh)`), so tests can
    check order against the store's saves. `script` holds callables tried before the normal routes;
    one that returns a response answers that request and is removed.
    """

    access_tokens: set[str] = field(default_factory=lambda: {"access-0"})
    refresh_token: str | None = "refresh-0"
    generation: int = 0
    leads: dict[int, dict[str, Any]] = field(default_factory=dict)
    script: list[Handler] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)
    events: list[tuple[str, str]] = field(default_factory=list)
    refresh_refused: bool = False
    reject_every_token: bool = False
    next_id: int = 1000

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        await asyncio.sleep(0)  # let concurrent requests interleave like on a real network
        for handler in list(self.script):
            try:
                response = handler(request)
            except httpx.TransportError:
                self.script.remove(handler)
                raise
            if response is not None:
                self.script.remove(handler)
                return response
        if request.url.path == "/oauth2/access_token":
            return self._token(request)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        self.events.append(("api", token))
        if token not in self.access_tokens or self.reject_every_token:
            return problem(401, "Unauthorized")
        return self._api(request)

    # Routes ------------------------------------------------------------------------------------------------

    def _token(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.events.append(("refresh", body.get("refresh_token", "")))
        if self.refresh_refused or body.get("refresh_token") != self.refresh_token:
            return httpx.Response(400, json={"title": "Invalid grant", "hint": "Token has been revoked"})
        self.generation += 1
        access, refresh = f"access-{self.generation}", f"refresh-{self.generation}"
        self.access_tokens = {access}
        self.refresh_token = refresh
        payload = {
            "token_type": "Bearer",
            "expires_in": 86400,
            "access_token": access,
            "refresh_token": refresh,
        }
        return httpx.Response(200, json=payload)

    def _api(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/api/v4/leads" and request.method == "GET":
            return self._list_leads(request)
        if path == "/api/v4/leads" and request.method == "PATCH":
            for body in json.loads(request.content):
                self.leads.setdefault(body["id"], {"id": body["id"]}).update(body)
            return httpx.Response(200, json={"_embedded": {"leads": []}})
        if path == "/api/v4/leads" and request.method == "POST":
            created: list[dict[str, Any]] = []
            for body in json.loads(request.content):
                self.next_id += 1
                self.leads[self.next_id] = {**body, "id": self.next_id}
                created.append({"id": self.next_id, "request_id": str(len(created))})
            return httpx.Response(200, json={"_embedded": {"leads": created}})
        if path.startswith("/api/v4/leads/"):
            lead = self.leads.get(int(path.rsplit("/", 1)[1]))
            return httpx.Response(200, json=lead) if lead else httpx.Response(204)
        return problem(404, "Not Found")

    def _list_leads(self, request: httpx.Request) -> httpx.Response:
        ids = {int(value) for value in request.url.params.get_list("filter[id][]")}
        leads = [lead for lead_id, lead in sorted(self.leads.items()) if not ids or lead_id in ids]
        page, limit = int(request.url.params.get("page", 1)), int(request.url.params.get("limit", 50))
        chunk = leads[(page - 1) * limit : page * limit]
        if not chunk:
            return httpx.Response(204)
        links: dict[str, Any] = {"self": {"href": str(request.url)}}
        if page * limit < len(leads):
            links["next"] = {"href": str(request.url.copy_set_param("page", page + 1))}
        return httpx.Response(200, json={"_page": page, "_links": links, "_embedded": {"leads": chunk}})

    # Views for assertions -----------------------------------------------------------------------------------

    def api_requests(self, method: str | None = None) -> list[httpx.Request]:
        return [
            request
            for request in self.requests
            if request.url.path.startswith("/api/") and (method is None or request.method == method)
        ]

    def refresh_requests(self) -> list[httpx.Request]:
        return [request for request in self.requests if request.url.path == "/oauth2/access_token"]


def problem(status: int, title: str, **extra: Any) -> httpx.Response:
    body = {"title": title, "type": f"https://httpstatus.es/{status}", "status": status, **extra}
    return httpx.Response(status, json=body, headers={"Content-Type": "application/problem+json"})


def respond_once(status: int, *, method: str | None = None, **kwargs: Any) -> Handler:
    """A scripted answer for the next API request (of `method`, if given)."""

    def handler(request: httpx.Request) -> httpx.Response | None:
        if not request.url.path.startswith("/api/") or (method and request.method != method):
            return None
        return httpx.Response(status, **kwargs)

    return handler


def pair(
    access: str = "access-0", refresh: str | None = "refresh-0", *, expires_in: float = 3600
) -> TokenPair:
    return TokenPair(
        access_token=SecretStr(access),
        refresh_token=SecretStr(refresh) if refresh else None,
        expires_at=START + timedelta(seconds=expires_in),
    )


@dataclass
class Harness:
    """Everything a client test needs, wired like production but over the fake server."""

    server: FakeAmo
    store: InMemoryTokenStore
    clock: FakeClock
    sleep: RecordingSleep
    http: httpx.AsyncClient
    client: AmoClient

    def api(self, account_id: int = ACCOUNT_ID, base_url: str = BASE_URL) -> Any:
        auth = self.client.oauth(account_id, base_url, APP, self.store, clock=self.clock)
        return self.client.account(account_id, base_url, auth)


def make_harness(server: FakeAmo | None = None, *, limiter: Any = None, max_retries: int = 6) -> Harness:
    server = server or FakeAmo()
    store = InMemoryTokenStore({ACCOUNT_ID: pair()})
    sleep = RecordingSleep()
    http = httpx.AsyncClient(transport=httpx.MockTransport(server))
    client = AmoClient(http, limiter=limiter or NoLimit(), max_retries=max_retries, sleep=sleep)
    return Harness(server, store, FakeClock(), sleep, http, client)
