"""Installed amoCRM accounts, their (encrypted) tokens and the fields LeadPact provisioned in them."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


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
