"""Install health, one row per account: what provisioning found last time it looked, and the provisioning job's
own bookkeeping (due time, attempts, lease).

States are short machine words; `integration.install_status` turns them into ru/en text. Times are unix seconds.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from sqlalchemy import JSON, Column, update
from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel, col, select

from integration.db import session_scope
from integration.storage.accounts import Account, AccountStatus


class FieldsState:
    PENDING = "pending"
    OK = "ok"
    FAILED = "failed"


class WebhookState:
    MISSING = "missing"
    SUBSCRIBED = "subscribed"
    # The account's plan refuses the webhooks API: reconciliation (polling) is the feed.
    REFUSED = "refused"


class RulesState:
    UNCHECKED = "unchecked"
    MAPPED = "mapped"
    FIELDS_MISSING = "fields_missing"


class ProvisioningState:
    PENDING = "pending"
    DONE = "done"


class InstallHealth(SQLModel, table=True):
    __tablename__ = "install_health"

    account_id: int = Field(primary_key=True, foreign_key="accounts.id", ondelete="CASCADE")
    tokens_checked_at: int | None = Field(default=None, description="last time amoCRM accepted our token")
    fields_state: str = Field(default=FieldsState.PENDING)
    fields_checked_at: int | None = None
    webhook_state: str = Field(default=WebhookState.MISSING)
    webhook_checked_at: int | None = None
    rules_state: str = Field(default=RulesState.UNCHECKED)
    rules_missing_roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    rules_checked_at: int | None = None
    provisioning_state: str = Field(default=ProvisioningState.PENDING, index=True)
    provisioning_attempts: int = Field(default=0, description="failed attempts since it was last scheduled")
    provisioning_next_at: float = Field(default=0.0, description="not attempted before this time")
    provisioning_lease_until: float | None = Field(
        default=None, description="a replica is provisioning until then; a crashed one's lease runs out"
    )
    provisioned_at: int | None = None
    last_error_cause: str | None = Field(default=None, description="a key of install_status.CAUSES")
    last_error_step: str | None = None
    last_error_detail: str | None = Field(default=None, description="method, path and status; never a secret")
    last_error_at: int | None = None


# --- writes ---------------------------------------------------------------------------------------------------


def _row(session: Session, account_id: int) -> InstallHealth:
    row = session.get(InstallHealth, account_id)
    if row is None:
        row = InstallHealth(account_id=account_id)
    return row


def schedule_provisioning(*, session: Session, account_id: int, now: float) -> None:
    """The account's tokens were just stored: provision it as soon as a job runner is free."""
    row = _row(session, account_id)
    row.tokens_checked_at = int(now)
    row.provisioning_state = ProvisioningState.PENDING
    row.provisioning_attempts = 0
    row.provisioning_next_at = now
    row.provisioning_lease_until = None
    session.add(row)


def claim_due_provisioning(*, engine: Engine, now: float, lease_seconds: float) -> list[int]:
    """Accounts whose provisioning is due and now leased to this caller: each to exactly one replica.

    The conditional UPDATE is the claim (one writer wins on SQLite and PostgreSQL alike); a lease rather than a
    claim row, so that the account of a replica that died mid-run is picked up again once the lease runs out.
    """
    with session_scope(engine) as session:
        due = session.exec(
            select(col(InstallHealth.account_id))
            .join(Account, col(Account.id) == col(InstallHealth.account_id))
            .where(
                col(Account.status) == AccountStatus.ACTIVE,
                col(InstallHealth.provisioning_state) == ProvisioningState.PENDING,
                col(InstallHealth.provisioning_next_at) <= now,
            )
            .order_by(col(InstallHealth.provisioning_next_at))
        ).all()
    return [
        int(account_id)
        for account_id in due
        if claim_provisioning(engine=engine, account_id=int(account_id), now=now, lease_seconds=lease_seconds)
    ]


def claim_provisioning(*, engine: Engine, account_id: int, now: float, lease_seconds: float) -> bool:
    """Leases the account's due provisioning to this caller; False when it is not due or another holds it."""
    with session_scope(engine) as session:
        result = session.connection().execute(
            update(InstallHealth)
            .where(
                col(InstallHealth.account_id) == account_id,
                col(InstallHealth.provisioning_state) == ProvisioningState.PENDING,
                col(InstallHealth.provisioning_next_at) <= now,
                (col(InstallHealth.provisioning_lease_until).is_(None))
                | (col(InstallHealth.provisioning_lease_until) <= now),
            )
            .values(provisioning_lease_until=now + lease_seconds)
        )
        return result.rowcount == 1


def record_tokens_ok(*, session: Session, account_id: int, now: float) -> None:
    row = _row(session, account_id)
    row.tokens_checked_at = int(now)
    session.add(row)


def record_fields(*, session: Session, account_id: int, ok: bool, now: float) -> None:
    row = _row(session, account_id)
    row.fields_state = FieldsState.OK if ok else FieldsState.FAILED
    row.fields_checked_at = int(now)
    session.add(row)


def record_webhook(*, session: Session, account_id: int, state: str, now: float) -> None:
    row = _row(session, account_id)
    row.webhook_state = state
    row.webhook_checked_at = int(now)
    session.add(row)


def record_rules_mapping(
    *, session: Session, account_id: int, missing_roles: Sequence[str], now: float
) -> None:
    """What the field-mapping check found: every role the rules use bound to a field, or the roles without one."""
    row = _row(session, account_id)
    row.rules_missing_roles = sorted(set(missing_roles))
    row.rules_state = RulesState.FIELDS_MISSING if row.rules_missing_roles else RulesState.MAPPED
    row.rules_checked_at = int(now)
    session.add(row)


def record_provisioning_done(*, session: Session, account_id: int, now: float) -> None:
    row = _row(session, account_id)
    row.provisioning_state = ProvisioningState.DONE
    row.provisioning_attempts = 0
    row.provisioning_lease_until = None
    row.provisioned_at = int(now)
    row.last_error_cause = row.last_error_step = row.last_error_detail = None
    row.last_error_at = None
    session.add(row)


def record_provisioning_failed(
    *,
    session: Session,
    account_id: int,
    now: float,
    step: str,
    cause: str,
    detail: str,
    retry_at: float | None,
) -> None:
    """An attempt failed at `step`; it is tried again at `retry_at` (None: not until someone acts)."""
    row = _row(session, account_id)
    row.provisioning_attempts += 1
    row.provisioning_lease_until = None
    if retry_at is None:
        row.provisioning_state = ProvisioningState.DONE
    else:
        row.provisioning_next_at = retry_at
    row.last_error_cause = cause
    row.last_error_step = step
    row.last_error_detail = detail[:500]
    row.last_error_at = int(now)
    session.add(row)


# --- reads ----------------------------------------------------------------------------------------------------


def get_health(*, session: Session, account_id: int) -> InstallHealth | None:
    return session.get(InstallHealth, account_id)


def list_health(*, session: Session, account_ids: Sequence[int]) -> dict[int, InstallHealth]:
    if not account_ids:
        return {}
    rows = session.exec(select(InstallHealth).where(col(InstallHealth.account_id).in_(list(account_ids))))
    return {row.account_id: row for row in rows}


def webhooks_refused(*, session: Session, account_id: int) -> bool:
    """The account's plan refused our webhook subscription last time we asked: poll, don't ask every round."""
    row = session.get(InstallHealth, account_id)
    return row is not None and row.webhook_state == WebhookState.REFUSED


def polling_account_ids(*, session: Session) -> list[int]:
    """Active accounts whose plan refused the webhooks API: reconciliation is their only feed."""
    rows = session.exec(
        select(col(InstallHealth.account_id))
        .join(Account, col(Account.id) == col(InstallHealth.account_id))
        .where(
            col(InstallHealth.webhook_state) == WebhookState.REFUSED,
            col(Account.status) == AccountStatus.ACTIVE,
        )
        .order_by(col(InstallHealth.account_id))
    ).all()
    return [int(account_id) for account_id in rows]


def health_counts(*, session: Session) -> dict[str, int]:
    """How many installed accounts are in each state (no account named): for /readyz."""
    rows = session.exec(
        select(Account.status, InstallHealth)
        .join(InstallHealth, col(InstallHealth.account_id) == col(Account.id), isouter=True)
        .where(col(Account.status) != AccountStatus.REMOVED)
    ).all()
    counts: Counter[str] = Counter()
    for status, health in rows:
        counts["accounts"] += 1
        if status == AccountStatus.NEEDS_REAUTH:
            counts["needs_reauth"] += 1
        if health is None:
            continue
        if health.provisioning_state == ProvisioningState.PENDING:
            counts["provisioning_pending"] += 1
        if health.last_error_cause is not None:
            counts["provisioning_failing"] += 1
        if health.fields_state == FieldsState.OK:
            counts["fields_ok"] += 1
        counts[f"webhook_{health.webhook_state}"] += 1
        if health.rules_state == RulesState.FIELDS_MISSING:
            counts["rules_fields_missing"] += 1
    keys = (
        "accounts",
        "needs_reauth",
        "provisioning_pending",
        "provisioning_failing",
        "fields_ok",
        "webhook_subscribed",
        "webhook_refused",
        "webhook_missing",
        "rules_fields_missing",
    )
    return {key: counts[key] for key in keys}
