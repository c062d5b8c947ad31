"""OAuth 2.0 as amoCRM runs it, plus long-lived tokens and the widget's disposable JWT.

Facts: `POST /oauth2/access_token` with `grant_type` authorization_code | refresh_token → `{token_type,
expires_in, server_time, access_token, refresh_token}` [doc]; refresh tokens are single-use [assumed, a
setting of lifetime only]; access tokens are JWTs naming `account_id`, `base_domain`, `api_domain`, `scopes`
[seen] — here signed with a per-app random key and checked by look-up, so they are opaque to clients;
long-lived tokens have no refresh token [doc]; the widget's `X-Auth-Token` is HS256-signed with the client
secret with the claims iss, aud, jti, iat, nbf, exp, account_id, subdomain, client_uuid, user_id, is_admin
[doc].
"""

from __future__ import annotations

import secrets
import uuid
import warnings
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import jwt

from amocrm_sandbox.config import SandboxConfig
from amocrm_sandbox.problems import Problem
from amocrm_sandbox.world import Account


@dataclass(slots=True)
class AccessGrant:
    account_id: int
    expires_at: int
    long_lived: bool = False


@dataclass(slots=True)
class CodeGrant:
    account_id: int
    expires_at: int


@dataclass(slots=True)
class Tokens:
    """Every credential the sandbox has issued; values are looked up, never trusted from their contents."""

    signing_key: str = field(default_factory=lambda: secrets.token_hex(32))
    codes: dict[str, CodeGrant] = field(default_factory=dict)
    access: dict[str, AccessGrant] = field(default_factory=dict)
    refresh: dict[str, CodeGrant] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Tokens(codes={len(self.codes)}, access={len(self.access)}, refresh={len(self.refresh)})"

    def issue_code(self, account_id: int, *, now: int, ttl: int) -> str:
        code = secrets.token_urlsafe(48)
        self.codes[code] = CodeGrant(account_id=account_id, expires_at=now + ttl)
        return code

    def _mint_access(self, account: Account, *, now: int, ttl: int, long_lived: bool) -> str:
        claims = {
            "aud": "leadpact-sandbox",
            "jti": uuid.uuid4().hex,
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "sub": str(account.id),
            "account_id": account.id,
            "base_domain": "amocrm.ru",
            "api_domain": "api-b.amocrm.ru",
            "scopes": ["crm", "notifications"],
        }
        token = jwt.encode(claims, self.signing_key, algorithm="HS256")
        self.access[token] = AccessGrant(account_id=account.id, expires_at=now + ttl, long_lived=long_lived)
        return token

    def issue_pair(self, account: Account, *, now: int, config: SandboxConfig) -> dict[str, Any]:
        access = self._mint_access(account, now=now, ttl=config.access_token_ttl, long_lived=False)
        refresh = secrets.token_urlsafe(64)
        self.refresh[refresh] = CodeGrant(account_id=account.id, expires_at=now + config.refresh_token_ttl)
        return {
            "token_type": "Bearer",
            "expires_in": config.access_token_ttl,
            "server_time": now,
            "access_token": access,
            "refresh_token": refresh,
        }

    def issue_long_lived(self, account: Account, *, now: int, ttl: int) -> str:
        return self._mint_access(account, now=now, ttl=ttl, long_lived=True)

    def redeem_code(self, code: str, *, now: int) -> int:
        grant = self.codes.pop(code, None)
        if grant is None or grant.expires_at < now:
            raise Problem(400, "Authorization code has expired or was already used")
        return grant.account_id

    def redeem_refresh(self, token: str, *, now: int) -> int:
        # Single use: the old refresh token is gone as soon as it is presented.
        grant = self.refresh.pop(token, None)
        if grant is None or grant.expires_at < now:
            raise Problem(400, "Refresh token has expired or was revoked")
        return grant.account_id

    def account_for(self, token: str, *, now: int) -> int:
        grant = self.access.get(token)
        if grant is None or grant.expires_at <= now:
            raise Problem(401, "Unauthorized")
        return grant.account_id

    def issuer_of(self, token: str) -> int | None:
        """The account that issued this access token, valid or not; None for a token never issued."""
        grant = self.access.get(token)
        return None if grant is None else grant.account_id

    def account_of_grant(self, body: Any) -> int | None:
        """The account a token request's code or refresh token belongs to, without spending it."""
        if not isinstance(body, dict):
            return None
        if body.get("grant_type") == "authorization_code":
            grant = self.codes.get(str(body.get("code", "")))
        elif body.get("grant_type") == "refresh_token":
            grant = self.refresh.get(str(body.get("refresh_token", "")))
        else:
            grant = None
        return None if grant is None else grant.account_id

    def expire_access(self, account_id: int, *, now: int) -> int:
        expired = 0
        for grant in self.access.values():
            if grant.account_id == account_id and grant.expires_at > now:
                grant.expires_at = now - 1
                expired += 1
        return expired


def exchange(
    tokens: Tokens, account_lookup: Any, body: Any, *, now: int, config: SandboxConfig
) -> dict[str, Any]:
    """Answers `POST /oauth2/access_token`; `account_lookup(account_id) -> Account`."""
    if not isinstance(body, dict):
        raise Problem(400, "Request body must be a JSON object")
    if body.get("client_id") != config.client_id:
        raise Problem(400, "Client not found")
    if not secrets.compare_digest(str(body.get("client_secret", "")), config.client_secret):
        raise Problem(401, "Client authentication failed")
    grant_type = body.get("grant_type")
    if grant_type == "authorization_code":
        if body.get("redirect_uri") not in (None, config.redirect_uri):
            raise Problem(400, "redirect_uri does not match the integration's")
        account_id = tokens.redeem_code(str(body.get("code", "")), now=now)
    elif grant_type == "refresh_token":
        account_id = tokens.redeem_refresh(str(body.get("refresh_token", "")), now=now)
    else:
        raise Problem(400, "grant_type must be authorization_code or refresh_token")
    return tokens.issue_pair(account_lookup(account_id), now=now, config=config)


def widget_token(
    account: Account,
    *,
    user_id: int,
    is_admin: bool,
    aud: str | None,
    ttl: int,
    now: int,
    config: SandboxConfig,
) -> str:
    audience = aud
    if audience is None:
        # scheme://host without the port, as amoCRM's PHP library checks it [seen: AmoCRMOAuth::parseDisposableToken].
        parts = urlsplit(config.redirect_uri)
        audience = f"{parts.scheme}://{parts.hostname}"
    claims = {
        "iss": account.url,
        "aud": audience,
        "jti": uuid.uuid4().hex,
        "iat": now,
        "nbf": now,
        "exp": now + ttl,
        "account_id": account.id,
        "subdomain": account.subdomain,
        "client_uuid": config.client_id,
        "user_id": user_id,
        "is_admin": is_admin,
    }
    with warnings.catch_warnings():
        # amoCRM chooses the key (the client secret); a short demo secret is the sandbox user's choice, not a bug.
        warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
        return jwt.encode(claims, config.client_secret, algorithm="HS256")
