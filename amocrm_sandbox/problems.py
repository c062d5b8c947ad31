"""amoCRM's error answers: `application/problem+json` bodies `{title, type, status, detail}` [doc].

Validation failures carry amoCRM's `validation-errors` list, one item per rejected entity of the batch [doc]:
`{"validation-errors":[{"request_id":"0","errors":[{"code":"NotSupportedChoice",
"path":"custom_fields_values.0.field_id","detail":"..."}]}],"title":"Bad Request",...}`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from fastapi.responses import JSONResponse

PROBLEM_MEDIA_TYPE = "application/problem+json"


@dataclass(frozen=True, slots=True)
class FieldError:
    code: str
    path: str
    detail: str


@dataclass(frozen=True, slots=True)
class EntityErrors:
    """The errors of one entity of a batch, by its `request_id` (its index when the client sent none)."""

    request_id: str
    errors: tuple[FieldError, ...]


class Problem(Exception):
    """An amoCRM error answer; raised by the domain code and rendered by one exception handler."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        validation_errors: tuple[EntityErrors, ...] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.validation_errors = validation_errors
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if self.validation_errors:
            body["validation-errors"] = [
                {
                    "request_id": item.request_id,
                    "errors": [{"code": e.code, "path": e.path, "detail": e.detail} for e in item.errors],
                }
                for item in self.validation_errors
            ]
        body.update(
            title=HTTPStatus(self.status).phrase,
            type=f"https://httpstatus.es/{self.status}",
            status=self.status,
            detail=self.detail,
        )
        return body


@dataclass(slots=True)
class ValidationCollector:
    """Gathers field errors of one batch item; `raise_if_any` turns them into amoCRM's 400 answer."""

    items: list[EntityErrors] = field(default_factory=list)

    def add(self, request_id: str, errors: list[FieldError]) -> None:
        if errors:
            self.items.append(EntityErrors(request_id=request_id, errors=tuple(errors)))

    def raise_if_any(self) -> None:
        if self.items:
            raise Problem(400, "Request validation failed", validation_errors=tuple(self.items))


def bad_request(detail: str) -> Problem:
    return Problem(400, detail)


def not_found(detail: str = "Not Found") -> Problem:
    return Problem(404, detail)


def problem_response(problem: Problem) -> JSONResponse:
    return JSONResponse(
        problem.body(), status_code=problem.status, media_type=PROBLEM_MEDIA_TYPE, headers=problem.headers
    )
