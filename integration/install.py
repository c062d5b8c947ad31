"""Installing LeadPact into an amoCRM account and removing it again (the service layer behind the OAuth routes
and `leadpact accounts …`)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass

from pydantic import SecretStr

from integration.amocrm import LongLivedAuth, TokenPair
from integration.bootstrap import Services
from integration.db import session_scope
from integration.i18n import Language, Text
from integration.provisioning import ProvisioningResult, provision_account, webhook_destination
from integration.storage import accounts as store
from integration.storage.accounts import AccountStatus

log = logging.getLogger(__name__)

STATE_TTL_SECONDS = 20 * 60

INVALID_STATE = Text(
    ru="Ссылка установки устарела или подделана (параметр state). Начните установку заново.",
    en="The install link is expired or forged (state parameter). Please start the installation again.",
)
MISSING_CREDENTIALS = Text(
    ru="Интеграция не настроена: задайте AMOCRM_CLIENT_ID, AMOCRM_CLIENT_SECRET и AMOCRM_REDIRECT_URI.",
    en="The integration is not configured: set AMOCRM_CLIENT_ID, AMOCRM_CLIENT_SECRET and AMOCRM_REDIRECT_URI.",
)


class InstallError(Exception):
    """Installation cannot go on; `message` is safe to show to the user (contains no secret)."""

    def __init__(self, message: Text, status_code: int = 400) -> None:
        super().__init__(message.en)
        self.message = message
        self.status_code = status_code


@dataclass(frozen=True, slots=True)
class Installed:
    account_id: int
    subdomain: str
    provisioning: ProvisioningResult


# --- OAuth state: signed, expiring, no storage needed ----------------------------------------------------------


def make_state(secret: str, *, now: float | None = None) -> str:
    issued = int(now if now is not None else time.time())
    nonce = secrets.token_urlsafe(12)
    payload = f"{nonce}.{issued}"
    signature = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()[:32]
    return f"{payload}.{signature}"


def verify_state(secret: str, state: str | None, *, now: float | None = None) -> bool:
    if not state or state.count(".") != 2:
        return False
    nonce, issued, signature = state.split(".")
    expected = hmac.new(secret.encode(), f"{nonce}.{issued}".encode(), hashlib.sha256).hexdigest()[:32]
    if not hmac.compare_digest(expected, signature) or not issued.isdigit():
        return False
    age = (now if now is not None else time.time()) - int(issued)
    return 0 <= age <= STATE_TTL_SECONDS


def account_base_url(services: Services, referer: str) -> str:
    """The API base of an account: the settings override (Kommo proxy, sandbox) or https://{referer}."""
    if services.settings.amocrm_base_url:
        return services.settings.amocrm_base_url.rstrip("/")
    host = referer.removeprefix("https://").removeprefix("http://").strip("/")
    if not host or "/" in host or host.startswith("www."):
        raise InstallError(
            Text(ru="Некорректный адрес аккаунта amoCRM: {host}", en="Invalid amoCRM account host: {host}"),
        )
    return f"https://{host}"


# --- install / uninstall -------------------------------------------------------------------------------------


async def install_with_code(services: Services, *, code: str, referer: str) -> Installed:
    """Exchanges the authorization code, stores the account and its tokens, provisions fields and the webhook."""
    if services.oauth_app is None:
        raise InstallError(MISSING_CREDENTIALS, status_code=503)
    base_url = account_base_url(services, referer)
    pair = await services.oauth_app.exchange_code(services.http, base_url, code)
    return await _install(services, base_url=base_url, pair=pair, credential_kind="oauth")


async def install_with_long_lived_token(services: Services, *, host: str, token: SecretStr) -> Installed:
    """Private integrations: a long-lived token instead of OAuth (no refresh token)."""
    base_url = account_base_url(services, host)
    far_future = TokenPair.model_validate(
        {"access_token": token, "refresh_token": None, "expires_at": "2100-01-01T00:00:00Z"}
    )
    return await _install(services, base_url=base_url, pair=far_future, credential_kind="long_lived")


async def _install(services: Services, *, base_url: str, pair: TokenPair, credential_kind: str) -> Installed:
    probe = services.amo.account(0, base_url, LongLivedAuth(pair.access_token))
    info = await probe.get_account()
    # The code exchange and this probe were spent from the account's 7/s before we knew its id: take them from its
    # budget too, so provisioning right after cannot be the request that crosses the limit (a 429 on every install).
    for _ in range(2):
        await services.amo.limiter.acquire(info.id)
    subdomain = info.subdomain or str(info.id)
    lang: Language = services.settings.language
    with session_scope(services.engine) as session:
        account = store.upsert_account(
            session=session,
            account_id=info.id,
            subdomain=subdomain,
            base_url=base_url,
            language=lang,
            credential_kind=credential_kind,
            new_webhook_key=secrets.token_urlsafe(24),
        )
        webhook_key = account.webhook_key
    services.token_store.save_sync(info.id, pair)
    api = services.connector.api_for(info.id)
    with session_scope(services.engine) as session:
        result = await provision_account(
            api=api,
            session=session,
            account_id=info.id,
            webhook_url=webhook_destination(services.settings.public_url, webhook_key),
            lang=lang,
        )
    log.info(
        "account installed",
        extra={"account_id": info.id, "created_fields": list(result.created_fields)},
    )
    return Installed(account_id=info.id, subdomain=subdomain, provisioning=result)


async def remove_account(services: Services, *, account_id: int, unsubscribe: bool = True) -> bool:
    """Unsubscribes our webhook (while the token still works), deletes the tokens, marks the account removed."""
    with session_scope(services.engine) as session:
        account = store.get_account(session=session, account_id=account_id)
        if account is None:
            return False
        webhook_url = webhook_destination(services.settings.public_url, account.webhook_key)
        active = account.status == AccountStatus.ACTIVE
    if unsubscribe and active:
        try:
            await services.connector.api_for(account_id).unsubscribe_webhook(webhook_url)
        except Exception as exc:  # the token may already be revoked; removal must still happen
            log.warning(
                "could not unsubscribe webhook", extra={"account_id": account_id, "error": type(exc).__name__}
            )
    with session_scope(services.engine) as session:
        store.delete_token(session=session, account_id=account_id)
        store.set_account_status(
            session=session, account_id=account_id, status=AccountStatus.REMOVED, reason="uninstalled"
        )
    return True


def revocation_signature(client_secret: str, *, account_id: str, client_uuid: str) -> str:
    """amoCRM's access-revoked hook signature [assumed]: HMAC-SHA256 of "client_uuid|account_id"."""
    message = f"{client_uuid}|{account_id}"
    return hmac.new(client_secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def verify_revocation_signature(
    client_secret: str, *, account_id: str, client_uuid: str, signature: str
) -> bool:
    expected = revocation_signature(client_secret, account_id=account_id, client_uuid=client_uuid)
    return hmac.compare_digest(expected, signature)
