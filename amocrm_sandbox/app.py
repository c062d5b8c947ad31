"""The sandbox app factory: routers, amoCRM-style error answers, and the webhook emitter's lifetime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from amocrm_sandbox import routes_activities, routes_api, routes_control, routes_events, routes_oauth
from amocrm_sandbox.config import SandboxConfig
from amocrm_sandbox.faults import AccountBlocked, blocked_page
from amocrm_sandbox.problems import Problem, problem_response
from amocrm_sandbox.seeding import new_sandbox_state
from amocrm_sandbox.state import SandboxState


def create_sandbox_app(config: SandboxConfig | None = None) -> FastAPI:
    """A fresh in-memory amoCRM; with `seed_demo`, a `demo` account holding `demo_leads` leads."""
    config = config or SandboxConfig()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            # `/_sandbox/reset` may have replaced the state: close whichever is current.
            current: SandboxState = app.state.sandbox
            await current.emitter.aclose()

    app = FastAPI(
        title="LeadPact amoCRM sandbox",
        lifespan=lifespan,
        docs_url="/_sandbox/docs",
        redoc_url=None,
        openapi_url="/_sandbox/openapi.json",
    )
    app.state.sandbox = new_sandbox_state(config)
    app.state.sandbox_config = config
    app.include_router(routes_oauth.router)
    app.include_router(routes_control.router)
    app.include_router(routes_api.router)
    app.include_router(routes_activities.router)
    app.include_router(routes_events.router)

    @app.exception_handler(Problem)
    async def on_problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc)

    @app.exception_handler(AccountBlocked)
    async def on_blocked(request: Request, exc: AccountBlocked) -> Response:
        return blocked_page()

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem_response(Problem(400, "Request validation failed"))

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(Problem(exc.status_code, str(exc.detail)))

    return app
