"""amoCRM API v4 routes for notes, tasks, catalogs (and linking to leads) and the account's webhooks."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from amocrm_sandbox import activities, catalogs, subscriptions
from amocrm_sandbox.deps import BodyDep, CallerDep, ParamsDep, batch_response, page_response
from amocrm_sandbox.problems import Problem
from amocrm_sandbox.records import page_of

router = APIRouter(prefix="/api/v4")

NOTE_ENTITIES = ("leads", "contacts")


def _check_note_entity(entity: str) -> None:
    if entity not in NOTE_ENTITIES:
        raise Problem(404, "Not Found")


@router.get("/{entity}/notes")
async def list_notes(request: Request, caller: CallerDep, params: ParamsDep, entity: str) -> Response:
    _check_note_entity(entity)
    notes, has_next = activities.list_notes(caller.account, entity, params)
    return page_response(request, "notes", notes, has_next, params)


@router.get("/{entity}/{entity_id:int}/notes")
async def list_entity_notes(
    request: Request, caller: CallerDep, params: ParamsDep, entity: str, entity_id: int
) -> Response:
    _check_note_entity(entity)
    notes, has_next = activities.list_notes(caller.account, entity, params, entity_id)
    return page_response(request, "notes", notes, has_next, params)


async def _add_notes(caller: CallerDep, entity: str, body: Any, entity_id: int | None) -> JSONResponse:
    _check_note_entity(entity)
    created, events = activities.add_notes(
        caller.state, caller.account, entity, body, user_id=caller.user_id, entity_id=entity_id
    )
    caller.state.emitter.emit(caller.account, events)
    return batch_response(caller, f"/api/v4/{entity}/notes", "notes", created)


@router.post("/{entity}/notes")
async def add_notes(caller: CallerDep, body: BodyDep, entity: str) -> JSONResponse:
    return await _add_notes(caller, entity, body, None)


@router.post("/{entity}/{entity_id:int}/notes")
async def add_entity_notes(caller: CallerDep, body: BodyDep, entity: str, entity_id: int) -> JSONResponse:
    return await _add_notes(caller, entity, body, entity_id)


# --- tasks ------------------------------------------------------------------------------------------------


@router.get("/tasks")
async def list_tasks(request: Request, caller: CallerDep, params: ParamsDep) -> Response:
    tasks, has_next = activities.list_tasks(caller.account, params)
    return page_response(request, "tasks", tasks, has_next, params)


@router.post("/tasks")
async def create_tasks(caller: CallerDep, body: BodyDep) -> JSONResponse:
    created = activities.create_tasks(caller.state, caller.account, body, user_id=caller.user_id)
    return batch_response(caller, "/api/v4/tasks", "tasks", created)


@router.patch("/tasks")
async def update_tasks(caller: CallerDep, body: BodyDep) -> JSONResponse:
    updated = activities.update_tasks(caller.state, caller.account, body, user_id=caller.user_id)
    return batch_response(caller, "/api/v4/tasks", "tasks", updated)


# --- catalogs ---------------------------------------------------------------------------------------------


@router.get("/catalogs")
async def list_catalogs(request: Request, caller: CallerDep, params: ParamsDep) -> Response:
    chosen, has_next = page_of(caller.account.catalogs.values(), params)
    return page_response(request, "catalogs", chosen, has_next, params)


@router.get("/catalogs/{catalog_id:int}")
async def get_catalog(caller: CallerDep, catalog_id: int) -> JSONResponse:
    return JSONResponse(catalogs.catalog(caller.account, catalog_id))


@router.post("/catalogs")
async def create_catalogs(caller: CallerDep, body: BodyDep) -> JSONResponse:
    created = catalogs.create_catalogs(caller.state, caller.account, body, user_id=caller.user_id)
    return JSONResponse({"_embedded": {"catalogs": created}})


@router.patch("/catalogs")
async def update_catalogs(caller: CallerDep, body: BodyDep) -> JSONResponse:
    updated = catalogs.update_catalogs(caller.state, caller.account, body, user_id=caller.user_id)
    return JSONResponse({"_embedded": {"catalogs": updated}})


@router.get("/catalogs/{catalog_id:int}/elements")
async def list_elements(request: Request, caller: CallerDep, params: ParamsDep, catalog_id: int) -> Response:
    elements, has_next = catalogs.list_elements(caller.account, catalog_id, params)
    return page_response(request, "elements", elements, has_next, params)


@router.post("/catalogs/{catalog_id:int}/elements")
async def create_elements(caller: CallerDep, body: BodyDep, catalog_id: int) -> JSONResponse:
    created = catalogs.create_elements(caller.state, caller.account, catalog_id, body, user_id=caller.user_id)
    return JSONResponse({"_embedded": {"elements": created}})


@router.patch("/catalogs/{catalog_id:int}/elements")
async def update_elements(caller: CallerDep, body: BodyDep, catalog_id: int) -> JSONResponse:
    updated = catalogs.update_elements(caller.state, caller.account, catalog_id, body, user_id=caller.user_id)
    return JSONResponse({"_embedded": {"elements": updated}})


@router.post("/leads/{lead_id:int}/link")
async def link_lead(caller: CallerDep, body: BodyDep, lead_id: int) -> JSONResponse:
    links = catalogs.link_lead(caller.account, caller.account.lead(lead_id), body)
    return JSONResponse({"_total_items": len(links), "_embedded": {"links": links}})


# --- webhooks ---------------------------------------------------------------------------------------------


@router.get("/webhooks")
async def list_webhooks(caller: CallerDep, params: ParamsDep) -> Response:
    hooks = subscriptions.listed(caller.account, params.filters.get("destination"))
    if not hooks:
        return Response(status_code=204)
    return JSONResponse({"_total_items": len(hooks), "_embedded": {"webhooks": [h.as_json() for h in hooks]}})


@router.post("/webhooks")
async def subscribe_webhook(caller: CallerDep, body: BodyDep) -> JSONResponse:
    hook = subscriptions.subscribe(caller.state, caller.account, body)
    return JSONResponse(hook.as_json(), status_code=201)


@router.delete("/webhooks")
async def unsubscribe_webhook(caller: CallerDep, body: BodyDep) -> Response:
    subscriptions.unsubscribe(caller.account, body)
    return Response(status_code=204)
