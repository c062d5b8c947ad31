"""amoCRM API v4 route for the events list (`event_log.py`): at most 100 events a page, not the 250 of lists."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from amocrm_sandbox import event_log
from amocrm_sandbox.deps import CallerDep, page_response
from amocrm_sandbox.query import parse_http_date, parse_list_params

router = APIRouter(prefix="/api/v4")


@router.get("/events")
async def list_events(request: Request, caller: CallerDep) -> Response:
    refused = caller.state.config.events_api_status
    if refused is not None:
        return JSONResponse(
            {"title": "Forbidden" if refused == 403 else "Not Found", "status": refused}, status_code=refused
        )
    raw = request.query_params.multi_items()
    params = parse_list_params(
        raw,
        page_limit_max=caller.state.config.events_page_limit_max,
        modified_since=parse_http_date(request.headers.get("if-modified-since")),
    )
    chosen = event_log.event_filter(params, raw)
    events, has_next = event_log.list_events(caller.account, params, chosen)
    rendered = [event_log.render_event(event, caller.base_url) for event in events]
    return page_response(request, "events", rendered, has_next, params)


@router.get("/events/{event_id}")
async def get_event(caller: CallerDep, event_id: str) -> JSONResponse:
    return JSONResponse(
        event_log.render_event(event_log.find_event(caller.account, event_id), caller.base_url)
    )
