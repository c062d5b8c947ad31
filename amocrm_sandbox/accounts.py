"""A new amoCRM account as it looks right after sign-up: one admin, a main pipeline, phone/email contact
fields.

Statuses 142 (won) and 143 (lost) end every pipeline [doc]; the first status of a pipeline is the "unsorted"
incoming one (type 1) [seen]. Contacts carry the predefined multitext fields with codes PHONE and EMAIL
[seen].
"""

from __future__ import annotations

from amocrm_sandbox.custom_fields import EMAIL_ENUMS, PHONE_ENUMS, new_field
from amocrm_sandbox.problems import Problem
from amocrm_sandbox.state import LOST_STATUS_ID, WON_STATUS_ID, Account, Record, SandboxState

DEFAULT_STAGES = ("Первичный контакт", "Переговоры", "Принимают решение", "Согласование договора")
STATUS_COLORS = ("#99ccff", "#ffff99", "#ffcc66", "#ff9966", "#ccc8f9")


def new_user(state: SandboxState, account: Account, name: str, email: str, *, is_admin: bool) -> Record:
    user_id = state.ids.take("user")
    user = {
        "id": user_id,
        "name": name,
        "email": email,
        "lang": "ru",
        "rights": {"is_admin": is_admin, "is_free": False, "is_active": True, "group_id": None},
        "_links": {"self": {"href": f"/api/v4/users/{user_id}"}},
    }
    account.users[user_id] = user
    return user


def new_pipeline(
    state: SandboxState, account: Account, name: str, stages: tuple[str, ...], *, is_main: bool
) -> Record:
    pipeline_id = state.ids.take("pipeline")

    def status(status_id: int, title: str, sort: int, kind: int, color: str) -> Record:
        return {
            "id": status_id,
            "name": title,
            "sort": sort,
            "is_editable": status_id not in (WON_STATUS_ID, LOST_STATUS_ID),
            "pipeline_id": pipeline_id,
            "color": color,
            "type": kind,
            "account_id": account.id,
            "_links": {"self": {"href": f"/api/v4/leads/pipelines/{pipeline_id}/statuses/{status_id}"}},
        }

    statuses = [status(state.ids.take("status"), "Неразобранное", 10, 1, "#c1c1c1")]
    for index, title in enumerate(stages):
        statuses.append(
            status(
                state.ids.take("status"), title, 20 + 10 * index, 0, STATUS_COLORS[index % len(STATUS_COLORS)]
            )
        )
    statuses.append(status(WON_STATUS_ID, "Успешно реализовано", 10000, 0, "#CCFF66"))
    statuses.append(status(LOST_STATUS_ID, "Закрыто и не реализовано", 11000, 0, "#D5D8DB"))
    pipeline = {
        "id": pipeline_id,
        "name": name,
        "sort": 1 + len(account.pipelines),
        "is_main": is_main,
        "is_unsorted_on": True,
        "is_archive": False,
        "account_id": account.id,
        "_links": {"self": {"href": f"/api/v4/leads/pipelines/{pipeline_id}"}},
        "_embedded": {"statuses": statuses},
    }
    account.pipelines[pipeline_id] = pipeline
    return pipeline


def create_account(state: SandboxState, subdomain: str, name: str | None = None) -> Account:
    if not subdomain or not subdomain.replace("-", "").isalnum() or subdomain != subdomain.lower():
        raise Problem(400, "subdomain must be lowercase letters, digits and dashes")
    if state.account_by_subdomain(subdomain) is not None:
        raise Problem(400, f"Account {subdomain} already exists")
    account = Account(
        id=state.ids.take("account"), subdomain=subdomain, name=name or subdomain, created_at=state.now()
    )
    state.accounts[account.id] = account
    new_user(state, account, "Администратор", f"admin@{subdomain}.example", is_admin=True)
    new_pipeline(state, account, "Воронка", DEFAULT_STAGES, is_main=True)
    ids = state.ids
    new_field(
        ids=ids,
        account=account,
        entity="contacts",
        name="Должность",
        field_type="text",
        code="POSITION",
        predefined=True,
    )
    new_field(
        ids=ids,
        account=account,
        entity="contacts",
        name="Телефон",
        field_type="multitext",
        code="PHONE",
        enums=[{"value": v} for v in PHONE_ENUMS],
        predefined=True,
    )
    new_field(
        ids=ids,
        account=account,
        entity="contacts",
        name="Email",
        field_type="multitext",
        code="EMAIL",
        enums=[{"value": v} for v in EMAIL_ENUMS],
        predefined=True,
    )
    return account


def first_account(state: SandboxState) -> Account:
    """The account an OAuth consent without `account=` lands in; a demo account is made when there is none."""
    if not state.accounts:
        return create_account(state, "demo", "LeadPact Demo")
    return next(iter(state.accounts.values()))


def account_json(account: Account, with_: frozenset[str], base_url: str) -> Record:
    body: Record = {
        "id": account.id,
        "name": account.name,
        "subdomain": account.subdomain,
        "created_at": account.created_at,
        "created_by": account.first_user_id,
        "updated_at": account.created_at,
        "updated_by": account.first_user_id,
        "current_user_id": account.first_user_id,
        "country": "RU",
        "currency": "RUB",
        "currency_symbol": "₽",
        "customers_mode": "disabled",
        "is_unsorted_on": True,
        "is_loss_reason_enabled": True,
        "is_helpbot_enabled": False,
        "is_technical_account": False,
        "contact_name_display_order": 1,
        "_links": {"self": {"href": f"{base_url}/api/v4/account"}},
    }
    embedded: Record = {}
    if "users_groups" in with_:
        embedded["users_groups"] = account.groups
    if "task_types" in with_:
        embedded["task_types"] = [
            {"id": 1, "name": "Связаться", "color": None, "icon_id": None, "code": "FOLLOW_UP"},
            {"id": 2, "name": "Встреча", "color": None, "icon_id": None, "code": "MEETING"},
        ]
    if "datetime_settings" in with_:
        embedded["datetime_settings"] = {
            "date_pattern": "d.m.Y H:i",
            "short_date_pattern": "d.m.Y",
            "short_time_pattern": "H:i",
            "date_format": "d.m.Y",
            "time_format": "H:i:s",
            "timezone": "Europe/Moscow",
            "timezone_offset": "+03:00",
        }
    if embedded:
        body["_embedded"] = embedded
    return body
