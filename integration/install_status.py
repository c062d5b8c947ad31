"""An account's install health in words, ru and en: the one place the admin overview, `leadpact accounts list`
and `leadpact accounts status` take them from.

Each line says what is known and when it was last checked; the last provisioning error names its step and its
cause in the reader's language, with amoCRM's technical answer (method, path, status) after it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from integration.i18n import Language, Text
from integration.storage.accounts import Account, AccountStatus
from integration.storage.install_health import (
    FieldsState,
    InstallHealth,
    ProvisioningState,
    RulesState,
    WebhookState,
)
from rules.roles import role_named

LABELS: Mapping[str, Text] = {
    "tokens": Text(ru="Доступ к amoCRM", en="amoCRM access"),
    "fields": Text(ru="Поля LeadPact", en="LeadPact fields"),
    "webhook": Text(ru="Вебхук", en="Webhook"),
    "rules": Text(ru="Поля правил", en="Rule fields"),
    "provisioning": Text(ru="Настройка аккаунта", en="Account setup"),
}

TOKENS_OK = Text(ru="есть", en="works")
TOKENS_REAUTH = Text(
    ru="нужна повторная установка: доступ отозван или истёк",
    en="needs re-authorisation: access revoked or expired",
)
TOKENS_REMOVED = Text(ru="интеграция отключена", en="integration removed")
FIELDS_TEXT: Mapping[str, Text] = {
    FieldsState.PENDING: Text(ru="ещё не созданы", en="not created yet"),
    FieldsState.OK: Text(ru="на месте", en="in place"),
    FieldsState.FAILED: Text(ru="не удалось создать", en="could not be created"),
}
WEBHOOK_SUBSCRIBED = Text(ru="подписан", en="subscribed")
WEBHOOK_MISSING = Text(ru="не подписан", en="not subscribed")
WEBHOOKS_REFUSED = Text(
    ru="вебхуки недоступны на этом тарифе: изменения приходят в течение {seconds} с",
    en="webhooks unavailable on this plan: changes arrive within {seconds} s",
)
RULES_UNCHECKED = Text(ru="сопоставление ещё не проверено", en="mapping not checked yet")
RULES_MAPPED = Text(ru="все сопоставлены", en="all mapped")
RULES_MISSING = Text(ru="не сопоставлены поля для: {roles}", en="no field mapped for: {roles}")
SETUP_PENDING = Text(ru="выполняется", en="in progress")
SETUP_RETRYING = Text(
    ru="не удалась ({attempts} раз), следующая попытка {when}", en="failed ({attempts}×), next attempt {when}"
)
SETUP_DONE = Text(ru="завершена", en="done")
SETUP_STOPPED = Text(
    ru="остановлена: нужна повторная установка", en="stopped: the integration must be installed again"
)
NEVER = Text(ru="не проверялось", en="never checked")
LAST_ERROR = Text(
    ru="Последняя ошибка ({when}), шаг «{step}»: {cause}. Ответ amoCRM: {detail}",
    en="Last error ({when}), step “{step}”: {cause}. amoCRM answered: {detail}",
)

STEPS: Mapping[str, Text] = {
    "fields": Text(ru="поля", en="fields"),
    "webhook": Text(ru="вебхук", en="webhook"),
    "catalog": Text(ru="каталог акций", en="promo catalog"),
    "mapping": Text(ru="сопоставление полей", en="field mapping"),
}

CAUSES: Mapping[str, Text] = {
    "needs_reauth": Text(
        ru="amoCRM не принимает токен LeadPact — установите интеграцию заново",
        en="amoCRM no longer accepts LeadPact's token — install the integration again",
    ),
    "rate_limited": Text(
        ru="amoCRM ограничил частоту запросов; повторим позже",
        en="amoCRM rate-limited our requests; we will try again",
    ),
    "account_blocked": Text(
        ru="amoCRM заблокировал доступ к API аккаунта (страница блокировки вместо ответа)",
        en="amoCRM blocked the account's API access (a block page instead of an answer)",
    ),
    "amocrm_unavailable": Text(
        ru="amoCRM отвечает ошибкой сервера (5xx); повторим позже",
        en="amoCRM answers with a server error (5xx); we will try again",
    ),
    "amocrm_unreachable": Text(
        ru="amoCRM не отвечает (сеть или тайм-аут); повторим позже",
        en="amoCRM does not answer (network or timeout); we will try again",
    ),
    "refused": Text(
        ru="amoCRM отклонил данные LeadPact (ошибка проверки)",
        en="amoCRM refused LeadPact's data (validation error)",
    ),
    "forbidden": Text(
        ru="у установившего пользователя нет прав администратора amoCRM",
        en="the user who installed LeadPact has no amoCRM admin rights",
    ),
    "unexpected": Text(ru="непредвиденная ошибка LeadPact", en="an unexpected LeadPact error"),
}


@dataclass(frozen=True, slots=True)
class HealthLine:
    key: str
    label: str
    text: str
    # True fine, False needs attention, None not known yet / in progress.
    ok: bool | None
    checked: str


@dataclass(frozen=True, slots=True)
class InstallReport:
    account_id: int
    subdomain: str
    lines: tuple[HealthLine, ...]
    last_error: str | None
    polling: bool

    @property
    def healthy(self) -> bool:
        return self.last_error is None and all(line.ok is not False for line in self.lines)

    def line(self, key: str) -> HealthLine:
        return next(line for line in self.lines if line.key == key)


def when(moment: float | None) -> str:
    if moment is None:
        return "—"
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def polling_seconds(polling_interval_seconds: float) -> int:
    return math.ceil(polling_interval_seconds)


def install_report(
    account: Account,
    health: InstallHealth | None,
    *,
    lang: Language,
    polling_interval_seconds: float,
    role_names: Mapping[str, Text] | None = None,
) -> InstallReport:
    """The account's health in `lang`; `role_names` overrides the words for mapping roles (their titles
    otherwise)."""
    row = health or InstallHealth(account_id=account.id)

    def checked(moment: int | None) -> str:
        return NEVER(lang) if moment is None else when(moment)

    if account.status == AccountStatus.NEEDS_REAUTH:
        tokens = (TOKENS_REAUTH(lang), False)
    elif account.status == AccountStatus.REMOVED:
        tokens = (TOKENS_REMOVED(lang), False)
    else:
        tokens = (TOKENS_OK(lang), True)
    fields_ok = {FieldsState.OK: True, FieldsState.FAILED: False}.get(row.fields_state)
    polling = row.webhook_state == WebhookState.REFUSED
    if row.webhook_state == WebhookState.SUBSCRIBED:
        webhook: tuple[str, bool | None] = (WEBHOOK_SUBSCRIBED(lang), True)
    elif polling:
        seconds = polling_seconds(polling_interval_seconds)
        webhook = (WEBHOOKS_REFUSED(lang, seconds=seconds), True)
    else:
        webhook = (WEBHOOK_MISSING(lang), None if row.webhook_checked_at is None else False)
    if row.rules_state == RulesState.MAPPED:
        rules: tuple[str, bool | None] = (RULES_MAPPED(lang), True)
    elif row.rules_state == RulesState.FIELDS_MISSING:
        rules = (RULES_MISSING(lang, roles=_roles(row.rules_missing_roles, lang, role_names)), False)
    else:
        rules = (RULES_UNCHECKED(lang), None)
    lines = (
        HealthLine("tokens", LABELS["tokens"](lang), tokens[0], tokens[1], checked(row.tokens_checked_at)),
        HealthLine("fields", LABELS["fields"](lang), FIELDS_TEXT[row.fields_state](lang), fields_ok,
                   checked(row.fields_checked_at)),
        HealthLine("webhook", LABELS["webhook"](lang), webhook[0], webhook[1], checked(row.webhook_checked_at)),
        HealthLine("rules", LABELS["rules"](lang), rules[0], rules[1], checked(row.rules_checked_at)),
        _setup_line(row, lang),
    )  # fmt: skip
    last_error = None
    if row.last_error_cause is not None:
        step = STEPS.get(row.last_error_step or "")
        cause = CAUSES.get(row.last_error_cause, CAUSES["unexpected"])
        last_error = LAST_ERROR(
            lang,
            when=when(row.last_error_at),
            step=step(lang) if step else (row.last_error_step or "?"),
            cause=cause(lang),
            detail=row.last_error_detail or "—",
        )
    return InstallReport(
        account_id=account.id,
        subdomain=account.subdomain,
        lines=lines,
        last_error=last_error,
        polling=polling,
    )


def _setup_line(row: InstallHealth, lang: Language) -> HealthLine:
    label = LABELS["provisioning"](lang)
    if row.provisioning_state == ProvisioningState.DONE:
        if row.last_error_cause is not None:
            return HealthLine("provisioning", label, SETUP_STOPPED(lang), False, when(row.last_error_at))
        return HealthLine("provisioning", label, SETUP_DONE(lang), True, when(row.provisioned_at))
    if row.provisioning_attempts:
        text = SETUP_RETRYING(lang, attempts=row.provisioning_attempts, when=when(row.provisioning_next_at))
        return HealthLine("provisioning", label, text, False, when(row.last_error_at))
    return HealthLine("provisioning", label, SETUP_PENDING(lang), None, "—")


def _roles(roles: Sequence[str], lang: Language, names: Mapping[str, Text] | None) -> str:
    """Roles as people call them («Бюджет», «ЛПР»), not as the rule file spells them (`budget`)."""
    words = []
    for name in roles:
        known = role_named(name)
        if names and name in names:
            words.append(names[name](lang))
        else:
            words.append(known.title(lang) if known is not None else name)
    return ", ".join(words)
