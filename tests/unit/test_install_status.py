"""Install health in words and the provisioning job's retry policy (pure)."""

from __future__ import annotations

from pydantic import SecretStr

from integration.amocrm import AccountBlocked, Forbidden, ServerError, TokenRefreshFailed
from integration.install import failure_cause, retry_delay
from integration.install_status import install_report
from integration.settings import Settings
from integration.storage.accounts import Account, AccountStatus
from integration.storage.install_health import InstallHealth, WebhookState
from rules.i18n import Text

ACCOUNT = Account(id=7, subdomain="acme", base_url="https://acme.amocrm.ru", webhook_key="k")


def http_error(kind: type[ServerError | Forbidden | AccountBlocked], status: int) -> Exception:
    return kind(
        f"GET /api/v4/leads/custom_fields → HTTP {status}", status_code=status, method="GET", path="x"
    )


class TestRetryPolicy:
    def test_each_failed_attempt_waits_twice_as_long_up_to_the_cap(self) -> None:
        """30 s, 60 s, 120 s … after successive failures, never more than the configured maximum."""
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            secret_key=SecretStr("x"),
            provisioning_retry_base_seconds=30,
            provisioning_retry_max_seconds=100,
        )
        assert [retry_delay(settings, n) for n in (1, 2, 3, 4)] == [30, 60, 100, 100]

    def test_causes_are_told_apart(self) -> None:
        """A 5xx, a blocked account, missing rights and revoked tokens each get their own cause."""
        assert failure_cause(http_error(ServerError, 503)) == "amocrm_unavailable"
        assert failure_cause(http_error(AccountBlocked, 403)) == "account_blocked"
        assert failure_cause(http_error(Forbidden, 403)) == "forbidden"
        assert failure_cause(TokenRefreshFailed(7, "refused")) == "needs_reauth"
        assert failure_cause(RuntimeError("boom")) == "unexpected"


class TestReportWording:
    def test_polling_mode_names_the_delay_rounded_up_in_both_languages(self) -> None:
        """On a plan without webhooks the report says within how many seconds changes arrive."""
        health = InstallHealth(
            account_id=7, webhook_state=WebhookState.REFUSED, webhook_checked_at=1_700_000_000
        )
        en = install_report(ACCOUNT, health, lang="en", polling_interval_seconds=59.5)
        ru = install_report(ACCOUNT, health, lang="ru", polling_interval_seconds=59.5)
        assert en.polling and en.line("webhook").text == (
            "webhooks unavailable on this plan: changes arrive within 60 s"
        )
        assert (
            ru.line("webhook").text == "вебхуки недоступны на этом тарифе: изменения приходят в течение 60 с"
        )
        assert en.line("webhook").ok is True and en.line("webhook").checked == "2023-11-14 22:13:20 UTC"

    def test_a_failure_is_explained_with_step_cause_and_amocrm_answer(self) -> None:
        """The last error names the step and the cause in the reader's language and keeps amoCRM's answer."""
        health = InstallHealth(
            account_id=7,
            provisioning_attempts=2,
            provisioning_next_at=1_700_000_060,
            last_error_cause="amocrm_unavailable",
            last_error_step="fields",
            last_error_detail="ServerError: GET /api/v4/leads/custom_fields → HTTP 503",
            last_error_at=1_700_000_000,
        )
        ru = install_report(ACCOUNT, health, lang="ru", polling_interval_seconds=60)
        assert ru.last_error is not None and not ru.healthy
        assert "шаг «поля»" in ru.last_error and "ошибкой сервера (5xx)" in ru.last_error
        assert "HTTP 503" in ru.last_error
        assert ru.line("provisioning").text.startswith("не удалась (2 раз)")

    def test_unmapped_roles_are_named_with_their_words_and_reauth_is_flagged(self) -> None:
        """Missing rule fields are listed by the words people use for the roles, never the rule file's keys; an
        account needing re-auth is not healthy."""
        health = InstallHealth(
            account_id=7, rules_state="fields_missing", rules_missing_roles=["budget", "need"]
        )
        account = Account(**{**ACCOUNT.model_dump(), "status": AccountStatus.NEEDS_REAUTH})
        names = {"budget": Text(ru="Бюджет", en="Budget")}
        report = install_report(account, health, lang="en", polling_interval_seconds=60, role_names=names)
        assert report.line("rules").text == "no field mapped for: Budget, Need"
        assert report.line("tokens").ok is False and not report.healthy
