"""OAuth routes: the consent screen (auto-approved, no UI) and the token endpoint [doc].

The token endpoint counts in the account's rate window like the API [assumed, stricter]; a request whose code or
refresh token is unknown cannot be tied to an account and is only refused.

`GET /oauth?client_id=…&state=…[&account=<subdomain>]` → 302 to the registered redirect URI with `code`,
`referer` (`<subdomain>.amocrm.ru`), `state` and `client_id` [doc].
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse

from amocrm_sandbox.accounts import first_account
from amocrm_sandbox.deps import StateDep, json_body
from amocrm_sandbox.faults import admit_token_request, count_request
from amocrm_sandbox.oauth import exchange
from amocrm_sandbox.problems import Problem
from amocrm_sandbox.state import SandboxState

router = APIRouter()


def consent_redirect(
    sandbox: SandboxState, client_id: str, oauth_state: str | None, subdomain: str | None
) -> str:
    if client_id != sandbox.config.client_id:
        raise Problem(400, "Unknown client_id")
    if subdomain:
        found = sandbox.account_by_subdomain(subdomain)
        if found is None:
            raise Problem(404, f"Account {subdomain} not found")
        chosen = found
    else:
        chosen = first_account(sandbox)
    code = sandbox.tokens.issue_code(chosen.id, now=sandbox.now(), ttl=sandbox.config.code_ttl)
    query = {"code": code, "referer": chosen.host, "client_id": client_id}
    if oauth_state is not None:
        query["state"] = oauth_state
    return f"{sandbox.config.redirect_uri}?{urlencode(query)}"


@router.get("/oauth")
async def consent(
    sandbox: StateDep,
    client_id: str = "",
    oauth_state: Annotated[str | None, Query(alias="state")] = None,
    account: str | None = None,
) -> RedirectResponse:
    return RedirectResponse(consent_redirect(sandbox, client_id, oauth_state, account), status_code=302)


async def token_request_body(request: Request) -> Any:
    """JSON as amoCRM documents it; OAuth libraries (league/oauth2-client) send a form, which amoCRM also takes."""
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    return await json_body(request)


@router.post("/oauth2/access_token")
async def access_token(sandbox: StateDep, body: Annotated[Any, Depends(token_request_body)]) -> JSONResponse:
    # Paced per account like the API, before the grant is spent: a 429 leaves the refresh token usable.
    account_id = sandbox.tokens.account_of_grant(body)
    if account_id is not None:
        count_request(sandbox, account_id, "POST /oauth2/access_token")
        admit_token_request(sandbox, sandbox.limiter, account_id)
    return JSONResponse(
        exchange(sandbox.tokens, sandbox.account, body, now=sandbox.now(), config=sandbox.config)
    )
