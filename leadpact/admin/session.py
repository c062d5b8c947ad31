"""The admin's session cookie, sign-in tickets and CSRF tokens (pure: a key and a clock in, values out).

An admin signs in from the widget: the widget asks our backend, with amoCRM's signed token, for a sign-in ticket
(account, user, a 2-minute expiry and a nonce, HMAC-signed) and opens `/admin/login?ticket=…`; amoCRM's own token
(`/admin/login?token=…`) is accepted too. Either is good for one sign-in (the caller records its nonce or `jti`).
From then on a cookie holds (account, user, expiry, nonce) signed with HMAC-SHA256 under a key derived from
LeadPact's secret key. The CSRF token of every form is an HMAC of the session's nonce, so it is bound to the
session and useless elsewhere.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

SESSION_COOKIE = "leadpact_admin"
SESSION_SECONDS = 8 * 3600
# Long enough to open a new tab from the widget; short enough that a copied link is soon worthless.
TICKET_SECONDS = 120


@dataclass(frozen=True, slots=True)
class AdminSession:
    account_id: int
    user_id: int
    expires_at: int
    nonce: str
    # False for a department head named to sign off who is no admin of the amoCRM account: the rules, sign-off,
    # report, promos and plans are theirs; the account's setup (signers, field mapping, webhook inbox) is not.
    is_admin: bool = True

    def __repr__(self) -> str:
        return f"AdminSession(account_id={self.account_id}, user_id={self.user_id})"


def session_key(secret_key: str) -> bytes:
    """A key used only for admin sessions, so a leak elsewhere never forges one (and vice versa)."""
    return hashlib.sha256(b"leadpact-admin-session|" + secret_key.encode()).digest()


def ticket_key(secret_key: str) -> bytes:
    """A sign-in ticket is an `AdminSession` of `TICKET_SECONDS` signed under this key of its own: a session
    cookie is never a ticket, nor a ticket a cookie."""
    return hashlib.sha256(b"leadpact-admin-ticket|" + secret_key.encode()).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, message: bytes) -> str:
    return _b64(hmac.new(key, message, hashlib.sha256).digest())


def new_session(
    *, account_id: int, user_id: int, now: int, lifetime: int = SESSION_SECONDS, is_admin: bool = True
) -> AdminSession:
    return AdminSession(
        account_id=account_id,
        user_id=user_id,
        expires_at=now + lifetime,
        nonce=secrets.token_urlsafe(16),
        is_admin=is_admin,
    )


def encode_session(session: AdminSession, key: bytes) -> str:
    payload = json.dumps(
        {
            "a": session.account_id,
            "u": session.user_id,
            "e": session.expires_at,
            "n": session.nonce,
            "r": int(session.is_admin),
        },
        separators=(",", ":"),
    ).encode()
    body = _b64(payload)
    return f"{body}.{_mac(key, body.encode())}"


def decode_session(cookie: str | None, key: bytes, *, now: int) -> AdminSession | None:
    """The session a cookie holds, or None when it is missing, forged, malformed or expired."""
    if not cookie or cookie.count(".") != 1:
        return None
    body, mac = cookie.split(".")
    if not hmac.compare_digest(mac, _mac(key, body.encode())):
        return None
    try:
        data = json.loads(_unb64(body))
        session = AdminSession(
            account_id=int(data["a"]),
            user_id=int(data["u"]),
            expires_at=int(data["e"]),
            nonce=str(data["n"]),
            # Cookies from before heads could sign in were all admins'.
            is_admin=bool(int(data.get("r", 1))),
        )
    except (ValueError, KeyError, TypeError):
        return None
    return session if now < session.expires_at else None


def csrf_token(session: AdminSession, key: bytes) -> str:
    return _mac(key, b"csrf|" + session.nonce.encode())


def csrf_valid(session: AdminSession, key: bytes, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(csrf_token(session, key), token or "")
