"""The widget's backend: the lead card panel, dispute flags and coupon use, for amoCRM's widget only.

Every request carries amoCRM's `X-Auth-Token`; the account comes from the verified token, never from the URL, so
a lead id of another account is simply not found (404). Anything wrong with the token, the account or the
origin is a bare 401. CORS is answered only for origins of an installed account (`account_origins`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import partial
from typing import Annotated, Any, Literal, Protocol

import anyio
from fastapi import APIRouter, Depends, Header, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.engine import Engine
from sqlmodel import Session

from integration.db import session_scope
from integration.settings import Settings
from integration.storage import accounts as account_store
from integration.storage import promos as promo_store
from integration.storage import rulesets as ruleset_store
from integration.storage.leads import LeadSnapshot
from leadpact.widget.auth import (
    AMOCRM_DOMAINS,
    WidgetAuthError,
    WidgetClaims,
    account_origins,
    check_account,
    origin_of,
    verify_widget_token,
    widget_audience,
)
from leadpact.widget.panel import LeadPanel, find_lead, lead_panel
from sync.promos.importing import parse_promo_items
from sync.promos.service import import_promos

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/widget", tags=["widget"])

CORS_METHODS = "GET, POST, OPTIONS"
CORS_HEADERS = "X-Auth-Token, Content-Type"
UNAUTHORIZED = {"detail": "Unauthorized"}


class Unauthorized(HTTPException):
    def __init__(self) -> None:
        super().__init__(status_code=401, detail=UNAUTHORIZED["detail"])


class WidgetServices(Protocol):
    """What the widget backend needs from `integration.bootstrap.Services`."""

    @property
    def settings(self) -> Settings: ...

    @property
    def engine(self) -> Engine: ...


def _services(request: Request) -> WidgetServices:
    services: WidgetServices = request.app.state.services
    return services


def _clock(request: Request) -> Callable[[], float]:
    # Tests may put a fixed clock on the app; the service runs on wall time.
    clock: Callable[[], float] = getattr(request.app.state, "widget_clock", time.time)
    return clock


class WidgetCaller:
    """A verified widget call: the account it acts for, the user, and the origin to allow."""

    def __init__(self, claims: WidgetClaims, allowed_origin: str | None) -> None:
        self.claims = claims
        self.allowed_origin = allowed_origin

    @property
    def account_id(self) -> int:
        return self.claims.account_id


def authorize(
    request: Request,
    x_auth_token: Annotated[str | None, Header()] = None,
    account_id: int | None = None,
) -> WidgetCaller:
    services = _services(request)
    settings = services.settings
    secret = settings.amocrm_client_secret.get_secret_value() if settings.amocrm_client_secret else ""
    audience = widget_audience(settings.amocrm_redirect_uri or "")
    origin = request.headers.get("origin")
    try:
        claims = verify_widget_token(
            x_auth_token or "", client_secret=secret, audience=audience, now=int(_clock(request)())
        )
        if account_id is not None and account_id != claims.account_id:
            raise WidgetAuthError("token is for another account than the one asked about")
        with session_scope(services.engine) as session:
            account = account_store.installed_account(session=session, account_id=claims.account_id)
            if account is None:
                raise WidgetAuthError("account not installed")
            allowed = account_origins(account.subdomain, account.base_url)
        check_account(claims, subdomain=account.subdomain, allowed_origins=allowed, request_origin=origin)
    except WidgetAuthError as error:
        log.info("widget call refused: %s", error)
        raise Unauthorized() from None
    return WidgetCaller(claims, origin_of(origin) if origin else None)


CallerDep = Annotated[WidgetCaller, Depends(authorize)]


def _engine(request: Request) -> Engine:
    return _services(request).engine


EngineDep = Annotated[Engine, Depends(_engine)]


def cors(response: Response, caller: WidgetCaller) -> None:
    if caller.allowed_origin:
        response.headers["Access-Control-Allow-Origin"] = caller.allowed_origin
        response.headers["Vary"] = "Origin"


def _not_found(caller: WidgetCaller) -> HTTPException:
    # The account's own widget may read a 404 (so it can say "not synced yet"); nobody else may.
    headers = (
        {"Access-Control-Allow-Origin": caller.allowed_origin, "Vary": "Origin"}
        if caller.allowed_origin
        else None
    )
    return HTTPException(status_code=404, detail="Not found", headers=headers)


def _lead_or_404(session: Session, caller: WidgetCaller, lead_id: int) -> LeadSnapshot:
    snapshot = find_lead(session=session, account_id=caller.account_id, lead_id=lead_id)
    if snapshot is None:
        raise _not_found(caller)
    return snapshot


def _today(request: Request) -> datetime:
    return datetime.fromtimestamp(_clock(request)(), tz=UTC)


@router.get("/leads/{lead_id}", response_model=LeadPanel)
def get_lead_panel(
    lead_id: int, caller: CallerDep, engine: EngineDep, request: Request, response: Response
) -> LeadPanel:
    """The LeadPact panel of a lead of the caller's account."""
    cors(response, caller)
    with session_scope(engine) as session:
        snapshot = _lead_or_404(session, caller, lead_id)
        now = _today(request)
        panel = lead_panel(
            session=session,
            snapshot=snapshot,
            today=now.date(),
            now=int(now.timestamp()),
            untouched_after=_services(request).settings.untouched_after_seconds,
        )
        can_open_admin = caller.claims.is_admin or ruleset_store.is_signer(
            session=session, account_id=caller.account_id, user_id=caller.claims.user_id
        )
    return panel.model_copy(update={"can_open_admin": can_open_admin})


class DisputeIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)
    # What the rep disputes; the panel's "wrong qualification?" form disputes the level.
    criterion: Literal["channel", "level", "qualified"] = "level"


class DisputeOut(BaseModel):
    id: int
    lead_id: int
    created_at: int


@router.post("/leads/{lead_id}/disputes", status_code=201, response_model=DisputeOut)
async def post_dispute(
    lead_id: int, body: DisputeIn, caller: CallerDep, engine: EngineDep, request: Request, response: Response
) -> DisputeOut:
    """A rep flags the lead as misqualified, with a reason; the disputed criterion's owner gets an amoCRM task on
    the lead (the dispute is stored first: amoCRM failing loses nothing)."""
    cors(response, caller)
    now = int(_clock(request)())
    dispute, task = await anyio.to_thread.run_sync(
        partial(_store_dispute, engine, caller, lead_id, body, now, request)
    )
    if task is not None:
        await _set_dispute_task(request, caller.account_id, dispute.id or 0, task)
    assert dispute.id is not None
    return DisputeOut(id=dispute.id, lead_id=lead_id, created_at=dispute.created_at)


def _store_dispute(
    engine: Engine, caller: WidgetCaller, lead_id: int, body: DisputeIn, now: int, request: Request
) -> tuple[Any, dict[str, Any] | None]:
    from integration.storage import rulesets as ruleset_store
    from leadpact.disputes import criterion_owners, dispute_task

    services = _services(request)
    with session_scope(engine) as session:
        snapshot = _lead_or_404(session, caller, lead_id)
        dispute = promo_store.add_dispute(
            session=session,
            account_id=caller.account_id,
            lead_id=lead_id,
            user_id=caller.claims.user_id,
            reason=body.reason.strip(),
            now=now,
            snapshot=snapshot,
            criterion=body.criterion,
        )
        owners = criterion_owners(
            body.criterion, ruleset_store.signers(session=session, account_id=caller.account_id)
        )
        values = {"channel": snapshot.channel, "level": snapshot.level, "qualified": str(snapshot.qualified)}
    if not hasattr(services, "connector"):
        return dispute, None
    task = dispute_task(
        lead_id=lead_id,
        criterion=body.criterion,
        value=values.get(body.criterion),
        reason=dispute.reason,
        owner=owners[0] if owners else None,
        public_url=services.settings.public_url,
        now=now,
        lang=services.settings.language,
    )
    return dispute, task


async def _set_dispute_task(request: Request, account_id: int, dispute_id: int, task: dict[str, Any]) -> None:
    from integration.accounts import AccountNotConnected
    from integration.amocrm import AmoError

    services: Any = _services(request)
    try:
        (task_id,) = await services.connector.api_for(account_id).create_tasks([task])
    except (AmoError, AccountNotConnected) as error:
        log.warning(
            "dispute task not created", extra={"account_id": account_id, "error": type(error).__name__}
        )
        return
    with session_scope(services.engine) as session:
        stored = session.get(promo_store.LeadDispute, dispute_id)
        if stored is not None:
            stored.task_id = task_id
            session.add(stored)


class CouponUsedIn(BaseModel):
    code: str = Field(min_length=1, max_length=64)


class CouponUsedOut(BaseModel):
    code: str
    used: bool


@router.post("/leads/{lead_id}/coupon-used", response_model=CouponUsedOut)
def post_coupon_used(
    lead_id: int,
    body: CouponUsedIn,
    caller: CallerDep,
    engine: EngineDep,
    request: Request,
    response: Response,
) -> CouponUsedOut:
    """A rep marks the lead's coupon as used by the customer."""
    cors(response, caller)
    with session_scope(engine) as session:
        _lead_or_404(session, caller, lead_id)
        marked = promo_store.mark_coupon_used(
            session=session,
            account_id=caller.account_id,
            lead_id=lead_id,
            code=body.code.strip(),
            user_id=caller.claims.user_id,
            now=int(_clock(request)()),
        )
    if not marked:
        raise _not_found(caller)
    return CouponUsedOut(code=body.code.strip(), used=True)


class PromoOut(BaseModel):
    key: str
    name: str
    description: str
    condition: str
    code: str | None
    starts_on: date | None
    ends_on: date | None
    coupons_total: int
    coupons_free: int


class PromosIn(BaseModel):
    """Promos as in the YAML import: `key`, `name`, `description`, `condition`, `code`, `coupons`, dates."""

    promos: list[dict[str, Any]]


class PromosSaved(BaseModel):
    promos_saved: int
    coupons_added: int


@router.get("/promos", response_model=list[PromoOut])
def get_promos(caller: CallerDep, engine: EngineDep, response: Response) -> list[PromoOut]:
    """The account's promos with what is left in their coupon pools."""
    cors(response, caller)
    with session_scope(engine) as session:
        records = promo_store.list_promos(session=session, account_id=caller.account_id)
        pools = promo_store.pool_stats(session=session, account_id=caller.account_id)
    empty = promo_store.PoolStats(0, 0, 0)
    return [
        PromoOut(
            key=r.key,
            name=r.name,
            description=r.description,
            condition=r.condition,
            code=r.shared_code,
            starts_on=r.starts_on,
            ends_on=r.ends_on,
            coupons_total=pools.get(r.id or 0, empty).total,
            coupons_free=pools.get(r.id or 0, empty).free,
        )
        for r in records
    ]


@router.put("/promos", response_model=PromosSaved)
def put_promos(
    body: PromosIn, caller: CallerDep, engine: EngineDep, request: Request, response: Response
) -> PromosSaved | JSONResponse:
    """An account admin saves promos (all or nothing); problems come back by item and field in ru and en."""
    cors(response, caller)
    if not caller.claims.is_admin:
        raise HTTPException(status_code=403, detail="Forbidden", headers=dict(response.headers))
    with session_scope(engine) as session:
        outcome = import_promos(
            session=session,
            account_id=caller.account_id,
            promo_file=parse_promo_items(body.promos),
            now=int(_clock(request)()),
            source=promo_store.PromoSource.API,
        )
    if not outcome.ok:
        errors = [
            {"item": e.row, "field": e.field, "message": {"ru": e.render("ru"), "en": e.render("en")}}
            for e in outcome.errors
        ]
        return JSONResponse({"errors": errors}, status_code=422, headers=dict(response.headers))
    return PromosSaved(promos_saved=outcome.promos_saved, coupons_added=outcome.coupons_added)


def _origin_is_an_installed_account(engine: Engine, origin: str) -> bool:
    wanted = origin_of(origin)
    host = wanted.split("://", 1)[-1]
    subdomain = next((host.removesuffix("." + d) for d in AMOCRM_DOMAINS if host.endswith("." + d)), None)
    with session_scope(engine) as session:
        for account in account_store.list_accounts(session=session):
            if (subdomain is not None and account.subdomain.lower() == subdomain) or origin_of(
                account.base_url
            ) == wanted:
                return True
    return False


@router.options("/{path:path}")
def preflight(path: str, request: Request, engine: EngineDep) -> Response:
    """CORS preflight: allowed only from the pages of an installed account (the token is checked after)."""
    origin = request.headers.get("origin")
    if not origin or not _origin_is_an_installed_account(engine, origin):
        return JSONResponse(UNAUTHORIZED, status_code=401)
    return Response(
        status_code=204,
        headers={
            "Access-Control-Allow-Origin": origin_of(origin),
            "Access-Control-Allow-Methods": CORS_METHODS,
            "Access-Control-Allow-Headers": CORS_HEADERS,
            "Access-Control-Max-Age": "600",
            "Vary": "Origin",
        },
    )
