"""What every API handler needs: the calling account (from the Bearer token), limits applied, and the
amoCRM response shapes — pages with `_page`/`_links`, 204 with an empty body for an empty list [doc]."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse, Response

from amocrm_sandbox.faults import admit, admit_unauthorized, count_request
from amocrm_sandbox.problems import Problem
from amocrm_sandbox.query import ListParams, parse_http_date, parse_list_params
from amocrm_sandbox.state import Account, Record, SandboxState


def sandbox_state(request: Request) -> SandboxState:
    state: SandboxState = request.app.state.sandbox
    return state


StateDep = Annotated[SandboxState, Depends(sandbox_state)]


@dataclass(frozen=True, slots=True)
class Caller:
    state: SandboxState
    account: Account
    user_id: int
    base_url: str


def _route_key(request: Request) -> str:
    """`PATCH /api/v4/leads`, `GET /api/v4/leads/{lead_id}`: ids stay templated, entities filled in."""
    route = request.scope.get("route")
    path: str = getattr(route, "path", request.url.path)
    for name, value in request.path_params.items():
        path = path.replace(f"{{{name}}}", str(value))
    return f"{request.method} {path.replace(':int}', '}')}"


async def api_caller(request: Request) -> Caller:
    state = sandbox_state(request)
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Problem(401, "Unauthorized")
    token = token.strip()
    try:
        account_id = state.tokens.account_for(token, now=state.now())
    except Problem:
        issuer = state.tokens.issuer_of(token)
        if issuer is not None and state.config.count_401_in_rate_window:
            count_request(state, issuer, _route_key(request))
            admit_unauthorized(state, state.limiter, issuer)
        raise
    account = state.account(account_id)
    count_request(state, account.id, _route_key(request))
    admit(state, state.limiter, account.id)
    if state.faults.latency_ms:
        await asyncio.sleep(state.faults.latency_ms / 1000)
    return Caller(state=state, account=account, user_id=account.first_user_id, base_url=base_url(request))


CallerDep = Annotated[Caller, Depends(api_caller)]


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def list_params(request: Request) -> ListParams:
    return parse_list_params(
        request.query_params.multi_items(),
        page_limit_max=sandbox_state(request).config.page_limit_max,
        modified_since=parse_http_date(request.headers.get("if-modified-since")),
    )


ParamsDep = Annotated[ListParams, Depends(list_params)]


async def json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        raise Problem(400, "Request body is empty")
    try:
        return json.loads(raw)
    except ValueError:
        raise Problem(400, "Request body is not valid JSON") from None


BodyDep = Annotated[Any, Depends(json_body)]


def page_response(
    request: Request, entity: str, records: list[Record], has_next: bool, params: ListParams
) -> Response:
    if not records:
        return Response(status_code=204)
    links: Record = {"self": {"href": str(request.url.include_query_params(page=params.page))}}
    if has_next:
        links["next"] = {"href": str(request.url.include_query_params(page=params.page + 1))}
    if params.page > 1:
        links["prev"] = {"href": str(request.url.include_query_params(page=params.page - 1))}
    return JSONResponse({"_page": params.page, "_links": links, "_embedded": {entity: records}})


def batch_response(caller: Caller, path: str, entity: str, items: list[Record]) -> JSONResponse:
    embedded = [
        {**item, "_links": {"self": {"href": f"{caller.base_url}{path}/{item['id']}"}}} for item in items
    ]
    return JSONResponse(
        {"_links": {"self": {"href": f"{caller.base_url}{path}"}}, "_embedded": {entity: embedded}}
    )
