"""People are shown by name from a per-account cache of amoCRM's user list, read at most once per refresh period
— never on every page view — and kept when amoCRM cannot be reached."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.engine import Engine

from integration.amocrm import AmoClient, TokenBucket
from integration.amocrm.auth import LongLivedAuth
from integration.db import session_scope
from integration.storage import users as user_store
from integration.users import RETRY_SECONDS, refresh_users

ACCOUNT, OTHER = 31, 32
HOUR = 3600


class Connector:
    """amoCRM over `httpx.MockTransport`: counts the user-list reads; `failing` makes them answer 500."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.amo = AmoClient(http, limiter=TokenBucket(100.0), max_retries=0)
        self.reads = 0
        self.failing = False

    def api_for(self, account_id: int) -> Any:
        return self.amo.account(account_id, "https://acme.amocrm.ru", LongLivedAuth(SecretStr("token")))


@pytest.fixture
async def connector() -> Any:
    holder: dict[str, Connector] = {}

    def answer(request: httpx.Request) -> httpx.Response:
        holder["c"].reads += 1
        if holder["c"].failing:
            return httpx.Response(500, json={"title": "Internal"})
        users = [
            {
                "id": 8000001,
                "name": "Анна Смирнова",
                "email": "anna@acme.example",
                "rights": {"is_active": True},
            },
            {"id": 8000002, "name": "Иван Петров", "rights": {"is_active": False}},
        ]
        return httpx.Response(200, json={"_embedded": {"users": users}, "_page": 1, "_links": {}})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        holder["c"] = Connector(http)
        yield holder["c"]


async def test_the_list_is_read_once_per_period_per_account(engine: Engine, connector: Connector) -> None:
    """Ten views within the hour cost one read; another account has its own; after the hour, one more read."""
    for second in range(10):
        await refresh_users(
            engine=engine, connector=connector, account_id=ACCOUNT, max_age=HOUR, now=1000 + second
        )
    assert connector.reads == 1
    await refresh_users(engine=engine, connector=connector, account_id=OTHER, max_age=HOUR, now=1100)
    assert connector.reads == 2
    await refresh_users(engine=engine, connector=connector, account_id=ACCOUNT, max_age=HOUR, now=1000 + HOUR)
    assert connector.reads == 3
    with session_scope(engine) as session:
        assert user_store.user_names(session=session, account_id=ACCOUNT) == {
            8000001: "Анна Смирнова",
            8000002: "Иван Петров",
        }
        active = [
            user.name for user in user_store.list_users(session=session, account_id=ACCOUNT) if user.is_active
        ]
        assert active == ["Анна Смирнова"]
        assert user_store.user_names(session=session, account_id=99) == {}


async def test_an_unreachable_amocrm_keeps_the_names_and_is_not_hammered(
    engine: Engine, connector: Connector
) -> None:
    """A failed re-read keeps the cached names, and the next attempt waits a minute instead of every view."""
    await refresh_users(engine=engine, connector=connector, account_id=ACCOUNT, max_age=HOUR, now=1000)
    connector.failing = True
    later = 1000 + HOUR
    assert not await refresh_users(
        engine=engine, connector=connector, account_id=ACCOUNT, max_age=HOUR, now=later
    )
    assert not await refresh_users(
        engine=engine, connector=connector, account_id=ACCOUNT, max_age=HOUR, now=later + 5
    )
    assert connector.reads == 2
    with session_scope(engine) as session:
        assert user_store.user_names(session=session, account_id=ACCOUNT)[8000001] == "Анна Смирнова"
    connector.failing = False
    assert await refresh_users(
        engine=engine, connector=connector, account_id=ACCOUNT, max_age=HOUR, now=later + RETRY_SECONDS
    )
    assert connector.reads == 3
