"""The amoCRM API v4 client: one `AmoClient` per process, a cheap `AccountApi` facade per account.

The send path is layered, one concern each: `AccountApi` methods (endpoints, chunking, pagination) →
`AmoClient.send` (pacing + retries) → `httpx.AsyncClient.send` with the account's `httpx.Auth` (tokens) →
`decode_response` (status → data or typed error).

Retry policy (all in `AmoClient.send`):
- 429 → wait `Retry-After` seconds when given (if it asks for more than `backoff_max`, raise `RateLimited`
  at once so the caller reschedules instead of holding a worker), else exponential backoff with full jitter.
- The token endpoint's 429/5xx during a refresh → retried like a GET, whatever the call: the call itself was not
  processed, and a refresh answered with 429/5xx did not spend the refresh token.
- 5xx and broken connections → backoff, but only for GET/PATCH/PUT/DELETE. amoCRM POSTs create entities and
  there is no idempotency key: a 5xx or a read timeout may come after the lead was created, and a retry would
  create it twice. A POST is retried only on 429 (refused before processing) and on connect errors (never
  sent). PATCH sets values, so sending it twice leaves the same state: it is retried.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from integration.amocrm.auth import AmoAuth, Clock, OAuthApp, TokenStore, utc_now
from integration.amocrm.errors import AmoHTTPError, AmoTransportError, NotFound, RateLimited, ServerError
from integration.amocrm.models import (
    AccountInfo,
    Catalog,
    CatalogElement,
    Contact,
    CustomField,
    Lead,
    Pipeline,
    Task,
    User,
    Webhook,
)
from integration.amocrm.ratelimit import RateLimiter
from integration.amocrm.responses import decode_response

logger = logging.getLogger(__name__)

BATCH_LIMIT = 250  # amoCRM accepts at most 250 entities per write and returns at most 250 per page
API_PREFIX = "/api/v4/"
# Lists with a smaller page: the events list returns at most 100 [doc: amocrm.ru/developers/content/crm_platform/
# events-and-notes, "Максимум – 100"]; asking for more is refused by the sandbox.
EVENTS_PAGE_LIMIT = 100
PAGE_LIMITS: Mapping[str, int] = {"events": EVENTS_PAGE_LIMIT}

Params = Mapping[str, Any] | Sequence[tuple[str, Any]]
ModelT = TypeVar("ModelT", bound=BaseModel)

# Failures where the request never left this process: safe to retry even for a POST.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_NON_IDEMPOTENT = frozenset({"POST"})


class AmoClient:
    """Sends amoCRM requests for every account over one shared `httpx.AsyncClient`, paced and retried."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        limiter: RateLimiter,
        max_retries: int = 6,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.http = http
        self.limiter = limiter
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._refresh_locks: dict[int, asyncio.Lock] = {}

    def __repr__(self) -> str:
        return f"AmoClient(limiter={self.limiter!r}, max_retries={self.max_retries})"

    def account(self, account_id: int, base_url: str, auth: httpx.Auth) -> AccountApi:
        """The API of one account at `base_url` (e.g. https://acme.amocrm.ru, a Kommo host or the sandbox)."""
        return AccountApi(self, account_id=account_id, base_url=base_url, auth=auth)

    def refresh_lock(self, account_id: int) -> asyncio.Lock:
        """The lock that lets only one task at a time refresh `account_id`'s tokens in this process."""
        lock = self._refresh_locks.get(account_id)
        if lock is None:
            lock = self._refresh_locks[account_id] = asyncio.Lock()
        return lock

    def oauth(
        self, account_id: int, base_url: str, app: OAuthApp, store: TokenStore, *, clock: Clock = utc_now
    ) -> AmoAuth:
        """OAuth for one account, sharing this client's connection pool and refresh lock registry."""
        return AmoAuth(
            account_id=account_id,
            base_url=base_url,
            app=app,
            store=store,
            http=self.http,
            refresh_lock=self.refresh_lock(account_id),
            limiter=self.limiter,
            clock=clock,
        )

    async def send(
        self,
        *,
        account_id: int,
        auth: httpx.Auth,
        method: str,
        url: str,
        params: Params | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """One API call with pacing and retries; the decoded JSON (None for 204 or 304) or a typed `AmoError`."""
        method = method.upper()
        path = httpx.URL(url).path  # errors and logs name the path only: queries may hold personal data
        attempt = 0
        while True:
            try:
                if isinstance(auth, AmoAuth):
                    await auth.prepare()  # a due refresh happens here, paced, before this call takes its slot
                await self.limiter.acquire(account_id)
                request = self.http.build_request(
                    method, url, params=_query(params), json=json, headers=headers
                )
                response = await self.http.send(request, auth=auth)
            except httpx.TransportError as exc:
                delay = self._transport_retry_delay(method, not isinstance(exc, _NOT_SENT), attempt)
                if delay is None:
                    raise AmoTransportError(
                        f"{method} {path}: {type(exc).__name__}", method=method, path=path
                    ) from exc
                reason = type(exc).__name__
            except AmoTransportError as exc:
                # The token endpoint was unreachable during a refresh. Only retry if the refresh never left:
                # one that was sent may have spent the single-use refresh token.
                if exc.request_sent or attempt >= self.max_retries:
                    raise
                delay, reason = self._backoff(attempt), f"token endpoint {exc}"
            except (RateLimited, ServerError) as error:
                # Only the token endpoint raises these before a response is decoded: the call itself was not
                # processed (it was not sent, or was refused with 401), so any method is safe to retry.
                delay = self._http_retry_delay("GET", error, attempt)
                if delay is None:
                    raise
                reason = f"token endpoint HTTP {error.status_code}"
            else:
                try:
                    return decode_response(response, method=method, path=path)
                except (RateLimited, ServerError) as error:
                    delay = self._http_retry_delay(method, error, attempt)
                    if delay is None:
                        raise
                    reason = f"HTTP {error.status_code}"
            logger.warning(
                "amoCRM %s %s for account %s: %s, retry %d/%d in %.2fs",
                method, path, account_id, reason, attempt + 1, self.max_retries, delay,
            )  # fmt: skip
            await self._sleep(delay)
            attempt += 1

    def _http_retry_delay(self, method: str, error: AmoHTTPError, attempt: int) -> float | None:
        if attempt >= self.max_retries:
            return None
        if isinstance(error, RateLimited):
            if error.retry_after is None:
                return self._backoff(attempt)
            return error.retry_after if error.retry_after <= self.backoff_max else None
        return None if method in _NON_IDEMPOTENT else self._backoff(attempt)

    def _transport_retry_delay(self, method: str, request_sent: bool, attempt: int) -> float | None:
        if attempt >= self.max_retries:
            return None
        if method in _NON_IDEMPOTENT and request_sent:
            return None
        return self._backoff(attempt)

    def _backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max, base·2^attempt)], so retrying clients spread out."""
        cap = min(self.backoff_max, self.backoff_base * 2**attempt)
        return self._rng.uniform(0, cap)


class AccountApi:
    """amoCRM API v4 of one account. Cheap to build: holds only the id, the base URL and the auth."""

    def __init__(self, client: AmoClient, *, account_id: int, base_url: str, auth: httpx.Auth) -> None:
        self._client = client
        self.account_id = account_id
        self.base_url = base_url.rstrip("/")
        self._auth = auth

    def __repr__(self) -> str:
        return f"AccountApi(account_id={self.account_id}, base_url={self.base_url!r})"

    # Core ---------------------------------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """Call `path` ("/api/v4/leads", or "leads" for short) and return the JSON (None for 204 or 304)."""
        url = self.base_url + (path if path.startswith("/") else API_PREFIX + path)
        return await self._client.send(
            account_id=self.account_id,
            auth=self._auth,
            method=method,
            url=url,
            params=params,
            json=json,
            headers=headers,
        )

    async def paginate(
        self,
        path: str,
        entity: str,
        *,
        params: Params | None = None,
        limit: int = BATCH_LIMIT,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Every `_embedded[entity]` item of a list, page by page until no `_links.next` (or a 204/304)."""
        limit = min(limit, PAGE_LIMITS.get(path.removeprefix(API_PREFIX).strip("/"), limit))
        base = [(key, value) for key, value in _query(params) if key not in ("page", "limit")]
        page = 1
        while True:
            data = await self.request(
                "GET", path, params=[*base, ("page", page), ("limit", limit)], headers=headers
            )
            if not isinstance(data, Mapping):
                return
            for item in _embedded(data, entity):
                yield item
            if not (data.get("_links") or {}).get("next"):
                return
            page += 1

    # Account ------------------------------------------------------------------------------------------------

    async def get_account(self, with_: Sequence[str] = ()) -> AccountInfo:
        data = await self.request("GET", "account", params=_with(with_))
        return AccountInfo.model_validate(data)

    async def list_users(self) -> list[User]:
        return [User.model_validate(item) async for item in self.paginate("users", "users")]

    async def list_pipelines(self) -> list[Pipeline]:
        data = await self.request("GET", "leads/pipelines")
        return _models(Pipeline, _embedded(data, "pipelines"))

    # Leads --------------------------------------------------------------------------------------------------

    async def iter_leads(
        self, *, params: Params | None = None, with_: Sequence[str] = ()
    ) -> AsyncIterator[Lead]:
        async for item in self.paginate("leads", "leads", params=[*_query(params), *_with(with_)]):
            yield Lead.model_validate(item)

    async def get_leads(self, ids: Iterable[int], *, with_: Sequence[str] = ("contacts",)) -> list[Lead]:
        """The leads with these ids (missing ones are left out), 250 ids per GET."""
        return [Lead.model_validate(item) for item in await self._get_by_ids("leads", ids, with_)]

    async def get_lead(self, id: int, *, with_: Sequence[str] = ()) -> Lead:
        """One lead; `NotFound` when amoCRM answers 404 or 204 (what it sends for some unknown ids)."""
        path = f"{API_PREFIX}leads/{id}"
        data = await self.request("GET", path, params=_with(with_))
        if data is None:
            raise NotFound(f"GET {path} → HTTP 204", status_code=204, method="GET", path=path)
        return Lead.model_validate(data)

    async def create_leads(self, leads: Sequence[Mapping[str, Any]]) -> list[int]:
        return _ids(await self._write_chunks("POST", "leads", "leads", leads))

    async def update_leads(self, leads: Sequence[Mapping[str, Any]]) -> None:
        """PATCH `{id, ...}` bodies, at most 250 per request."""
        await self._write_chunks("PATCH", "leads", "leads", leads)

    # Contacts -----------------------------------------------------------------------------------------------

    async def get_contacts(self, ids: Iterable[int]) -> list[Contact]:
        return [Contact.model_validate(item) for item in await self._get_by_ids("contacts", ids, ())]

    async def iter_contacts(self, *, params: Params | None = None) -> AsyncIterator[Contact]:
        async for item in self.paginate("contacts", "contacts", params=params):
            yield Contact.model_validate(item)

    async def update_contacts(self, contacts: Sequence[Mapping[str, Any]]) -> None:
        await self._write_chunks("PATCH", "contacts", "contacts", contacts)

    # Custom fields ------------------------------------------------------------------------------------------

    async def list_custom_fields(self, entity: str = "leads") -> list[CustomField]:
        """Custom fields of `entity` ("leads", "contacts", or f"catalogs/{id}")."""
        path = f"{entity}/custom_fields"
        return [CustomField.model_validate(item) async for item in self.paginate(path, "custom_fields")]

    async def create_custom_fields(
        self, entity: str, fields: Sequence[Mapping[str, Any]]
    ) -> list[CustomField]:
        created = await self._write_chunks("POST", f"{entity}/custom_fields", "custom_fields", fields)
        return _models(CustomField, created)

    # Notes and tasks ----------------------------------------------------------------------------------------

    async def add_notes(self, entity: str, notes: Sequence[Mapping[str, Any]]) -> list[int]:
        return _ids(await self._write_chunks("POST", f"{entity}/notes", "notes", notes))

    async def create_tasks(self, tasks: Sequence[Mapping[str, Any]]) -> list[int]:
        return _ids(await self._write_chunks("POST", "tasks", "tasks", tasks))

    async def iter_tasks(self, *, params: Params | None = None) -> AsyncIterator[Task]:
        async for item in self.paginate("tasks", "tasks", params=params):
            yield Task.model_validate(item)

    async def update_tasks(self, tasks: Sequence[Mapping[str, Any]]) -> None:
        await self._write_chunks("PATCH", "tasks", "tasks", tasks)

    # Catalogs -----------------------------------------------------------------------------------------------

    async def list_catalogs(self) -> list[Catalog]:
        return [Catalog.model_validate(item) async for item in self.paginate("catalogs", "catalogs")]

    async def create_catalogs(self, catalogs: Sequence[Mapping[str, Any]]) -> list[Catalog]:
        return _models(Catalog, await self._write_chunks("POST", "catalogs", "catalogs", catalogs))

    async def iter_catalog_elements(
        self, catalog_id: int, *, params: Params | None = None
    ) -> AsyncIterator[CatalogElement]:
        async for item in self.paginate(f"catalogs/{catalog_id}/elements", "elements", params=params):
            yield CatalogElement.model_validate(item)

    async def create_catalog_elements(
        self, catalog_id: int, elements: Sequence[Mapping[str, Any]]
    ) -> list[CatalogElement]:
        created = await self._write_chunks("POST", f"catalogs/{catalog_id}/elements", "elements", elements)
        return _models(CatalogElement, created)

    async def update_catalog_elements(self, catalog_id: int, elements: Sequence[Mapping[str, Any]]) -> None:
        await self._write_chunks("PATCH", f"catalogs/{catalog_id}/elements", "elements", elements)

    async def link_lead(self, lead_id: int, links: Sequence[Mapping[str, Any]]) -> None:
        """Link catalog elements (or contacts) to a lead: `[{to_entity_id, to_entity_type, metadata}]`."""
        await self._write_chunks("POST", f"leads/{lead_id}/link", "links", links)

    # Events -------------------------------------------------------------------------------------------------

    def iter_events(self, *, params: Params | None = None) -> AsyncIterator[dict[str, Any]]:
        """The account's events list (`filter[type]`, `filter[created_at][from]`, …), 100 a page."""
        return self.paginate("events", "events", params=params, limit=EVENTS_PAGE_LIMIT)

    # Webhooks -----------------------------------------------------------------------------------------------

    async def list_webhooks(self, destination: str | None = None) -> list[Webhook]:
        params = [("filter[destination]", destination)] if destination else None
        return _models(Webhook, _embedded(await self.request("GET", "webhooks", params=params), "webhooks"))

    async def subscribe_webhook(self, destination: str, settings: list[str]) -> Webhook:
        data = await self.request("POST", "webhooks", json={"destination": destination, "settings": settings})
        return Webhook.model_validate(data)

    async def unsubscribe_webhook(self, destination: str) -> None:
        await self.request("DELETE", "webhooks", json={"destination": destination})

    # Helpers ------------------------------------------------------------------------------------------------

    async def _get_by_ids(
        self, entity: str, ids: Iterable[int], with_: Sequence[str]
    ) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for chunk in _chunks(list(dict.fromkeys(ids)), BATCH_LIMIT):
            params = [*(("filter[id][]", id) for id in chunk), *_with(with_)]
            found += [item async for item in self.paginate(entity, entity, params=params)]
        return found

    async def _write_chunks(
        self, method: str, path: str, entity: str, bodies: Sequence[Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        """Send `bodies` in chunks of ≤ 250; the `_embedded[entity]` items of every answer, in order."""
        written: list[dict[str, Any]] = []
        for chunk in _chunks(list(bodies), BATCH_LIMIT):
            written += _embedded(await self.request(method, path, json=chunk), entity)
        return written


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def _query(params: Params | None) -> list[tuple[str, Any]]:
    """Query pairs in order; a mapping's list values repeat the key (`filter[id][]=1&filter[id][]=2`)."""
    if params is None:
        return []
    pairs = params.items() if isinstance(params, Mapping) else params
    flat: list[tuple[str, Any]] = []
    for key, value in pairs:
        if isinstance(value, list | tuple):
            flat += [(key, item) for item in value]
        elif value is not None:
            flat.append((key, value))
    return flat


def _with(with_: Sequence[str]) -> list[tuple[str, str]]:
    return [("with", ",".join(with_))] if with_ else []


def _embedded(data: Any, entity: str) -> list[dict[str, Any]]:
    if not isinstance(data, Mapping):
        return []
    items = (data.get("_embedded") or {}).get(entity)
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def _ids(items: list[dict[str, Any]]) -> list[int]:
    return [int(item["id"]) for item in items if "id" in item]


def _models(model: type[ModelT], items: list[dict[str, Any]]) -> list[ModelT]:
    return [model.model_validate(item) for item in items]
