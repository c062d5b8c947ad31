"""Keeping each account's amoCRM user names at hand (composition: the API client + `integration.storage.users`).

Every place that shows a person — the admin header, rules history, reports, `leadpact stats show` — reads names
from the cache; `refresh_users` re-reads `GET /api/v4/users` at most once per `users_refresh_seconds` per
account, never per page view. When amoCRM cannot be reached the cached names (possibly none) are used.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from sqlalchemy.engine import Engine

from integration.accounts import AccountNotConnected
from integration.amocrm import AmoError
from integration.db import session_scope
from integration.storage import users as user_store

log = logging.getLogger(__name__)

# After a failed read, the next attempt waits this long (a page view never waits on a failing amoCRM twice).
RETRY_SECONDS = 60
WAIT_SECONDS = 5.0


async def refresh_users(
    *,
    engine: Engine,
    connector: Any,
    account_id: int,
    max_age: int,
    now: int | None = None,
    wait_seconds: float = WAIT_SECONDS,
) -> bool:
    """Re-reads the account's users from amoCRM when the cached list is older than `max_age` seconds.

    True when the list was read now. One caller at a time wins the claim; the others keep the cached names.
    """
    moment = int(time.time()) if now is None else now
    with session_scope(engine) as session:
        claimed = user_store.claim_refresh(
            session=session, account_id=account_id, now=moment, max_age=max_age, retry_after=RETRY_SECONDS
        )
    if not claimed:
        return False
    try:
        api = connector.api_for(account_id)
        async with asyncio.timeout(wait_seconds):
            users = await api.list_users()
    except (AmoError, AccountNotConnected, TimeoutError) as error:
        log.warning("users of account %s unavailable: %s", account_id, type(error).__name__)
        return False
    rows = [
        {
            "id": user.id,
            "name": user.name,
            "email": user.email,
            "is_active": bool((user.rights or {}).get("is_active", True)),
        }
        for user in users
    ]
    with session_scope(engine) as session:
        user_store.replace_users(session=session, account_id=account_id, users=rows, now=moment)
    return True
