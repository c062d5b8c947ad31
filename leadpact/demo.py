"""The one-command demo: with no amoCRM credentials, `leadpact serve` starts the bundled sandbox with demo data and
installs LeadPact into it through the real OAuth flow, over real HTTP."""

from __future__ import annotations

import asyncio
import html
import logging
import multiprocessing
import secrets
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from urllib.parse import urlencode

import anyio
import httpx
import typer
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import SecretStr

from amocrm_sandbox import ACCOUNT_SHAPES, SandboxConfig, create_sandbox_app
from integration.bootstrap import Services
from integration.db import session_scope
from integration.i18n import Language, Text
from integration.settings import Settings
from integration.storage import accounts as account_store
from leadpact.oauth_routes import request_language
from leadpact.widget.auth import widget_audience
from leadpact.widget.build import WIDGET_SOURCE, widget_files

log = logging.getLogger(__name__)

DEMO_READY = Text(
    ru="Демо готово: LeadPact установлен в песочницу amoCRM, лиды классифицированы, история статусов, план, "
    "расходы и споры загружены ({plans} план., {spend} строк расходов, {disputes} спора). Ссылки — в начале лога.",
    en="Demo ready: LeadPact is installed into the amoCRM sandbox, leads are classified, status history, plans, "
    "spend and disputes are loaded ({plans} plans, {spend} spend lines, {disputes} disputes). Links are at the top "
    "of the log.",
)
DEMO_LINKS_TITLE = Text(ru="Демо LeadPact — откройте в браузере:", en="LeadPact demo — open in a browser:")
DEMO_LINKS: tuple[tuple[Text, str], ...] = (
    (Text(ru="админка", en="admin pages"), "{public}/demo/admin"),
    (Text(ru="отчёт к встрече", en="meeting report"), "{public}/demo/admin?next=/reports/weekly"),
    (Text(ru="вход руководителя продаж", en="the sales head's sign-in"), "{public}/demo/admin?as=sales"),
    (
        Text(ru="карточка сделки с панелью LeadPact", en="lead card with the LeadPact panel"),
        "{public}/demo/lead-card",
    ),
    (
        Text(ru="та же карточка у администратора", en="the same card as the admin sees it"),
        "{public}/demo/lead-card?as=admin",
    ),
    (Text(ru="состояние песочницы amoCRM", en="amoCRM sandbox state"), "{sandbox}/_sandbox/"),
)


def demo_links(lang: Language, *, public: str, sandbox: str) -> list[str]:
    """The lines the demo logs first: what a person opens, one URL a line."""
    width = max(len(label(lang)) for label, _ in DEMO_LINKS)
    return [DEMO_LINKS_TITLE(lang)] + [
        f"  {label(lang):<{width}}  {url.format(public=public, sandbox=sandbox)}" for label, url in DEMO_LINKS
    ]


DEMO_FAILED = Text(
    ru="Не удалось установить LeadPact в песочницу: {error}",
    en="Could not install LeadPact into the sandbox: {error}",
)


class SandboxNotStarted(RuntimeError):
    """The demo's sandbox could not start (its port is taken, or it exited); the message says which port."""


@dataclass(frozen=True, slots=True)
class DemoPlan:
    settings: Settings
    sandbox_url: str
    client_secret: str


def demo_settings(settings: Settings, *, public_url: str, sandbox_url: str) -> DemoPlan:
    """Settings that point every amoCRM URL at the sandbox, with a client id/secret made up for this run."""
    client_secret = secrets.token_urlsafe(24)
    updated = settings.model_copy(
        update={
            "amocrm_client_id": "leadpact-demo",
            "amocrm_client_secret": SecretStr(client_secret),
            "amocrm_redirect_uri": f"{public_url}/oauth/callback",
            "amocrm_base_url": sandbox_url,
            "amocrm_authorize_url": f"{sandbox_url}/oauth",
            "public_url": public_url,
            # The demo account's leads were made before the install: classify all of them on the first pass.
            "reconcile_first_run_lookback_seconds": 365 * 86400,
            # The sandbox's seeded history has its wins weeks back; the demo's sales team closes deals today. The
            # report counts a won deal in the week its lead came in (a cohort, which the report names), so last
            # week's meeting sees its deals, revenue and cost per customer.
            "stats_won_basis": "cohort",
            # The sandbox runs in this process, so its clock sees our evenly paced requests bunched by the event
            # loops sharing one interpreter; pacing at 6/s under its 7/s keeps the install free of 429s.
            "rate_limit_per_second": min(settings.rate_limit_per_second, 6.0),
        }
    )
    return DemoPlan(settings=updated, sandbox_url=sandbox_url, client_secret=client_secret)


DEMO_ACCOUNT_HELP = (
    "Sandbox account: demo (LeadPact's coded fields) | realistic (hand-made fields: Russian names, no codes) / "
    "аккаунт песочницы: demo (поля с кодами LeadPact) | realistic (поля, созданные вручную, без кодов)"
)


def known_demo_account(value: str) -> str:
    """Typer callback: the value when it names a sandbox account shape, else a usage error listing them."""
    if value not in ACCOUNT_SHAPES:
        raise typer.BadParameter(f"{value!r}: {' | '.join(ACCOUNT_SHAPES)}")
    return value


def demo_sandbox_config(
    plan: DemoPlan, *, public_url: str, demo_leads: int, demo_account: str = "demo"
) -> SandboxConfig:
    """The bundled sandbox's configuration: demo leads in an account of the `demo_account` shape, accepting the
    client id/secret `demo_settings` made up."""
    return SandboxConfig(
        client_id="leadpact-demo",
        client_secret=plan.client_secret,
        redirect_uri=f"{public_url}/oauth/callback",
        seed_demo=True,
        demo_leads=demo_leads,
        demo_account=demo_account,
    )


def _run_sandbox(config: SandboxConfig, port: int) -> None:
    import os
    import threading

    import uvicorn

    parent = multiprocessing.parent_process()
    if parent is not None:
        # The sandbox lives exactly as long as the demo: uvicorn ends the demo process by re-raising SIGTERM, which
        # skips its clean-up, so the sandbox watches its parent itself.
        def exit_with_parent() -> None:
            parent.join()
            os._exit(0)

        threading.Thread(target=exit_with_parent, daemon=True).start()
    uvicorn.run(
        create_sandbox_app(config), host="127.0.0.1", port=port, log_level="warning", access_log=False
    )


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As uvicorn binds: connections of a server that just stopped (TIME_WAIT) do not make the port taken.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


SANDBOX_DID_NOT_START = Text(
    ru="Песочница amoCRM не запустилась на порту {port} (порт занят? — выберите другой: --sandbox-port).",
    en="The amoCRM sandbox did not start on port {port} (port taken? — choose another: --sandbox-port).",
)


SANDBOX_EXITED = Text(
    ru="Песочница amoCRM завершилась при запуске на порту {port} (код {code}); её ошибка — выше в логе.",
    en="The amoCRM sandbox exited while starting on port {port} (code {code}); its error is above in the log.",
)
SANDBOX_SLOW = Text(
    ru="Песочница amoCRM не ответила за минуту на порту {port}.",
    en="The amoCRM sandbox did not answer within a minute on port {port}.",
)


@contextmanager
def sandbox_process(config: SandboxConfig, *, port: int, lang: Language) -> Iterator[str]:
    """The demo's sandbox in a process of its own, as amoCRM is another machine: its clock and event loop never
    wait on ours, so requests we pace under its 7/s arrive paced (in one process, both servers share one
    interpreter and our paced requests reached it in bunches — a 429 at every start)."""
    if not _port_is_free(port):
        raise SandboxNotStarted(SANDBOX_DID_NOT_START(lang, port=port))
    process = multiprocessing.get_context("spawn").Process(
        target=_run_sandbox, args=(config, port), name="amocrm-sandbox", daemon=True
    )
    process.start()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/_sandbox/accounts", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if not process.is_alive():
                raise SandboxNotStarted(SANDBOX_EXITED(lang, port=port, code=process.exitcode))
            if time.monotonic() > deadline:
                raise SandboxNotStarted(SANDBOX_SLOW(lang, port=port))
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.join(timeout=10)


@dataclass(slots=True)
class DemoStatus:
    """Shared by the install task and the demo pages of one process: the pages wait until the data is in."""

    ready: bool = False


async def install_into_sandbox(
    services: Services, stop: asyncio.Event, *, status: DemoStatus, demo_leads: int
) -> None:
    """Background task of the demo app: once our server answers, walk the OAuth flow like a browser would."""
    public = services.settings.public_url
    async with httpx.AsyncClient(timeout=30, follow_redirects=True) as browser:
        for _ in range(300):
            if stop.is_set():
                return
            try:
                if (await browser.get(f"{public}/healthz")).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
        try:
            response = await browser.get(f"{public}/oauth/start")
            response.raise_for_status()
        except httpx.HTTPError as exc:
            log.error(DEMO_FAILED(services.settings.language, error=type(exc).__name__))
            return
    # Provision, publish the promo catalog and the meeting report now rather than on the scheduler's next tick.
    from integration.install import provision_due_accounts
    from leadpact.demo_seed import seed_demo_figures
    from leadpact.scheduler import PROVISIONING_STEPS, run_jobs_once

    installed = await anyio.to_thread.run_sync(_installed_accounts, services)
    for account_id in installed:
        # The code exchange and the install's probe were spent from the account's 7/s outside our pacing (the
        # account's id was not known yet). In production provisioning runs on a later scheduler tick; here it runs
        # at once, so it first takes those two from the account's budget instead of crossing the limit.
        for _ in range(2):
            await services.amo.limiter.acquire(account_id)
    await provision_due_accounts(services, PROVISIONING_STEPS)
    await anyio.to_thread.run_sync(_import_demo_promos, services, demo_leads)
    figures = [
        await seed_demo_figures(services, account_id=account_id, now=int(time.time()))
        for account_id in installed
    ]
    await run_jobs_once(services)
    status.ready = True
    log.info(
        DEMO_READY(
            services.settings.language,
            plans=sum(f.plans for f in figures),
            spend=sum(f.spend_rows for f in figures),
            disputes=sum(f.disputes for f in figures),
        )
    )


def _installed_accounts(services: Services) -> list[int]:
    with session_scope(services.engine) as session:
        return [account.id for account in account_store.list_active_accounts(session=session)]


def _import_demo_promos(services: Services, demo_leads: int) -> None:
    """The demo account gets the bundled promos, matching the sandbox's seeded campaigns. A coupon pool gets a
    code for every demo lead (HOT-0001 … HOT-0200): the file lists ten, and an empty pool is a warning the demo
    should not raise about its own data."""
    from integration.storage import promos as promo_store
    from sync.promos.importing import parse_promo_yaml
    from sync.promos.service import import_promos

    promo_file = parse_promo_yaml((resources.files("sync.promos") / "demo" / "promos.yaml").read_bytes())
    with session_scope(services.engine) as session:
        for account in account_store.list_accounts(session=session):
            import_promos(session=session, account_id=account.id, promo_file=promo_file, now=int(time.time()))
            for definition in promo_file.definitions:
                prefix, _, number = (definition.coupon_codes[:1] or ("",))[0].rpartition("-")
                record = promo_store.get_promo(
                    session=session, account_id=account.id, key=definition.promo.key
                )
                if not prefix or not number.isdigit() or record is None or record.id is None:
                    continue
                promo_store.add_coupon_codes(
                    session=session,
                    account_id=account.id,
                    promo_id=record.id,
                    codes=(f"{prefix}-{n:0{len(number)}d}" for n in range(1, demo_leads + 1)),
                )


DEMO_ADMIN_UNAVAILABLE = Text(
    ru="LeadPact ещё устанавливается в песочницу и загружает демо-данные — страница обновится сама через пару "
    "секунд.",
    en="LeadPact is still being installed into the sandbox and loading the demo data — this page reloads itself "
    "in a couple of seconds.",
)


def _local_path(value: str | None, default: str) -> str:
    """Where to go after the demo sign-in: a path on this site only (never `//host` or a full URL)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return default


def _not_ready(lang: Language) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html lang='{lang}'><head><meta charset='utf-8'><meta http-equiv='refresh' content='2'>"
        f"<title>LeadPact</title></head><body style='font-family:sans-serif;max-width:40em;margin:3em auto'>"
        f"<p>{html.escape(DEMO_ADMIN_UNAVAILABLE(lang))}</p></body></html>",
        status_code=503,
        headers={"Retry-After": "2"},
    )


def _head_of(services: Services, account_id: int, role: str) -> int | None:
    from integration.storage import rulesets as ruleset_store

    with session_scope(services.engine) as session:
        chosen = ruleset_store.signers(session=session, account_id=account_id)
    people = chosen.get("sales" if role == "sales" else "marketing") or {}
    return min(people) if people else None


def _showcase_lead(services: Services) -> int | None:
    """The newest hot lead: its panel shows a level with its reason, promos and a coupon."""
    from sqlmodel import col, select

    from integration.storage.leads import LeadSnapshot

    with session_scope(services.engine) as session:
        return session.exec(
            select(LeadSnapshot.lead_id)
            .where(LeadSnapshot.level == "hot", col(LeadSnapshot.is_deleted).is_(False))
            .order_by(col(LeadSnapshot.created_at).desc())
            .limit(1)
        ).first()


def demo_router(status: DemoStatus) -> APIRouter:
    """Demo only: `/demo/admin` asks the bundled sandbox for an admin's widget token (what amoCRM's widget would
    send) and signs in with it, so a visitor can open the admin pages without a real amoCRM; `next` names the
    page to land on. `/demo/lead-card` opens the sandbox's lead card, where the built widget draws its panel."""
    router = APIRouter()

    def ready_account(services: Services) -> int | None:
        settings = services.settings
        if not settings.amocrm_base_url or not settings.amocrm_redirect_uri:
            return None
        with session_scope(services.engine) as session:
            accounts = account_store.list_active_accounts(session=session)
        return accounts[0].id if accounts and status.ready else None

    @router.get("/demo/admin")
    async def demo_admin(
        request: Request, next: str | None = None, as_: str | None = Query(None, alias="as")
    ) -> Response:
        services: Services = request.app.state.services
        settings = services.settings
        account_id = ready_account(services)
        if account_id is None or settings.amocrm_redirect_uri is None:
            return _not_ready(request_language(request, services))
        claims: dict[str, object] = {
            "account_id": account_id,
            "is_admin": True,
            "aud": widget_audience(settings.amocrm_redirect_uri),
            "ttl": 1800,
        }
        if as_ in ("marketing", "sales"):
            # Sign in as the department's head, to sign a rule version off as the second person.
            head = await anyio.to_thread.run_sync(_head_of, services, account_id, as_)
            if head is not None:
                claims["user_id"] = head
        minted = await services.http.post(f"{settings.amocrm_base_url}/_sandbox/widget-token", json=claims)
        minted.raise_for_status()
        query = {"token": str(minted.json()["token"]), "next": _local_path(next, "/admin")}
        if "lang" in request.query_params:
            query["lang"] = request.query_params["lang"]
        return RedirectResponse(f"/admin/login?{urlencode(query)}", status_code=302)

    @router.get("/demo/lead-card")
    async def demo_lead_card(
        request: Request, lead: int | None = None, as_: str | None = Query(None, alias="as")
    ) -> Response:
        services: Services = request.app.state.services
        settings = services.settings
        if ready_account(services) is None:
            return _not_ready(request_language(request, services))
        query: dict[str, str] = {
            "widget": f"{settings.public_url}/demo/widget/",
            "backend": settings.public_url,
        }
        chosen = lead if lead is not None else await anyio.to_thread.run_sync(_showcase_lead, services)
        if chosen is not None:
            query["lead"] = str(chosen)
        query["lang"] = request_language(request, services)
        if as_ == "admin":
            # The card as the account's admin sees it: the panel ends with the way into LeadPact's rules.
            query["viewer"] = "admin"
        return RedirectResponse(
            f"{settings.amocrm_base_url}/_sandbox/card?{urlencode(query)}", status_code=302
        )

    @router.get("/demo/widget/{name:path}")
    def demo_widget_file(name: str) -> Response:
        """The widget's files as amoCRM would serve them from the uploaded archive (those files only)."""
        served = {path.relative_to(WIDGET_SOURCE).as_posix(): path for path in widget_files()}
        if name not in served:
            return Response(status_code=404)
        media = {".js": "application/javascript", ".json": "application/json", ".png": "image/png"}
        return Response(
            served[name].read_bytes(),
            media_type=media.get(served[name].suffix, "application/octet-stream"),
            # The sandbox's lead card (another origin) loads them, as amoCRM loads an uploaded widget.
            headers={"Access-Control-Allow-Origin": "*"},
        )

    return router
