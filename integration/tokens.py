"""The database-backed token store the amoCRM client's auth flow reads and writes (tokens encrypted at rest)."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import SecretStr
from sqlalchemy.engine import Engine

from integration.amocrm import TokenPair
from integration.crypto import SecretBox
from integration.db import session_scope
from integration.storage import accounts as store
from integration.storage.accounts import AccountStatus


class DbTokenStore:
    """Implements `integration.amocrm.TokenStore` over the `account_tokens` table.

    `load` returns None for an account that needs re-authorisation, so the client fails fast instead of
    retrying a revoked refresh token in a loop.
    """

    def __init__(self, engine: Engine, box: SecretBox) -> None:
        self._engine = engine
        self._box = box

    def __repr__(self) -> str:
        return "DbTokenStore()"

    async def load(self, account_id: int) -> TokenPair | None:
        return self.load_sync(account_id)

    def load_sync(self, account_id: int) -> TokenPair | None:
        with session_scope(self._engine) as session:
            account = store.get_account(session=session, account_id=account_id)
            if account is None or account.status != AccountStatus.ACTIVE:
                return None
            row = store.get_token(session=session, account_id=account_id)
            if row is None:
                return None
            refresh = self._box.decrypt(row.refresh_token_enc) if row.refresh_token_enc else None
            expires_at = row.expires_at or datetime(9999, 1, 1, tzinfo=UTC)
            return TokenPair(
                access_token=SecretStr(self._box.decrypt(row.access_token_enc)),
                refresh_token=SecretStr(refresh) if refresh else None,
                expires_at=expires_at.astimezone(UTC),
            )

    async def save(self, account_id: int, pair: TokenPair) -> None:
        self.save_sync(account_id, pair)

    def save_sync(self, account_id: int, pair: TokenPair) -> None:
        refresh = pair.refresh_token.get_secret_value() if pair.refresh_token else None
        with session_scope(self._engine) as session:
            store.save_token(
                session=session,
                account_id=account_id,
                access_token_enc=self._box.encrypt(pair.access_token.get_secret_value()),
                refresh_token_enc=self._box.encrypt(refresh) if refresh else None,
                expires_at=pair.expires_at.astimezone(UTC),
            )

    async def mark_needs_reauth(self, account_id: int, reason: str) -> None:
        with session_scope(self._engine) as session:
            store.set_account_status(
                session=session, account_id=account_id, status=AccountStatus.NEEDS_REAUTH, reason=reason
            )
