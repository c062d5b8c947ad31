"""Installing LeadPact into an amoCRM account and removing it again (the service layer behind the OAuth routes
and `leadpact accounts …`)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import anyio
from pydantic import SecretStr

from integration.amocrm import (
    AccountBlocked,
    AmoError,
    AmoHTTPError,
    AmoTransportError,
    LongLivedAuth,
    RateLimited,
    ServerError,
    TokenPair,
    TokenRefreshFailed,
    Unauthorized,
    ValidationFailed,
)
from integration.bootstrap import Services
from integration.db import session_scope
from integration.i18n import Language, Text
from integration.provisioning import (
    BASE_STEPS,
    ProvisioningContext,
    ProvisioningResult,
    ProvisioningStep,
    ensure_webhook,
    result_of,
    webhook_destination,
)
from integration.settings import Settings
from integration.storage import accounts as store
from integration.storage import install_health as health_store
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
    # Set when provisioning ran with the install (the CLI); an OAuth install leaves it to the job.
    provisioning: ProvisioningResult | None = None


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
    """Exchanges the authorization code and stores the account and its tokens; provisioning is scheduled.

    This is all amoCRM's hook waits for (about 3 s, and it never sends the hook again): the provisioning job does
    the rest, with retries, and install health shows how it went.
    """
    if services.oauth_app is None:
        raise InstallError(MISSING_CREDENTIALS, status_code=503)
    base_url = account_base_url(services, referer)
    pair = await services.oauth_app.exchange_code(services.http, base_url, code)
    return await _store_install(services, base_url=base_url, pair=pair, credential_kind="oauth")


async def install_with_long_lived_token(
    services: Services,
    *,
    host: str,
    token: SecretStr,
    steps: Sequence[ProvisioningStep] = BASE_STEPS,
) -> Installed:
    """Private integrations: a long-lived token instead of OAuth (no refresh token). Provisioned at once, under
    the job's lease (a worker may be running): the CLI's user waits for it, unlike amoCRM's hook."""
    base_url = account_base_url(services, host)
    far_future = TokenPair.model_validate(
        {"access_token": token, "refresh_token": None, "expires_at": "2100-01-01T00:00:00Z"}
    )
    installed = await _store_install(
        services, base_url=base_url, pair=far_future, credential_kind="long_lived"
    )
    claimed = await anyio.to_thread.run_sync(
        partial(
            health_store.claim_provisioning,
            engine=services.engine,
            account_id=installed.account_id,
            now=time.time(),
            lease_seconds=services.settings.provisioning_lease_seconds,
        )
    )
    if not claimed:
        return installed  # a running worker's provisioning job took it a moment ago
    outcome = await run_provisioning(services, installed.account_id, steps)
    if outcome.error is not None:
        raise outcome.error
    return Installed(
        account_id=installed.account_id, subdomain=installed.subdomain, provisioning=outcome.result
    )


async def _store_install(
    services: Services, *, base_url: str, pair: TokenPair, credential_kind: str
) -> Installed:
    probe = services.amo.account(0, base_url, LongLivedAuth(pair.access_token))
    info = await probe.get_account()
    subdomain = info.subdomain or str(info.id)
    lang: Language = services.settings.language
    with session_scope(services.engine) as session:
        store.upsert_account(
            session=session,
            account_id=info.id,
            subdomain=subdomain,
            base_url=base_url,
            language=lang,
            credential_kind=credential_kind,
            new_webhook_key=secrets.token_urlsafe(24),
        )
    services.token_store.save_sync(info.id, pair)
    with session_scope(services.engine) as session:
        health_store.schedule_provisioning(session=session, account_id=info.id, now=time.time())
    log.info("account installed; provisioning scheduled", extra={"account_id": info.id})
    return Installed(account_id=info.id, subdomain=subdomain)


# --- the provisioning job ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProvisioningOutcome:
    account_id: int
    result: ProvisioningResult | None
    failed_step: str | None = None
    error: Exception | None = None


def retry_delay(settings: Settings, failed_attempts: int) -> float:
    """Seconds before the next attempt: doubling from the base, capped."""
    base = settings.provisioning_retry_base_seconds
    return float(min(settings.provisioning_retry_max_seconds, base * 2 ** max(0, failed_attempts - 1)))


async def run_provisioning(
    services: Services, account_id: int, steps: Sequence[ProvisioningStep], *, now: float | None = None
) -> ProvisioningOutcome:
    """Runs the steps in order for one account and records the outcome in its install health.

    A failed step stops the attempt; its cause goes to install health and the attempt is retried later with
    backoff (never when the account's tokens are gone: only a new install helps then).
    """
    with session_scope(services.engine) as session:
        account = store.get_account(session=session, account_id=account_id)
        if account is None:
            raise LookupError(f"account {account_id} is not installed")
        webhook_key, language = account.webhook_key, account.language
        health = health_store.get_health(session=session, account_id=account_id)
        failed_before = health.provisioning_attempts if health is not None else 0
    lang: Language = "en" if language == "en" else "ru"
    context = ProvisioningContext(
        api=services.connector.api_for(account_id),
        engine=services.engine,
        account_id=account_id,
        webhook_url=webhook_destination(services.settings.public_url, webhook_key),
        lang=lang,
    )
    for step in steps:
        try:
            await step.run(context)
        except Exception as exc:
            moment = now if now is not None else time.time()
            cause = failure_cause(exc)
            retry_at = (
                None
                if cause == "needs_reauth"
                else moment + retry_delay(services.settings, failed_before + 1)
            )
            with session_scope(services.engine) as session:
                health_store.record_provisioning_failed(
                    session=session,
                    account_id=account_id,
                    now=moment,
                    step=step.name,
                    cause=cause,
                    detail=failure_detail(exc),
                    retry_at=retry_at,
                )
            log.warning(
                "provisioning of account %s failed at %s: %s", account_id, step.name, type(exc).__name__,
                extra={"account_id": account_id},
            )  # fmt: skip
            return ProvisioningOutcome(account_id=account_id, result=None, failed_step=step.name, error=exc)
    with session_scope(services.engine) as session:
        health_store.record_provisioning_done(
            session=session, account_id=account_id, now=now if now is not None else time.time()
        )
    result = result_of(context) if "fields" in context.found else None
    log.info("account %s provisioned", account_id, extra={"account_id": account_id})
    return ProvisioningOutcome(account_id=account_id, result=result)


async def provision_due_accounts(
    services: Services, steps: Sequence[ProvisioningStep], *, now: float | None = None
) -> list[ProvisioningOutcome]:
    """One tick of the provisioning job: every account whose provisioning is due, each on one replica only."""
    moment = now if now is not None else time.time()
    claimed = await anyio.to_thread.run_sync(
        partial(
            health_store.claim_due_provisioning,
            engine=services.engine,
            now=moment,
            lease_seconds=services.settings.provisioning_lease_seconds,
        )
    )
    return [await run_provisioning(services, account_id, steps, now=now) for account_id in claimed]


async def recheck_refused_webhook(services: Services, account_id: int) -> str | None:
    """For an account whose plan refused the webhooks API: asks again (the plan may have been upgraded) and
    returns the webhook state now; None, without a call, for every other account."""
    with session_scope(services.engine) as session:
        if not health_store.webhooks_refused(session=session, account_id=account_id):
            return None
        account = store.get_account(session=session, account_id=account_id)
        if account is None:
            return None
        webhook_key, language = account.webhook_key, account.language
    context = ProvisioningContext(
        api=services.connector.api_for(account_id),
        engine=services.engine,
        account_id=account_id,
        webhook_url=webhook_destination(services.settings.public_url, webhook_key),
        lang="en" if language == "en" else "ru",
    )
    return await ensure_webhook(context)


def failure_cause(exc: BaseException) -> str:
    """The key of the cause shown to people (`integration.install_status.CAUSES`)."""
    if isinstance(exc, TokenRefreshFailed | Unauthorized):
        return "needs_reauth"
    if isinstance(exc, RateLimited):
        return "rate_limited"
    if isinstance(exc, AccountBlocked):
        return "account_blocked"
    if isinstance(exc, ServerError):
        return "amocrm_unavailable"
    if isinstance(exc, AmoTransportError):
        return "amocrm_unreachable"
    if isinstance(exc, ValidationFailed):
        return "refused"
    if isinstance(exc, AmoHTTPError) and exc.status_code in (402, 403):
        return "forbidden"
    return "unexpected"


def failure_detail(exc: BaseException) -> str:
    # The client's messages name method, path, status and amoCRM's problem text: never a token or a header.
    if isinstance(exc, AmoError):
        return f"{type(exc).__name__}: {exc}"
    return type(exc).__name__


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
