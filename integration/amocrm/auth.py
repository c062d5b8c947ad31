"""OAuth 2.0 with amoCRM: the integration's credentials, where tokens live, and the per-account `httpx.Auth`.

amoCRM refresh tokens are single-use: each refresh returns a new pair and kills the old refresh token. Two
concurrent refreshes with the same token mean one fails and, if its loser is the one persisted, the account is
lost. Hence: one refresh at a time per account (a lock from the `AmoClient`'s registry), re-reading the store
after taking the lock, and saving the new pair before its access token is ever sent.

The token endpoint counts against the account's rate budget like any call, so a refresh waits for the rate
limiter, and so does the replay of a request after a 401. A 429 or 5xx from the token endpoint is raised as
`RateLimited`/`ServerError` for `AmoClient.send` to retry: the refresh token is spent only by a success.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import httpx
from pydantic import SecretStr

from integration.amocrm.errors import AmoTransportError, TokenRefreshFailed
from integration.amocrm.models import TokenPair
from integration.amocrm.ratelimit import RateLimiter
from integration.amocrm.responses import decode_response

logger = logging.getLogger(__name__)

REFRESH_SKEW = timedelta(seconds=60)
TOKEN_PATH = "/oauth2/access_token"  # noqa: S105 - a URL path, not a secret
# The token endpoint answers these when the refresh token is revoked, expired or already used.
_REFUSED_STATUSES = frozenset({400, 401})

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class TokenStore(Protocol):
    """Where an account's tokens live (the DB-backed store encrypts them at rest).

    `load` returns None when the account has no usable tokens: never installed, or marked by
    `mark_needs_reauth`. That is how a needs-reauth account fails fast instead of retrying a dead token.
    """

    async def load(self, account_id: int) -> TokenPair | None: ...

    async def save(self, account_id: int, pair: TokenPair) -> None: ...

    async def mark_needs_reauth(self, account_id: int, reason: str) -> None: ...


@dataclass(frozen=True, slots=True)
class OAuthApp:
    """The integration's OAuth credentials, from its settings page in amoCRM."""

    client_id: str
    client_secret: SecretStr = field(repr=False)
    redirect_uri: str

    async def exchange_code(
        self, http: httpx.AsyncClient, base_url: str, code: str, *, now: Clock = utc_now
    ) -> TokenPair:
        """Trade the authorization code from the consent redirect for the account's first token pair."""
        return await self._token_request(
            http, base_url, {"grant_type": "authorization_code", "code": code}, now=now
        )

    async def refresh(
        self, http: httpx.AsyncClient, base_url: str, refresh_token: SecretStr, *, now: Clock = utc_now
    ) -> TokenPair:
        """Spend `refresh_token` for a new pair; `TokenRefreshFailed` when amoCRM refuses it (400/401)."""
        grant = {"grant_type": "refresh_token", "refresh_token": refresh_token.get_secret_value()}
        return await self._token_request(http, base_url, grant, now=now)

    async def _token_request(
        self, http: httpx.AsyncClient, base_url: str, grant: Mapping[str, str], *, now: Clock
    ) -> TokenPair:
        body = {
            "client_id": self.client_id,
            "client_secret": self.client_secret.get_secret_value(),
            **grant,
            "redirect_uri": self.redirect_uri,
        }
        url = base_url.rstrip("/") + TOKEN_PATH
        try:
            # Never follow redirects: a 307/308 would replay the secret and refresh token to another host.
            response = await http.post(url, json=body, follow_redirects=False)
        except httpx.TransportError as exc:
            sent = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
            message = f"POST {TOKEN_PATH}: {type(exc).__name__}"
            raise AmoTransportError(message, method="POST", path=TOKEN_PATH, request_sent=sent) from None
        if response.status_code in _REFUSED_STATUSES and grant["grant_type"] == "refresh_token":
            raise TokenRefreshFailed(None, _refusal_reason(response))
        data = decode_response(response, method="POST", path=TOKEN_PATH)
        if not isinstance(data, Mapping) or "access_token" not in data or "expires_in" not in data:
            raise TokenRefreshFailed(None, "the token endpoint answered without tokens")
        return TokenPair.from_oauth_response(data, now=now())


def _refusal_reason(response: httpx.Response) -> str:
    """A short, secret-free reason from the token endpoint's refusal (its title/hint, never the request)."""
    title = hint = None
    try:
        data: Any = response.json()
    except ValueError:
        data = None
    if isinstance(data, Mapping):
        title, hint = data.get("title"), data.get("hint") or data.get("detail")
    parts = [f"refresh refused with HTTP {response.status_code}"]
    parts += [str(part)[:200] for part in (title, hint) if part]
    return ": ".join(parts)


class AmoAuth(httpx.Auth):
    """OAuth Bearer auth for one account: refreshes near expiry (once for all concurrent requests) and on 401.

    Build it with `AmoClient.oauth(...)`: it hands over the shared HTTP client and the account's refresh lock.
    """

    requires_response_body = True  # read the 401 body, so its connection is free while we refresh

    def __init__(
        self,
        *,
        account_id: int,
        base_url: str,
        app: OAuthApp,
        store: TokenStore,
        http: httpx.AsyncClient,
        refresh_lock: asyncio.Lock,
        limiter: RateLimiter | None = None,
        clock: Clock = utc_now,
        skew: timedelta = REFRESH_SKEW,
    ) -> None:
        self.account_id = account_id
        self.base_url = base_url.rstrip("/")
        self._app = app
        self._store = store
        self._http = http
        self._refresh_lock = refresh_lock
        self._limiter = limiter
        self._clock = clock
        self._skew = skew

    def __repr__(self) -> str:
        return f"AmoAuth(account_id={self.account_id}, base_url={self.base_url!r})"

    def sync_auth_flow(self, request: httpx.Request) -> Any:
        raise RuntimeError("AmoAuth works with httpx.AsyncClient only")

    async def prepare(self) -> None:
        """Make sure a usable access token is stored, refreshing it if it is about to expire.

        `AmoClient.send` calls this before a request takes its rate slot, so concurrent calls wait for one
        paced refresh instead of all holding slots they then spend at once.
        """
        await self._usable_pair()

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        pair = await self._usable_pair()
        _set_bearer(request, pair.access_token)
        response = yield request
        if response.status_code != httpx.codes.UNAUTHORIZED:
            return
        pair = await self._pair_replacing(pair.access_token)
        _set_bearer(request, pair.access_token)
        await self._pace()  # the replay is one more call in the account's budget
        yield request  # once: a second 401 is final and surfaces as `Unauthorized`

    async def _pace(self) -> None:
        if self._limiter is not None:
            await self._limiter.acquire(self.account_id)

    async def _usable_pair(self) -> TokenPair:
        pair = await self._load()
        if not pair.expires_within(self._skew, now=self._clock()):
            return pair
        return await self._pair_replacing(pair.access_token)

    async def _pair_replacing(self, stale_access_token: SecretStr) -> TokenPair:
        """A pair without `stale_access_token`: the one another task just refreshed, or a new refresh."""
        async with self._refresh_lock:
            current = await self._load()
            another_task_refreshed = (
                current.access_token != stale_access_token
                and not current.expires_within(self._skew, now=self._clock())
            )
            if another_task_refreshed:
                return current
            return await self._refresh(current)

    async def _refresh(self, current: TokenPair) -> TokenPair:
        if current.refresh_token is None:
            return await self._give_up("the access token expired and there is no refresh token")
        await self._pace()
        try:
            pair = await self._app.refresh(self._http, self.base_url, current.refresh_token, now=self._clock)
        except TokenRefreshFailed as refused:
            # Another replica sharing the store may have spent the same token a moment earlier and saved
            # the new pair: adopt it rather than flag a healthy account.
            saved_meanwhile = await self._store.load(self.account_id)
            if saved_meanwhile is not None and saved_meanwhile.refresh_token != current.refresh_token:
                return saved_meanwhile
            return await self._give_up(refused.reason)
        # Persist first: the old refresh token is already dead, losing the new one loses the account.
        await self._store.save(self.account_id, pair)
        logger.info("amoCRM tokens refreshed for account %s", self.account_id)
        return pair

    async def _load(self) -> TokenPair:
        pair = await self._store.load(self.account_id)
        if pair is None:
            raise TokenRefreshFailed(self.account_id, "no usable tokens: the account needs re-authorisation")
        return pair

    async def _give_up(self, reason: str) -> TokenPair:
        logger.warning("amoCRM account %s needs re-authorisation: %s", self.account_id, reason)
        await self._store.mark_needs_reauth(self.account_id, reason)
        raise TokenRefreshFailed(self.account_id, reason)


class LongLivedAuth(httpx.Auth):
    """Bearer auth with a long-lived token of a private integration: nothing to refresh, a 401 is final."""

    def __init__(self, token: SecretStr) -> None:
        self._token = token

    def __repr__(self) -> str:
        return "LongLivedAuth(token=SecretStr('**********'))"

    def auth_flow(self, request: httpx.Request) -> Any:
        _set_bearer(request, self._token)
        yield request


def _set_bearer(request: httpx.Request, token: SecretStr) -> None:
    request.headers["Authorization"] = f"Bearer {token.get_secret_value()}"
