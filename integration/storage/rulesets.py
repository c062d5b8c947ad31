"""Rule-file versions per account and their sign-offs: propose → approve (marketing + sales) → activate.

A version is `draft` until activated; activating it makes the previous `active` one `superseded`. A file that
does not validate is never activated, so the running version keeps working. Version 0 is the default pack.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import BigInteger, Column, Index, Text, UniqueConstraint, func
from sqlmodel import Field, Session, SQLModel, select

from integration.i18n import Text as I18nText
from rules import FieldCatalog, RuleSet, default_rules_text, default_ruleset, load_ruleset
from rules.agreement import (
    ROLE_TITLES,
    ROLES,
    ActivationVerdict,
    Approval,
    Role,
    activation_verdict,
    rules_diff,
)


class RuleStatus:
    DRAFT = "draft"
    ACTIVE = "active"
    SUPERSEDED = "superseded"
    REJECTED = "rejected"


class RuleVersion(SQLModel, table=True):
    """One proposed rule file of one account, with who proposed and activated it, when, and the diff."""

    __tablename__ = "rule_versions"
    __table_args__ = (Index("ix_rule_versions_account_status", "account_id", "status"),)

    account_id: int = Field(primary_key=True)
    version: int = Field(primary_key=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default=RuleStatus.DRAFT)
    proposed_by: str
    proposed_at: int
    comment: str = ""
    diff: str = Field(default="", sa_column=Column(Text, nullable=False))
    based_on: int = Field(default=0, description="the active version this draft was diffed against")
    activated_at: int | None = None
    activated_by: str | None = None
    emergency: bool = False


class RuleApproval(SQLModel, table=True):
    """A sign-off of one version by one person for one department."""

    __tablename__ = "rule_approvals"
    __table_args__ = (
        UniqueConstraint("account_id", "version", "role", "approver", name="uq_rule_approval"),
        Index("ix_rule_approvals_account_version", "account_id", "version"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int
    version: int
    approver: str
    role: str
    at: int
    # Who gave the sign-off (an amoCRM user, or "cli:<os user>"); None for sign-offs recorded before 0009.
    actor: str | None = None


class RuleSigner(SQLModel, table=True):
    """An amoCRM user who signs rule versions off for one department (role) of an account."""

    __tablename__ = "rule_signers"

    account_id: int = Field(primary_key=True)
    role: str = Field(primary_key=True)
    user_id: int = Field(primary_key=True, sa_type=BigInteger)
    user_name: str


def signers(*, session: Session, account_id: int) -> dict[Role, dict[int, str]]:
    """Who signs for each department: user id → name (an empty mapping: anyone of the account's admins)."""
    chosen: dict[Role, dict[int, str]] = {role: {} for role in ROLES}
    for row in session.exec(select(RuleSigner).where(RuleSigner.account_id == account_id)).all():
        chosen[_role(row.role)][row.user_id] = row.user_name
    return chosen


def set_signers(*, session: Session, account_id: int, role: str, users: dict[int, str]) -> None:
    """Replaces the users who sign for `role` (users picked by name; the names are kept for display)."""
    if role not in ROLES:
        raise RulesetError(_fill(UNKNOWN_ROLE, role=role))
    for row in session.exec(
        select(RuleSigner).where(RuleSigner.account_id == account_id, RuleSigner.role == role)
    ).all():
        session.delete(row)
    session.flush()
    session.add_all(
        RuleSigner(account_id=account_id, role=role, user_id=user_id, user_name=name)
        for user_id, name in users.items()
    )
    session.flush()


class RulesetError(ValueError):
    """A workflow step that cannot happen (unknown version, wrong status, missing sign-offs); `text` is ru/en."""

    def __init__(self, text: I18nText, verdict: ActivationVerdict | None = None) -> None:
        self.text = text
        self.verdict = verdict
        super().__init__(text("en"))


NO_SUCH_VERSION = I18nText(ru="версии {version} нет", en="there is no version {version}")
NOT_A_DRAFT = I18nText(
    ru="версия {version} уже {status}, согласовывать и активировать можно только черновик",
    en="version {version} is already {status}; only drafts can be approved or activated",
)
NOT_A_SIGNER = I18nText(
    ru="За отдел «{role}» согласуют только: {names} (настройка «Кто согласует» на странице правил).",
    en="Only these people sign off for {role}: {names} (the “Who signs off” setting on the rules page).",
)
ONE_PERSON_ONE_SIGN_OFF = I18nText(
    ru="{who} уже согласовал(а) версию {version} за отдел «{role}». Второе согласование должен дать другой "
    "человек — тот, кто отвечает за другой отдел.",
    en="{who} already signed version {version} off for {role}. The other sign-off must come from another "
    "person — the one responsible for the other department.",
)
UNKNOWN_ROLE = I18nText(
    ru="неизвестная роль «{role}»: marketing или sales", en="unknown role '{role}': marketing or sales"
)


def _now(now: int | None) -> int:
    return int(time.time()) if now is None else now


def _require(session: Session, account_id: int, version: int) -> RuleVersion:
    row = session.get(RuleVersion, (account_id, version))
    if row is None:
        raise RulesetError(_fill(NO_SUCH_VERSION, version=str(version)))
    return row


def _fill(text: I18nText, **params: str) -> I18nText:
    return I18nText(ru=text("ru", **params), en=text("en", **params))


def _active_row(session: Session, account_id: int) -> RuleVersion | None:
    query = (
        select(RuleVersion)
        .where(RuleVersion.account_id == account_id, RuleVersion.status == RuleStatus.ACTIVE)
        .order_by(RuleVersion.version.desc())  # type: ignore[attr-defined]
    )
    return session.exec(query).first()


def text_of(*, session: Session, account_id: int, version: int) -> str:
    """The rule-file text of a version (0 is the default pack)."""
    if version == 0:
        return default_rules_text()
    return _require(session, account_id, version).text


def propose(
    *,
    session: Session,
    account_id: int,
    text: str,
    author: str,
    comment: str = "",
    fields: FieldCatalog | None = None,
    now: int | None = None,
) -> int:
    """Store a rule file as a new draft and return its version; a file that does not validate is refused.

    Raises `rules.RuleFileError` (with every issue) for an invalid file.
    """
    load_ruleset(text, source=f"account {account_id} draft", fields=fields)
    active = _active_row(session, account_id)
    base_version, base_text = (active.version, active.text) if active else (0, default_rules_text())
    latest = session.exec(
        select(func.max(RuleVersion.version)).where(RuleVersion.account_id == account_id)
    ).one()
    version = int(latest or 0) + 1
    session.add(
        RuleVersion(
            account_id=account_id,
            version=version,
            text=text,
            proposed_by=author,
            proposed_at=_now(now),
            comment=comment,
            diff=rules_diff(base_text, text, old_label=f"v{base_version}", new_label=f"v{version}"),
            based_on=base_version,
        )
    )
    session.flush()
    return version


def approve(
    *,
    session: Session,
    account_id: int,
    version: int,
    approver: str,
    role: str,
    actor: str | None = None,
    user_id: int | None = None,
    now: int | None = None,
) -> None:
    """Record one department's sign-off of a draft (repeating the very same sign-off is harmless).

    When the account names who signs for the role (`set_signers`), only they may: `user_id` (an amoCRM user)
    must be one of them, and a sign-off without a user (the CLI) must give one of their names as `approver`.

    One person signs a version once: the same approver or the same actor (`actor`: who gives the sign-off, e.g.
    the amoCRM user, or the operator running the CLI whatever `--approver` says) is refused a second sign-off.
    """
    if role not in ROLES:
        raise RulesetError(_fill(UNKNOWN_ROLE, role=role))
    row = _require(session, account_id, version)
    if row.status != RuleStatus.DRAFT:
        raise RulesetError(_fill(NOT_A_DRAFT, version=str(version), status=row.status))
    holders = signers(session=session, account_id=account_id)[_role(role)]
    if holders:
        by_name = {name.casefold(): name for name in holders.values()}
        if user_id is not None and user_id in holders:
            approver = holders[user_id]
        elif user_id is None and approver.casefold() in by_name:
            approver = by_name[approver.casefold()]
        else:
            names = ", ".join(sorted(holders.values()))
            raise RulesetError(
                I18nText(
                    ru=NOT_A_SIGNER("ru", role=ROLE_TITLES[_role(role)]("ru"), names=names),
                    en=NOT_A_SIGNER("en", role=ROLE_TITLES[_role(role)]("en"), names=names),
                )
            )
    signed = session.exec(
        select(RuleApproval).where(RuleApproval.account_id == account_id, RuleApproval.version == version)
    ).all()
    who = actor or approver
    for earlier in signed:
        if earlier.role == role and earlier.approver == approver and (earlier.actor or approver) == who:
            return
        if earlier.approver == approver or (actor is not None and earlier.actor == actor):
            raise RulesetError(
                I18nText(
                    ru=ONE_PERSON_ONE_SIGN_OFF(
                        "ru",
                        who=earlier.approver,
                        version=version,
                        role=ROLE_TITLES[_role(earlier.role)]("ru"),
                    ),
                    en=ONE_PERSON_ONE_SIGN_OFF(
                        "en",
                        who=earlier.approver,
                        version=version,
                        role=ROLE_TITLES[_role(earlier.role)]("en"),
                    ),
                )
            )
    session.add(
        RuleApproval(
            account_id=account_id, version=version, approver=approver, role=role, actor=actor, at=_now(now)
        )
    )
    session.flush()


def approvals_of(*, session: Session, account_id: int, version: int) -> list[Approval]:
    rows = session.exec(
        select(RuleApproval)
        .where(RuleApproval.account_id == account_id, RuleApproval.version == version)
        .order_by(RuleApproval.at, RuleApproval.id)  # type: ignore[arg-type]
    ).all()
    return [Approval(row.approver, _role(row.role), row.at) for row in rows]


def _role(value: str) -> Role:
    return "sales" if value == "sales" else "marketing"


def activate(
    *,
    session: Session,
    account_id: int,
    version: int,
    by: str,
    emergency: bool = False,
    fields: FieldCatalog | None = None,
    now: int | None = None,
) -> ActivationVerdict:
    """Make a draft the account's running rules, if both departments signed it off (or `emergency`).

    Refuses (raising) without the sign-offs, and refuses a file that no longer validates (e.g. against the
    account's current fields) — in both cases the previously active version stays active.
    """
    row = _require(session, account_id, version)
    if row.status != RuleStatus.DRAFT:
        raise RulesetError(_fill(NOT_A_DRAFT, version=str(version), status=row.status))
    verdict = activation_verdict(
        approvals_of(session=session, account_id=account_id, version=version), emergency=emergency
    )
    if not verdict.allowed:
        raise RulesetError(verdict.reason, verdict)
    load_ruleset(row.text, source=f"account {account_id} v{version}", fields=fields)
    moment = _now(now)
    for previous in session.exec(
        select(RuleVersion).where(
            RuleVersion.account_id == account_id, RuleVersion.status == RuleStatus.ACTIVE
        )
    ).all():
        previous.status = RuleStatus.SUPERSEDED
        session.add(previous)
    row.status = RuleStatus.ACTIVE
    row.activated_at = moment
    row.activated_by = by
    row.emergency = verdict.emergency
    session.add(row)
    session.flush()
    return verdict


def reject(*, session: Session, account_id: int, version: int) -> None:
    """Withdraw a draft so nobody activates it by mistake."""
    row = _require(session, account_id, version)
    if row.status != RuleStatus.DRAFT:
        raise RulesetError(_fill(NOT_A_DRAFT, version=str(version), status=row.status))
    row.status = RuleStatus.REJECTED
    session.add(row)
    session.flush()


def active_version(*, session: Session, account_id: int) -> int:
    """The number of the running version (0 while the default pack runs)."""
    row = _active_row(session, account_id)
    return row.version if row is not None else 0


def active_ruleset(*, session: Session, account_id: int) -> tuple[int, RuleSet]:
    """The running rules of an account, compiled, with their version (the default pack as version 0)."""
    row = _active_row(session, account_id)
    if row is None:
        return 0, default_ruleset()
    return row.version, load_ruleset(row.text, source=f"account {account_id} v{row.version}").with_version(
        row.version
    )


class ActiveRulesCache:
    """Compiled active rules per account, recompiled only when another version becomes active.

    Each lookup asks the database for the active version number (one indexed query), so a version activated
    by the CLI or another replica is used for the very next event, with no restart. Owned by the process's
    `Services`, never module-global.
    """

    def __init__(self) -> None:
        self._compiled: dict[int, RuleSet] = {}

    def get(self, *, session: Session, account_id: int) -> RuleSet:
        version = active_version(session=session, account_id=account_id)
        cached = self._compiled.get(account_id)
        if cached is not None and cached.version == version:
            return cached
        _, ruleset = active_ruleset(session=session, account_id=account_id)
        self._compiled[account_id] = ruleset
        return ruleset


@dataclass(frozen=True, slots=True)
class VersionInfo:
    """One line of `leadpact rules history`."""

    version: int
    status: str
    proposed_by: str
    proposed_at: int
    comment: str
    approvals: tuple[Approval, ...]
    activated_at: int | None
    activated_by: str | None
    emergency: bool
    diff: str


def history(*, session: Session, account_id: int) -> list[VersionInfo]:
    """Every version of an account's rules, newest first, with its sign-offs and diff."""
    rows = session.exec(
        select(RuleVersion).where(RuleVersion.account_id == account_id).order_by(RuleVersion.version.desc())  # type: ignore[attr-defined]
    ).all()
    return [
        VersionInfo(
            version=row.version,
            status=row.status,
            proposed_by=row.proposed_by,
            proposed_at=row.proposed_at,
            comment=row.comment,
            approvals=tuple(approvals_of(session=session, account_id=account_id, version=row.version)),
            activated_at=row.activated_at,
            activated_by=row.activated_by,
            emergency=row.emergency,
            diff=row.diff,
        )
        for row in rows
    ]


def diff(*, session: Session, account_id: int, old: int, new: int) -> str:
    """A unified diff between two versions (0 is the default pack)."""
    return rules_diff(
        text_of(session=session, account_id=account_id, version=old),
        text_of(session=session, account_id=account_id, version=new),
        old_label=f"v{old}",
        new_label=f"v{new}",
    )
