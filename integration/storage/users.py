"""amoCRM users of each account by name, cached: pages, reports and the CLI show people by name without asking
amoCRM on every view.

`amo_users` holds the newest list read from `GET /api/v4/users`; `amo_user_refreshes` records when it was read
and when a refresh was last claimed, so one process at a time reads the list at most once per refresh period
(the claim is a conditional UPDATE, which works across processes and replicas).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel


class AmoUser(SQLModel, table=True):
    """One amoCRM user of one account, as last read from amoCRM."""

    __tablename__ = "amo_users"

    account_id: int = Field(primary_key=True)
    user_id: int = Field(primary_key=True)
    name: str = ""
    email: str | None = None
    is_active: bool = True


class AmoUserRefresh(SQLModel, table=True):
    """When an account's user list was last read (`refreshed_at`) and last claimed for reading."""

    __tablename__ = "amo_user_refreshes"

    account_id: int = Field(primary_key=True)
    refreshed_at: int = 0
    claimed_at: int = 0


def list_users(*, session: Session, account_id: int) -> list[AmoUser]:
    """The account's cached users, active ones first, by name."""
    statement = select(AmoUser).where(AmoUser.account_id == account_id)  # type: ignore[arg-type]
    return sorted(session.scalars(statement), key=lambda user: (not user.is_active, user.name, user.user_id))


def user_names(*, session: Session, account_id: int) -> dict[int, str]:
    """user id → name of the account's cached users (empty when the list was never read)."""
    return {
        user.user_id: user.name for user in list_users(session=session, account_id=account_id) if user.name
    }


def refreshed_at(*, session: Session, account_id: int) -> int | None:
    row = session.get(AmoUserRefresh, account_id)
    return None if row is None or row.refreshed_at == 0 else row.refreshed_at


def claim_refresh(*, session: Session, account_id: int, now: int, max_age: int, retry_after: int) -> bool:
    """True when this caller should read the user list now: it is older than `max_age` (or was never read)
    and nobody claimed a refresh in the last `retry_after` seconds. At most one concurrent caller wins."""
    if session.get(AmoUserRefresh, account_id) is None:
        try:
            with session.begin_nested():
                session.execute(
                    insert(AmoUserRefresh).values(account_id=account_id, refreshed_at=0, claimed_at=now)
                )
            return True
        except IntegrityError:
            pass  # another process inserted it first: fall through to the conditional claim
    claimed = session.execute(
        update(AmoUserRefresh)
        .where(
            AmoUserRefresh.account_id == account_id,  # type: ignore[arg-type]
            AmoUserRefresh.refreshed_at <= now - max_age,  # type: ignore[arg-type]
            AmoUserRefresh.claimed_at <= now - retry_after,  # type: ignore[arg-type]
        )
        .values(claimed_at=now)
    )
    return bool(claimed.rowcount)  # type: ignore[attr-defined]


def replace_users(
    *, session: Session, account_id: int, users: Iterable[Mapping[str, object]], now: int
) -> int:
    """Stores the account's user list as read from amoCRM (users missing from it are dropped)."""
    rows = [
        {
            "account_id": account_id,
            "user_id": int(str(user["id"])),
            "name": str(user.get("name") or ""),
            "email": None if user.get("email") is None else str(user.get("email")),
            "is_active": bool(
                user.get("is_active", True)
            ),  # amoCRM: rights.is_active, resolved by the caller
        }
        for user in users
    ]
    session.execute(delete(AmoUser).where(AmoUser.account_id == account_id))  # type: ignore[arg-type]
    if rows:
        session.execute(insert(AmoUser), rows)
    refresh = session.get(AmoUserRefresh, account_id)
    if refresh is None:
        session.add(AmoUserRefresh(account_id=account_id, refreshed_at=now, claimed_at=now))
    else:
        refresh.refreshed_at = now
        session.add(refresh)
    session.flush()
    return len(rows)
