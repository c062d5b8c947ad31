"""Turning an amoCRM answer into data or a typed error (pure: no I/O, no retries)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from integration.amocrm.errors import (
    AccountBlocked,
    AmoHTTPError,
    Forbidden,
    NotFound,
    RateLimited,
    ServerError,
    Unauthorized,
    ValidationFailed,
    ValidationIssue,
)

_ERROR_BY_STATUS: Mapping[int, type[AmoHTTPError]] = {401: Unauthorized, 403: Forbidden, 404: NotFound}


def decode_response(response: httpx.Response, *, method: str, path: str) -> Any:
    """The JSON of a success (None for 204 or an empty body), else raise the matching `AmoHTTPError`."""
    status = response.status_code
    if status >= 500:
        # Checked before the HTML test: a proxy's 502 page is an outage, not a blocked account.
        raise _error(ServerError, response, method=method, path=path)
    if _is_html(response):
        raise _error(AccountBlocked, response, method=method, path=path)
    if status == 429:
        raise _error(
            RateLimited, response, method=method, path=path, retry_after=retry_after_seconds(response)
        )
    if status >= 400:
        problem = _json_or_none(response)
        if status == 400 and isinstance(problem, Mapping) and "validation-errors" in problem:
            issues = parse_validation_issues(problem["validation-errors"])
            raise _error(ValidationFailed, response, method=method, path=path, issues=issues)
        raise _error(_ERROR_BY_STATUS.get(status, AmoHTTPError), response, method=method, path=path)
    if status == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise _error(AmoHTTPError, response, method=method, path=path, title="Answer is not JSON") from None


def parse_validation_issues(raw: Any) -> list[ValidationIssue]:
    """Flatten amoCRM's `validation-errors` (per entity of the batch, several errors each) into issues."""
    issues: list[ValidationIssue] = []
    for entry in raw if isinstance(raw, list) else []:
        if not isinstance(entry, Mapping):
            continue
        request_id = entry.get("request_id")
        errors = entry.get("errors")
        for error in errors if isinstance(errors, list) else []:
            if isinstance(error, Mapping):
                issues.append(
                    ValidationIssue(
                        request_id=str(request_id) if request_id is not None else None,
                        code=str(error.get("code", "")),
                        path=str(error.get("path", "")),
                        detail=str(error.get("detail", "")),
                    )
                )
    return issues


def retry_after_seconds(response: httpx.Response) -> float | None:
    """`Retry-After` in seconds when it is a number (HTTP dates are ignored: amoCRM sends seconds)."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return max(seconds, 0.0) if seconds == seconds else None  # NaN is not a delay


def _is_html(response: httpx.Response) -> bool:
    content_type = response.headers.get("Content-Type", "").lower()
    if "text/html" in content_type:
        return True
    return response.content[:200].lstrip().lower().startswith((b"<!doctype html", b"<html"))


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _error(
    kind: type[AmoHTTPError], response: httpx.Response, *, method: str, path: str, **extra: Any
) -> AmoHTTPError:
    problem = _json_or_none(response)
    title, detail = extra.pop("title", None), None
    if isinstance(problem, Mapping):
        title = _short(problem.get("title"))
        detail = _short(problem.get("detail") or problem.get("hint"))
    summary = ": ".join(part for part in (title, detail) if part)
    message = f"{method} {path} → HTTP {response.status_code}" + (f" ({summary})" if summary else "")
    return kind(
        message,
        status_code=response.status_code,
        method=method,
        path=path,
        title=title,
        detail=detail,
        **extra,
    )


def _short(value: Any) -> str | None:
    return str(value)[:300] if value else None
