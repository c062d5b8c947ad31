"""Per-account API access: builds an `AccountApi` for an installed account from its stored credentials."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from integration.amocrm import AccountApi, AmoClient, LongLivedAuth, OAuthApp
from integration.db import session_scope
from integration.storage import accounts as store
from integration.storage.accounts import AccountStatus
from integration.tokens import DbTokenStore


class AccountNotConnected(Exception):
    """The account is unknown, removed, or needs re-authorisation; no API call is attempted."""

    def __init__(self, account_id: int, status: str) -> None:
        super().__init__(f"account {account_id} is not connected ({status})")
        self.account_id = account_id
        self.status = status


class AmoConnector:
    def __init__(
        self, *, engine: Engine, amo: AmoClient, token_store: DbTokenStore, oauth_app: OAuthApp | None
    ) -> None:
        self._engine = engine
        self._amo = amo
        self._tokens = token_store
        self._oauth_app = oauth_app

    def __repr__(self) -> str:
        return "AmoConnector()"

    def api_for(self, account_id: int) -> AccountApi:
        with session_scope(self._engine) as session:
            account = store.get_account(session=session, account_id=account_id)
            if account is None:
                raise AccountNotConnected(account_id, "unknown")
            if account.status != AccountStatus.ACTIVE:
                raise AccountNotConnected(account_id, account.status)
            base_url, kind = account.base_url, account.credential_kind
        if kind == "long_lived":
            pair = self._tokens.load_sync(account_id)
            if pair is None:
                raise AccountNotConnected(account_id, "no token")
            return self._amo.account(account_id, base_url, LongLivedAuth(pair.access_token))
        if self._oauth_app is None:
            raise AccountNotConnected(account_id, "integration credentials not configured")
        auth = self._amo.oauth(account_id, base_url, self._oauth_app, self._tokens)
        return self._amo.account(account_id, base_url, auth)
