"""Checking the widget's `X-Auth-Token` and the origin it is sent from (pure, no I/O).

amoCRM's `self.$authorizedAjax` sends a disposable JWT: HS256-signed with the integration's client secret, with
`aud` = scheme://host (no port) of our redirect URI, `iss` = the account's URL, `account_id`, `subdomain`, `user_id`, and a
~30 min `nbf`…`exp` window. Any failure is one `WidgetAuthError` whose text is never shown to the caller: the
route answers a bare 401, so a prober learns nothing about which check failed.
"""

from __future__ import annotations

import warnings
from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import urlsplit

import jwt

# amoCRM serves accounts on these domains; the widget's page (and `iss`) is https://{subdomain}.{domain}.
AMOCRM_DOMAINS: tuple[str, ...] = ("amocrm.ru", "kommo.com", "amocrm.com")
CLOCK_LEEWAY_SECONDS = 60
# amoCRM's tokens live ~30 min; a much longer window means the token was not minted by amoCRM for a widget call.
MAX_TOKEN_LIFETIME_SECONDS = 2 * 3600
REQUIRED_CLAIMS = ("iss", "aud", "iat", "nbf", "exp", "account_id", "subdomain", "user_id")


class WidgetAuthError(Exception):
    """The token or origin is not acceptable; the reason is for our logs only."""


@dataclass(frozen=True, slots=True)
class WidgetClaims:
    account_id: int
    subdomain: str
    user_id: int | None
    is_admin: bool
    issuer: str
    # amoCRM's `jti`: lets a sign-in use each token once (None when amoCRM sent none).
    token_id: str | None = None

    def __repr__(self) -> str:
        return f"WidgetClaims(account_id={self.account_id}, user_id={self.user_id})"


def origin_of(url: str) -> str:
    """scheme://host[:port] of a URL, lower-cased; empty when it has none."""
    parts = urlsplit(url.strip())
    if not parts.scheme or not parts.netloc:
        return ""
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def widget_audience(redirect_uri: str) -> str:
    """The `aud` amoCRM puts in widget tokens: scheme://host of the integration's redirect URI, without the port,
    as amoCRM's own PHP library compares it (`AmoCRMOAuth::parseDisposableToken`: `sprintf('%s://%s', scheme,
    host)`); empty when the URI has no scheme or host."""
    parts = urlsplit(redirect_uri.strip())
    if not parts.scheme or not parts.hostname:
        return ""
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"  # an IPv6 literal
    return f"{parts.scheme.lower()}://{host}"


def account_origins(subdomain: str, base_url: str) -> frozenset[str]:
    """The origins an account's pages are served from: its amoCRM/Kommo hosts and its API base."""
    origins = {f"https://{subdomain.lower()}.{domain}" for domain in AMOCRM_DOMAINS}
    if origin_of(base_url):
        origins.add(origin_of(base_url))
    return frozenset(origins)


def verify_widget_token(
    token: str,
    *,
    client_secret: str,
    audience: str,
    now: int,
    leeway: int = CLOCK_LEEWAY_SECONDS,
) -> WidgetClaims:
    """The token's claims when its signature, audience and time window are valid; else `WidgetAuthError`."""
    if not token or not client_secret or not audience:
        raise WidgetAuthError("missing token, secret or audience")
    try:
        with warnings.catch_warnings():
            # amoCRM chooses the key length (the client secret), not us.
            warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
            claims = jwt.decode(
                token,
                client_secret,
                algorithms=["HS256"],
                audience=audience,
                options={
                    "require": list(REQUIRED_CLAIMS),
                    # The time window is checked below against the injected clock.
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
    except jwt.PyJWTError as error:
        raise WidgetAuthError(f"invalid token: {type(error).__name__}") from None
    try:
        not_before, expires, issued = int(claims["nbf"]), int(claims["exp"]), int(claims["iat"])
        account_id = int(claims["account_id"])
        user_id = int(claims["user_id"]) if claims.get("user_id") is not None else None
    except (TypeError, ValueError):
        raise WidgetAuthError("malformed claims") from None
    if not (not_before - leeway <= now < expires + leeway) or issued > now + leeway:
        raise WidgetAuthError("outside the token's time window")
    if expires - min(not_before, issued) > MAX_TOKEN_LIFETIME_SECONDS:
        raise WidgetAuthError("token lifetime too long")
    return WidgetClaims(
        account_id=account_id,
        subdomain=str(claims["subdomain"]),
        user_id=user_id,
        is_admin=bool(claims.get("is_admin", False)),
        issuer=str(claims["iss"]),
        token_id=str(claims["jti"]) if claims.get("jti") not in (None, "") else None,
    )


def check_account(
    claims: WidgetClaims,
    *,
    subdomain: str,
    allowed_origins: Collection[str],
    request_origin: str | None,
) -> None:
    """The token belongs to this account and the browser calls from one of its pages; else `WidgetAuthError`."""
    if claims.subdomain.lower() != subdomain.lower():
        raise WidgetAuthError("subdomain differs from the account's")
    if origin_of(claims.issuer) not in allowed_origins:
        raise WidgetAuthError("issuer is not the account's domain")
    if request_origin is not None and origin_of(request_origin) not in allowed_origins:
        raise WidgetAuthError("request origin is not the account's domain")
