"""The app factory: `create_app(settings)` wires routes to the services built in the lifespan."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

from integration.bootstrap import Services, build_services
from integration.i18n import Text
from integration.settings import Settings
from leadpact.oauth_routes import request_language
from leadpact.oauth_routes import router as oauth_router

log = logging.getLogger(__name__)

BackgroundTask = Callable[[Services, asyncio.Event], Coroutine[Any, Any, None]]

HOME_TITLE = Text(ru="LeadPact — качество лидов по фактам", en="LeadPact — lead quality by facts")
HOME_INSTALL_INTRO = Text(
    ru="Установите интеграцию в свой аккаунт amoCRM: ",
    en="Install the integration into your amoCRM account: ",
)
HOME_INSTALL = Text(ru="подключить amoCRM", en="connect amoCRM")
HOME_DEMO = Text(
    ru="Демо на песочнице amoCRM: админка и отчёт без входа в amoCRM — ",
    en="Demo on the amoCRM sandbox: admin pages and the report without an amoCRM sign-in — ",
)
HOME_DEMO_ADMIN = Text(ru="открыть админку демо", en="open the demo admin")


def create_app(
    settings: Settings,
    *,
    background: tuple[BackgroundTask, ...] = (),
    services: Services | None = None,
    warm_reports: bool = False,
    demo: bool = False,
) -> FastAPI:
    """The LeadPact web app. `background` tasks (worker, scheduler) run for the app's lifetime; with
    `warm_reports`, last week's meeting reports are kept computed so their page never waits on a cold cache;
    `demo` links the home page to the demo's admin sign-in."""
    from leadpact.admin.report_cache import WeeklyReportCache
    from leadpact.admin.reports import run_report_warmer

    report_cache = WeeklyReportCache()
    if warm_reports:
        background = (*background, partial(run_report_warmer, cache=report_cache))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if services is not None:
            app.state.services = services
            async with _run_background(services, background), _closing_inbox_writer(app):
                yield
            return
        async with build_services(settings) as built:
            app.state.services = built
            # Start-up objects (routes, models, compiled rules) live for the whole process: keeping them out of
            # every full GC pass took the receiver's p99 from ~116 ms to ~23 ms in bench/webhooks.py.
            gc.freeze()
            async with _run_background(built, background), _closing_inbox_writer(app):
                yield

    app = FastAPI(title="LeadPact", version="0.1.0", lifespan=lifespan)
    app.state.weekly_reports = report_cache
    app.state.demo = demo
    app.include_router(oauth_router)
    _include_optional_routers(app)

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request) -> HTMLResponse:
        # Anyone can open this page: it names no account (no subdomains, no ids), only how to install.
        current: Services = request.app.state.services
        lang = request_language(request, current)
        # In the demo there is no amoCRM to sign in through: the links go through the demo's sign-in.
        admin_link = "/demo/admin" if demo else "/admin"
        report_link = "/demo/admin?next=/reports/weekly" if demo else "/reports/weekly"
        demo_line = (
            f"<p>{HOME_DEMO(lang)}<a href='/demo/admin'>{HOME_DEMO_ADMIN(lang)}</a></p>" if demo else ""
        )
        return HTMLResponse(
            f"<!doctype html><html lang='{lang}'><head><meta charset='utf-8'><title>LeadPact</title></head>"
            f"<body style='font-family:sans-serif;max-width:50em;margin:2em auto'><h1>{HOME_TITLE(lang)}</h1>"
            f"<p>{HOME_INSTALL_INTRO(lang)}<a href='/oauth/start'>{HOME_INSTALL(lang)}</a></p>{demo_line}"
            f"<p><a href='?lang=ru'>RU</a> · <a href='?lang=en'>EN</a> · <a href='/docs'>API</a> · "
            f"<a href='{admin_link}'>admin</a> · <a href='{report_link}'>weekly report</a> · "
            "<a href='/metrics'>metrics</a> · <a href='/readyz'>readyz</a></p></body></html>"
        )

    return app


def _include_optional_routers(app: FastAPI) -> None:
    from integration.observability import router as observability_router
    from leadpact.admin import router as admin_router
    from leadpact.admin.mapping import router as mapping_router
    from leadpact.admin.reports import reports_router
    from leadpact.admin.sign_in import widget_link_router
    from leadpact.widget.api import router as widget_router
    from webhooks.receiver import mount_receiver

    mount_receiver(app)
    app.include_router(observability_router)
    app.include_router(widget_router)
    app.include_router(widget_link_router)
    app.include_router(admin_router)
    app.include_router(mapping_router)
    app.include_router(reports_router)


@asynccontextmanager
async def _closing_inbox_writer(app: FastAPI) -> AsyncIterator[None]:
    """The webhook receiver's writer keeps a database connection: it is let go before the services close."""
    try:
        yield
    finally:
        writer = getattr(app.state, "inbox_writer", None)
        if writer is not None:
            await writer.aclose()


@asynccontextmanager
async def _run_background(services: Services, tasks: tuple[BackgroundTask, ...]) -> AsyncIterator[None]:
    stop = asyncio.Event()
    running = [
        asyncio.create_task(task(services, stop), name=getattr(task, "__name__", "task")) for task in tasks
    ]
    try:
        yield
    finally:
        stop.set()
        if running:
            done, pending = await asyncio.wait(running, timeout=10)
            for task in pending:
                task.cancel()
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    log.error("background task failed", exc_info=task.exception())
