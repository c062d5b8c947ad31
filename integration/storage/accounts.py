"""Installed amoCRM accounts, their (encrypted) tokens and the fields LeadPact provisioned in them."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime

from sqlalchemy import JSON, Column, Table, bindparam
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Connection
from sqlmodel import Field, Session, SQLModel, select


def utcnow() -> datetime:
    return datetime.now(UTC)


class AccountStatus:
    ACTIVE = "active"
    NEEDS_REAUTH = "needs_reauth"
    REMOVED = "removed"


class Account(SQLModel, table=True):
    __tablename__ = "accounts"

    id: int = Field(primary_key=True, description="amoCRM account id")
    subdomain: str
    base_url: str = Field(description="API base, e.g. https://acme.amocrm.ru")
    webhook_key: str = Field(unique=True, index=True, description="unguessable key in our webhook URL")
    status: str = Field(default=AccountStatus.ACTIVE)
    status_reason: str | None = None
    language: str = Field(default="ru")
    credential_kind: str = Field(default="oauth", description="oauth | long_lived")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class AccountToken(SQLModel, table=True):
    __tablename__ = "account_tokens"

    account_id: int = Field(primary_key=True, foreign_key="accounts.id", ondelete="CASCADE")
    access_token_enc: str
    refresh_token_enc: str | None = None
    expires_at: datetime | None = None
    version: int = Field(default=1, description="bumped on every rotation; guards concurrent refreshes")
    updated_at: datetime = Field(default_factory=utcnow)


class AccountField(SQLModel, table=True):
    """A custom field (or catalog) LeadPact created in the account, by our stable key."""

    __tablename__ = "account_fields"

    account_id: int = Field(primary_key=True, foreign_key="accounts.id", ondelete="CASCADE")
    key: str = Field(primary_key=True, description="e.g. lead.level, catalog.promos")
    amo_id: int
    enums: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


# --- data access -------------------------------------------------------------------------------------------


def get_account(*, session: Session, account_id: int) -> Account | None:
    return session.get(Account, account_id)


def installed_account(*, session: Session, account_id: int) -> Account | None:
    """The account while LeadPact is installed in it; None once it removed LeadPact (or never installed it)."""
    account = session.get(Account, account_id)
    return None if account is None or account.status == AccountStatus.REMOVED else account


def get_account_by_webhook_key(*, session: Session, webhook_key: str) -> Account | None:
    return session.exec(select(Account).where(Account.webhook_key == webhook_key)).first()


def account_ids_by_webhook_key(connection: Connection, keys: Collection[str]) -> dict[str, int]:
    """Webhook key → account id for the keys of accounts not removed (the receiver's lookup, once per batch)."""
    if not keys:
        return {}
    if len(keys) == 1:
        # Nearly every batch is one account's: a plain equality is cheaper to run than the expanding IN.
        rows = connection.execute(_ACCOUNT_BY_KEY, {"key": next(iter(keys))}).all()
    else:
        rows = connection.execute(_ACCOUNTS_BY_KEYS, {"keys": sorted(keys)}).all()
    return {str(key): int(account_id) for key, account_id in rows}


def list_accounts(*, session: Session, include_removed: bool = False) -> list[Account]:
    query = select(Account).order_by(Account.id)  # type: ignore[arg-type]
    if not include_removed:
        query = query.where(Account.status != AccountStatus.REMOVED)
    return list(session.exec(query).all())


def list_active_accounts(*, session: Session) -> list[Account]:
    """Accounts LeadPact works for now: installed, not removed and not waiting for re-authorisation."""
    query = select(Account).where(Account.status == AccountStatus.ACTIVE).order_by(Account.id)  # type: ignore[arg-type]
    return list(session.exec(query).all())


def upsert_account(
    *,
    session: Session,
    account_id: int,
    subdomain: str,
    base_url: str,
    language: str,
    credential_kind: str,
    new_webhook_key: str,
) -> Account:
    """Creates or reactivates the account; an existing webhook key is kept so its subscription stays valid."""
    account = session.get(Account, account_id)
    if account is None:
        account = Account(
            id=account_id,
            subdomain=subdomain,
            base_url=base_url,
            webhook_key=new_webhook_key,
            language=language,
            credential_kind=credential_kind,
        )
    else:
        account.subdomain = subdomain
        account.base_url = base_url
        account.credential_kind = credential_kind
        account.updated_at = utcnow()
    account.status = AccountStatus.ACTIVE
    account.status_reason = None
    session.add(account)
    session.flush()
    return account


def set_account_status(*, session: Session, account_id: int, status: str, reason: str | None) -> None:
    account = session.get(Account, account_id)
    if account is None:
        return
    account.status = status
    account.status_reason = reason
    account.updated_at = utcnow()
    session.add(account)


def save_token(
    *,
    session: Session,
    account_id: int,
    access_token_enc: str,
    refresh_token_enc: str | None,
    expires_at: datetime | None,
) -> None:
    token = session.get(AccountToken, account_id)
    if token is None:
        token = AccountToken(account_id=account_id, access_token_enc=access_token_enc)
    else:
        token.version += 1
    token.access_token_enc = access_token_enc
    token.refresh_token_enc = refresh_token_enc
    token.expires_at = expires_at
    token.updated_at = utcnow()
    session.add(token)


def get_token(*, session: Session, account_id: int) -> AccountToken | None:
    return session.get(AccountToken, account_id)


def delete_token(*, session: Session, account_id: int) -> None:
    token = session.get(AccountToken, account_id)
    if token is not None:
        session.delete(token)


def save_field(*, session: Session, account_id: int, key: str, amo_id: int, enums: dict[str, int]) -> None:
    row = session.get(AccountField, (account_id, key))
    if row is None:
        row = AccountField(account_id=account_id, key=key, amo_id=amo_id, enums=enums)
    else:
        row.amo_id = amo_id
        row.enums = dict(enums)
    session.add(row)


def list_fields(*, session: Session, account_id: int) -> list[AccountField]:
    return list(session.exec(select(AccountField).where(AccountField.account_id == account_id)).all())


_ACCOUNTS: Table = Account.__table__  # type: ignore[attr-defined]
# Built once: composing a statement per batch cost more than running it.
_ACCOUNT_BY_KEY = sa_select(_ACCOUNTS.c.webhook_key, _ACCOUNTS.c.id).where(
    _ACCOUNTS.c.webhook_key == bindparam("key"), _ACCOUNTS.c.status != AccountStatus.REMOVED
)
_ACCOUNTS_BY_KEYS = sa_select(_ACCOUNTS.c.webhook_key, _ACCOUNTS.c.id).where(
    _ACCOUNTS.c.webhook_key.in_(bindparam("keys", expanding=True)),
    _ACCOUNTS.c.status != AccountStatus.REMOVED,
)
