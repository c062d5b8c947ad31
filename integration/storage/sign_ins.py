"""Sign-in tokens already used, so each one signs an admin in once.

amoCRM's widget token lives ~30 minutes and LeadPact's own sign-in tickets 2 minutes; a copy left in a browser
history, a proxy log or a shared screen must not open a second session. A row is kept until its token expires;
the primary key makes "first use wins" hold across processes and replicas.
"""

from __future__ import annotations

from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel


class UsedSignIn(SQLModel, table=True):
    """One sign-in token of one account that has been used (`token_id`: amoCRM's `jti` or our ticket's nonce)."""

    __tablename__ = "used_sign_ins"

    account_id: int = Field(primary_key=True)
    token_id: str = Field(primary_key=True, max_length=200)
    expires_at: int = Field(index=True)


def use_once(*, session: Session, account_id: int, token_id: str, expires_at: int, now: int) -> bool:
    """True the first time a token is used; False on every later use while it is still valid."""
    session.execute(delete(UsedSignIn).where(UsedSignIn.expires_at < now))  # type: ignore[arg-type]
    try:
        with session.begin_nested():
            session.execute(
                insert(UsedSignIn).values(account_id=account_id, token_id=token_id, expires_at=expires_at)
            )
    except IntegrityError:
        return False
    return True
