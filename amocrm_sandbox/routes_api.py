"""amoCRM API v4 routes for the account, users, pipelines, leads, contacts, tags and custom fields.

Thin handlers: parse, call one function of `entities`/`custom_fields`/`accounts`, answer; every write hands
its events to the webhook emitter.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from amocrm_sandbox import contacts, custom_fields, leads, tags
from amocrm_sandbox.accounts import account_json
from amocrm_sandbox.deps import BodyDep, Caller, CallerDep, ParamsDep, batch_response, page_response
from amocrm_sandbox.problems import Problem
from amocrm_sandbox.query import ListParams
from amocrm_sandbox.records import ordered, page_of
from amocrm_sandbox.state import Record

router = APIRouter(prefix="/api/v4")

FIELD_ENTITIES = ("leads", "contacts", "companies", "customers")


@router.get("/account")
async def get_account(caller: CallerDep, params: ParamsDep) -> JSONResponse:
    return JSONResponse(account_json(caller.account, params.with_, caller.base_url))


@router.get("/users")
async def list_users(request: Request, caller: CallerDep, params: ParamsDep) -> Response:
    users, has_next = page_of(caller.account.users.values(), params)
    return page_response(request, "users", users, has_next, params)


@router.get("/users/{user_id:int}")
async def get_user(caller: CallerDep, user_id: int) -> JSONResponse:
    user = caller.account.users.get(user_id)
    if user is None:
        raise Problem(404, f"User {user_id} not found")
    return JSONResponse(user)


@router.get("/leads/pipelines")
async def list_pipelines(caller: CallerDep) -> JSONResponse:
    pipelines = list(caller.account.pipelines.values())
    return JSONResponse({"_total_items": len(pipelines), "_embedded": {"pipelines": pipelines}})


@router.get("/leads/pipelines/{pipeline_id:int}")
async def get_pipeline(caller: CallerDep, pipeline_id: int) -> JSONResponse:
    return JSONResponse(caller.account.pipeline(pipeline_id))


@router.get("/leads/pipelines/{pipeline_id:int}/statuses")
async def list_statuses(caller: CallerDep, pipeline_id: int) -> JSONResponse:
    statuses = caller.account.pipeline(pipeline_id)["_embedded"]["statuses"]
    return JSONResponse({"_total_items": len(statuses), "_embedded": {"statuses": statuses}})


# --- tags -------------------------------------------------------------------------------------------------


@router.get("/{entity}/tags")
async def list_tags(request: Request, caller: CallerDep, params: ParamsDep, entity: str) -> Response:
    _check_entity(entity)
    found, has_next = tags.list_tags(caller.account, entity, params)
    return page_response(request, "tags", found, has_next, params)


@router.post("/{entity}/tags")
async def create_tags(caller: CallerDep, body: BodyDep, entity: str) -> JSONResponse:
    _check_entity(entity)
    created = tags.create_tags(caller.state, caller.account, entity, body)
    return JSONResponse({"_embedded": {"tags": created}})


# --- custom fields ----------------------------------------------------------------------------------------


def _check_entity(entity: str) -> None:
    if entity not in FIELD_ENTITIES:
        raise Problem(404, "Not Found")


def _fields_answer(fields: list[Record]) -> JSONResponse:
    return JSONResponse({"_total_items": len(fields), "_embedded": {"custom_fields": fields}})


def _fields_page(request: Request, fields: dict[int, Record], params: ListParams) -> Response:
    """`filter[type][0]` and `order[sort|id]` [doc: amocrm.ru/developers/content/crm_platform/custom-fields]."""
    ids = params.ints("id")
    types = params.filters.get("type")
    chosen = (
        f
        for f in fields.values()
        if (ids is None or f["id"] in ids) and (types is None or f["type"] in types)
    )
    page, has_next = page_of(ordered(chosen, params, ("sort", "id")), params)
    return page_response(request, "custom_fields", page, has_next, params)


@router.get("/{entity}/custom_fields")
async def list_fields(request: Request, caller: CallerDep, params: ParamsDep, entity: str) -> Response:
    _check_entity(entity)
    return _fields_page(request, caller.account.fields_of(entity), params)


@router.get("/{entity}/custom_fields/{field_id:int}")
async def get_field(caller: CallerDep, entity: str, field_id: int) -> JSONResponse:
    _check_entity(entity)
    field = caller.account.fields_of(entity).get(field_id)
    if field is None:
        raise Problem(404, f"Field {field_id} not found")
    return JSONResponse(field)


@router.post("/{entity}/custom_fields")
async def create_fields(caller: CallerDep, body: BodyDep, entity: str) -> JSONResponse:
    _check_entity(entity)
    return _fields_answer(custom_fields.create_fields(caller.state, caller.account, entity, body))


@router.patch("/{entity}/custom_fields")
async def update_fields(caller: CallerDep, body: BodyDep, entity: str) -> JSONResponse:
    _check_entity(entity)
    return _fields_answer(custom_fields.update_fields(caller.state, caller.account, entity, body))


@router.get("/catalogs/{catalog_id:int}/custom_fields")
async def list_catalog_fields(
    request: Request, caller: CallerDep, params: ParamsDep, catalog_id: int
) -> Response:
    _known_catalog(caller, catalog_id)
    return _fields_page(request, caller.account.fields_of(f"catalogs/{catalog_id}"), params)


@router.post("/catalogs/{catalog_id:int}/custom_fields")
async def create_catalog_fields(caller: CallerDep, body: BodyDep, catalog_id: int) -> JSONResponse:
    _known_catalog(caller, catalog_id)
    return _fields_answer(
        custom_fields.create_fields(caller.state, caller.account, f"catalogs/{catalog_id}", body)
    )


@router.patch("/catalogs/{catalog_id:int}/custom_fields")
async def update_catalog_fields(caller: CallerDep, body: BodyDep, catalog_id: int) -> JSONResponse:
    _known_catalog(caller, catalog_id)
    return _fields_answer(
        custom_fields.update_fields(caller.state, caller.account, f"catalogs/{catalog_id}", body)
    )


def _known_catalog(caller: Caller, catalog_id: int) -> None:
    if catalog_id not in caller.account.catalogs:
        raise Problem(404, f"Catalog {catalog_id} not found")


# --- leads ------------------------------------------------------------------------------------------------


@router.get("/leads")
async def list_leads(request: Request, caller: CallerDep, params: ParamsDep) -> Response:
    page, has_next = leads.list_leads(caller.account, params)
    rendered = [leads.render_lead(lead, params.with_, caller.base_url) for lead in page]
    return page_response(request, "leads", rendered, has_next, params)


@router.get("/leads/{lead_id:int}")
async def get_lead(caller: CallerDep, params: ParamsDep, lead_id: int) -> JSONResponse:
    lead = caller.account.lead(lead_id)
    return JSONResponse(leads.render_lead(lead, params.with_, caller.base_url))


@router.post("/leads")
async def create_leads(caller: CallerDep, body: BodyDep) -> JSONResponse:
    created, events = leads.create_leads(caller.state, caller.account, body, user_id=caller.user_id)
    caller.state.emitter.emit(caller.account, events)
    return batch_response(caller, "/api/v4/leads", "leads", created)


@router.patch("/leads")
async def update_leads(caller: CallerDep, body: BodyDep) -> JSONResponse:
    updated, events = leads.update_leads(caller.state, caller.account, body, user_id=caller.user_id)
    caller.state.emitter.emit(caller.account, events)
    return batch_response(caller, "/api/v4/leads", "leads", updated)


@router.patch("/leads/{lead_id:int}")
async def update_lead(caller: CallerDep, body: BodyDep, lead_id: int) -> JSONResponse:
    if not isinstance(body, dict):
        raise Problem(400, "Request body must be a JSON object")
    caller.account.lead(lead_id)
    updated, events = leads.update_leads(
        caller.state, caller.account, [{**body, "id": lead_id}], user_id=caller.user_id
    )
    caller.state.emitter.emit(caller.account, events)
    item = updated[0]
    return JSONResponse(
        {
            "id": item["id"],
            "updated_at": item["updated_at"],
            "_links": {"self": {"href": f"{caller.base_url}/api/v4/leads/{lead_id}"}},
        }
    )


# --- contacts ---------------------------------------------------------------------------------------------


@router.get("/contacts")
async def list_contacts(request: Request, caller: CallerDep, params: ParamsDep) -> Response:
    page, has_next = contacts.list_contacts(caller.account, params)
    rendered = [contacts.render_contact(c, params.with_, caller.base_url) for c in page]
    return page_response(request, "contacts", rendered, has_next, params)


@router.get("/contacts/{contact_id:int}")
async def get_contact(caller: CallerDep, params: ParamsDep, contact_id: int) -> JSONResponse:
    found = contacts.contact(caller.account, contact_id)
    return JSONResponse(contacts.render_contact(found, params.with_, caller.base_url))


@router.post("/contacts")
async def create_contacts(caller: CallerDep, body: BodyDep) -> JSONResponse:
    created, events = contacts.create_contacts(caller.state, caller.account, body, user_id=caller.user_id)
    caller.state.emitter.emit(caller.account, events)
    return batch_response(caller, "/api/v4/contacts", "contacts", created)


@router.patch("/contacts")
async def update_contacts(caller: CallerDep, body: BodyDep) -> JSONResponse:
    updated, events = contacts.update_contacts(caller.state, caller.account, body, user_id=caller.user_id)
    caller.state.emitter.emit(caller.account, events)
    return batch_response(caller, "/api/v4/contacts", "contacts", updated)


@router.patch("/contacts/{contact_id:int}")
async def update_contact(caller: CallerDep, body: BodyDep, contact_id: int) -> JSONResponse:
    if not isinstance(body, dict):
        raise Problem(400, "Request body must be a JSON object")
    contacts.contact(caller.account, contact_id)
    updated, events = contacts.update_contacts(
        caller.state, caller.account, [{**body, "id": contact_id}], user_id=caller.user_id
    )
    caller.state.emitter.emit(caller.account, events)
    return JSONResponse({"id": contact_id, "updated_at": updated[0]["updated_at"]})
