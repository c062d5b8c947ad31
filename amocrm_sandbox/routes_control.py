"""Control endpoints under `/_sandbox/` for tests, benches and the demo: no auth, never rate limited.

Accounts and demo data, an account's plan, injected faults, a state dump, request counters, webhook flushing,
token expiry, long-lived tokens, lead delete/restore (API v4 has no lead DELETE), minting the widget's
`X-Auth-Token` and firing amoCRM's widget-install hook.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from amocrm_sandbox.accounts import create_account
from amocrm_sandbox.config import with_overrides
from amocrm_sandbox.deps import StateDep
from amocrm_sandbox.faults import update_faults
from amocrm_sandbox.leads import set_lead_deleted, update_leads
from amocrm_sandbox.oauth import widget_token
from amocrm_sandbox.problems import Problem
from amocrm_sandbox.seeding import new_sandbox_state, seed_shaped
from amocrm_sandbox.state import Account, SandboxState
from amocrm_sandbox.subscriptions import set_plan

router = APIRouter(prefix="/_sandbox")

DEFAULT_FLUSH_TIMEOUT = 10.0


async def _body(request: Request) -> dict[str, Any]:
    """The JSON object sent, or `{}` when the body is empty: control calls may omit it."""
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise Problem(400, "Request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise Problem(400, "Request body must be a JSON object")
    return body


def _int(body: dict[str, Any], key: str, default: int | None = None) -> int:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise Problem(400, f"{key} must be an integer")
    return value


def _shape(body: dict[str, Any]) -> str:
    shape = body.get("shape", "demo")
    if not isinstance(shape, str):
        raise Problem(400, "shape must be a string")
    return shape


def _account_of(sandbox: SandboxState, account_id: int | None) -> Account:
    if account_id is None:
        if not sandbox.accounts:
            raise Problem(404, "No accounts yet")
        return next(iter(sandbox.accounts.values()))
    return sandbox.account(account_id)


@router.post("/reset")
async def reset(request: Request) -> JSONResponse:
    """Starts a new, empty world (the app's settings with the given overrides); the old one's webhooks stop."""
    overrides = await _body(request)
    try:
        fresh = new_sandbox_state(with_overrides(request.app.state.sandbox_config, overrides))
    except ValueError as error:
        raise Problem(400, str(error)) from None
    old: SandboxState = request.app.state.sandbox
    await old.emitter.aclose()
    request.app.state.sandbox = fresh
    return JSONResponse({"reset": True, "accounts": len(request.app.state.sandbox.accounts)})


@router.post("/accounts")
async def new_account(request: Request, sandbox: StateDep) -> JSONResponse:
    body = await _body(request)
    subdomain = body.get("subdomain")
    if not isinstance(subdomain, str):
        raise Problem(400, "subdomain is required")
    shape = _shape(body)
    account = create_account(sandbox, subdomain, body.get("name"))
    if "plan" in body:
        set_plan(account, body["plan"])
    leads = _int(body, "leads", 0)
    if body.get("seed_demo") or leads or "shape" in body:
        seed_shaped(sandbox, account, shape=shape, leads=leads)
    return JSONResponse({"id": account.id, "subdomain": account.subdomain}, status_code=201)


@router.get("/accounts")
async def list_accounts(sandbox: StateDep) -> JSONResponse:
    return JSONResponse(
        [{"id": a.id, "subdomain": a.subdomain, "leads": len(a.leads)} for a in sandbox.accounts.values()]
    )


@router.post("/accounts/{account_id:int}/seed")
async def seed(request: Request, sandbox: StateDep, account_id: int) -> JSONResponse:
    body = await _body(request)
    seed_value = body.get("seed")
    summary = seed_shaped(
        sandbox,
        sandbox.account(account_id),
        shape=_shape(body),
        leads=_int(body, "leads", 0),
        seed=seed_value if isinstance(seed_value, int) else None,
    )
    return JSONResponse(
        {
            "account_id": summary.account_id,
            "leads": summary.leads,
            "contacts": summary.contacts,
            "managers": summary.managers,
            "pipelines": summary.pipelines,
        }
    )


@router.post("/faults")
async def set_faults(request: Request, sandbox: StateDep) -> JSONResponse:
    faults = update_faults(sandbox.faults, await _body(request))
    return JSONResponse(
        {
            "rate_429": faults.rate_429,
            "rate_5xx": faults.rate_5xx,
            "latency_ms": faults.latency_ms,
            "webhook_duplicate_rate": faults.webhook_duplicate_rate,
            "webhook_reorder_window": faults.webhook_reorder_window,
            "webhook_drop_rate": faults.webhook_drop_rate,
            "webhook_sparse_rate": faults.webhook_sparse_rate,
            "token_429s": faults.token_429s,
            "token_5xxs": faults.token_5xxs,
        }
    )


@router.get("/state")
async def dump_state(sandbox: StateDep, account_id: int | None = None) -> JSONResponse:
    return JSONResponse(_account_of(sandbox, account_id).dump())


@router.get("/stats")
async def stats(sandbox: StateDep, account_id: int | None = None) -> JSONResponse:
    if account_id is not None:
        sandbox.account(account_id)
        return JSONResponse(sandbox.stats_for(account_id).as_json())
    return JSONResponse(sandbox.total_stats().as_json())


@router.post("/stats/reset")
async def reset_stats(sandbox: StateDep) -> JSONResponse:
    sandbox.reset_stats()
    return JSONResponse({"reset": True})


@router.post("/webhooks/flush")
async def flush_webhooks(sandbox: StateDep, wait_seconds: float = DEFAULT_FLUSH_TIMEOUT) -> JSONResponse:
    drained = await sandbox.emitter.flush(wait_seconds)
    return JSONResponse(
        {"drained": drained, "queued": sandbox.emitter.queued}, status_code=200 if drained else 504
    )


@router.post("/tokens/expire")
async def expire_tokens(request: Request, sandbox: StateDep) -> JSONResponse:
    account = sandbox.account(_int(await _body(request), "account_id"))
    return JSONResponse({"expired": sandbox.tokens.expire_access(account.id, now=sandbox.now())})


@router.post("/tokens/long-lived")
async def long_lived_token(request: Request, sandbox: StateDep) -> JSONResponse:
    body = await _body(request)
    account = sandbox.account(_int(body, "account_id"))
    ttl = _int(body, "ttl", 365 * 86400)
    token = sandbox.tokens.issue_long_lived(account, now=sandbox.now(), ttl=ttl)
    return JSONResponse(
        {"access_token": token, "expires_in": ttl, "account_id": account.id, "host": account.host}
    )


@router.post("/leads/{lead_id:int}/{action}")
async def delete_or_restore(
    sandbox: StateDep, lead_id: int, action: str, account_id: int | None = None
) -> JSONResponse:
    if action not in ("delete", "restore"):
        raise Problem(404, "Not Found")
    account = _account_of(sandbox, account_id)
    events = set_lead_deleted(sandbox, account, lead_id, deleted=action == "delete")
    sandbox.emitter.emit(account, events)
    return JSONResponse({"id": lead_id, "is_deleted": action == "delete"})


@router.patch("/accounts/{account_id:int}/leads")
async def edit_leads_as_a_person(
    request: Request, sandbox: StateDep, account_id: int, user_id: int | None = None
) -> JSONResponse:
    """Leads changed by a person in amoCRM's UI (body as `PATCH /api/v4/leads`): not the integration's rate
    budget, the same webhooks and history, and API-only fields read-only."""
    account = sandbox.account(account_id)
    raw = await request.body()
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        raise Problem(400, "Request body is not valid JSON") from None
    author = user_id if user_id is not None else account.first_user_id
    if author not in account.users:
        raise Problem(400, f"User {author} not found")
    updated, events = update_leads(sandbox, account, body, user_id=author, by_person=True)
    sandbox.emitter.emit(account, events)
    return JSONResponse({"_embedded": {"leads": updated}})


@router.post("/widget-token")
async def mint_widget_token(request: Request, sandbox: StateDep) -> JSONResponse:
    body = await _body(request)
    account = _account_of(sandbox, body.get("account_id"))
    aud = body.get("aud")
    user_id = _int(body, "user_id", account.first_user_id)
    # As amoCRM does, the token says whether the user is an account admin, unless a test asks otherwise.
    rights = (account.users.get(user_id) or {}).get("rights") or {}
    token = widget_token(
        account,
        user_id=user_id,
        is_admin=bool(body.get("is_admin", rights.get("is_admin", False))),
        aud=aud if isinstance(aud, str) else None,
        ttl=_int(body, "ttl", 1800),
        now=sandbox.now(),
        config=sandbox.config,
    )
    return JSONResponse({"token": token})


@router.post("/accounts/{account_id:int}/plan")
async def change_plan(request: Request, sandbox: StateDep, account_id: int) -> JSONResponse:
    """Moves the account to another plan: "base" refuses the webhooks API, "advanced"/"enterprise" allow it."""
    account = sandbox.account(account_id)
    set_plan(account, (await _body(request)).get("plan"))
    return JSONResponse({"id": account.id, "plan": account.plan})


# The widget-install hook as amoCRM sends it, server to server, to the integration's redirect URI.
# [doc: Kommo "authorization-public"] code, referer, from_widget; [seen: amocrm/amocrm-api-php issue 377, a real
# account] code, state=state (literally), referer, client_id, without from_widget.
WIDGET_HOOK_SHAPES = ("documented", "captured")


@router.post("/widget-install")
async def fire_widget_install(request: Request, sandbox: StateDep) -> JSONResponse:
    """Issues a code for the account and sends the hook in the chosen shape; says how the integration answered
    (amoCRM itself ignores the answer and never sends the hook again)."""
    body = await _body(request)
    account = _account_of(sandbox, body.get("account_id"))
    shape = body.get("shape", "documented")
    if shape not in WIDGET_HOOK_SHAPES:
        raise Problem(400, f"shape must be one of {', '.join(WIDGET_HOOK_SHAPES)}")
    config = sandbox.config
    code = sandbox.tokens.issue_code(account.id, now=sandbox.now(), ttl=config.code_ttl)
    params = (
        {"code": code, "referer": account.host, "from_widget": "1"}
        if shape == "documented"
        else {"code": code, "state": "state", "referer": account.host, "client_id": config.client_id}
    )
    started = time.perf_counter()
    status: int | None = None
    async with httpx.AsyncClient(timeout=config.widget_hook_timeout) as client:
        try:
            status = (await client.get(config.redirect_uri, params=params)).status_code
        except httpx.TimeoutException:
            status = None
    elapsed = time.perf_counter() - started
    return JSONResponse({"shape": shape, "status": status, "elapsed_seconds": round(elapsed, 3)})
