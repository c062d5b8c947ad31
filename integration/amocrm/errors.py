"""Everything the amoCRM client raises, as one tree rooted at `AmoError`.

    AmoError
    ├── AmoTransportError          the request never got an answer (connect/read failure, timeout)
    ├── AmoHTTPError               amoCRM answered with an error status (or a page instead of JSON)
    │   ├── RateLimited            429 after all retries; `retry_after` seconds when the server said
    │   ├── Unauthorized           401 even after one token refresh
    │   ├── Forbidden              403 (no rights, or the integration/IP was blocked)
    │   ├── AccountBlocked         an HTML page where JSON was expected (account or API blocked)
    │   ├── NotFound               404
    │   ├── ValidationFailed       400 with `validation-errors`; `issues` lists each one
    │   └── ServerError            5xx after all retries (or at once for a POST, see `client.py`)
    └── TokenRefreshFailed         the refresh token was refused (revoked / already used) or there are
                                   no usable tokens: the account needs to be re-authorised

Messages carry the method, the URL path and amoCRM's problem title/detail: never tokens, secrets,
headers or query strings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from integration.i18n import Language, Text

NEEDS_REAUTH_TEXT = Text(
    ru="Доступ LeadPact к аккаунту amoCRM {account_id} отозван или истёк: переустановите интеграцию.",
    en="LeadPact's access to amoCRM account {account_id} was revoked or expired: reinstall the integration.",
)


class AmoError(Exception):
    """Base of every error the amoCRM client raises."""


class AmoTransportError(AmoError):
    """No answer from amoCRM: the connection failed, broke or timed out."""

    def __init__(self, message: str, *, method: str, path: str, request_sent: bool = True) -> None:
        super().__init__(message)
        self.method = method
        self.path = path
        # False when the connection never opened: amoCRM cannot have acted on the request.
        self.request_sent = request_sent


class AmoHTTPError(AmoError):
    """amoCRM answered with a status (or a body) that is not a success."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        method: str,
        path: str,
        title: str | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.method = method
        self.path = path
        self.title = title
        self.detail = detail


class RateLimited(AmoHTTPError):
    """429 Too Many Requests, still there after every retry (or with a `Retry-After` too long to wait)."""

    def __init__(self, message: str, *, retry_after: float | None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class Unauthorized(AmoHTTPError):
    """401: the access token was rejected even after a refresh (or a long-lived token was revoked)."""


class Forbidden(AmoHTTPError):
    """403: the user or integration lacks rights, or amoCRM blocked the integration."""


class AccountBlocked(AmoHTTPError):
    """amoCRM sent an HTML page instead of JSON: the account or its API access is blocked."""


class NotFound(AmoHTTPError):
    """404: no such entity or endpoint."""


@dataclass(frozen=True, slots=True)
class ValidationIssue:
    """One complaint from amoCRM about one entity of a batch (`request_id` is its index as a string)."""

    request_id: str | None
    code: str
    path: str
    detail: str


class ValidationFailed(AmoHTTPError):
    """400 with `validation-errors`: amoCRM refused some entities of the request."""

    def __init__(self, message: str, *, issues: Sequence[ValidationIssue], **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.issues = list(issues)


class ServerError(AmoHTTPError):
    """5xx from amoCRM (or a proxy in front of it)."""


class TokenRefreshFailed(AmoError):
    """The account has no usable tokens any more: the refresh was refused or it was marked for re-auth.

    Retrying does not help; the account's owner has to install the integration again.
    """

    def __init__(self, account_id: int | None, reason: str) -> None:
        # account_id is None when raised by `OAuthApp`, which does not know whose token it spent.
        super().__init__(f"account {account_id}: {reason}" if account_id is not None else reason)
        self.account_id = account_id
        self.reason = reason

    def user_message(self) -> dict[Language, str]:
        """What to tell the account's people, in every language."""
        return NEEDS_REAUTH_TEXT.both(account_id=self.account_id)
