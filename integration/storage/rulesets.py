"""Rule-file versions per account and their sign-offs: propose → approve (marketing + sales) → activate.

A version is `draft` until activated; activating it makes the previous `active` one `superseded`. A file that
does not validate is never activated, so the running version keeps working. Version 0 is the default pack.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Text, UniqueConstraint, func
from sqlmodel import Field, Session, SQLModel, select

from integration.i18n import Text as I18nText
from integration.storage import field_mapping as mapping_store
from integration.storage import install_health as health_store
from integration.storage.accounts import get_account
from rules import FieldCatalog, FieldMapping, RuleSet, default_rules_text, load_ruleset, unmapped_roles
from rules.agreement import (
    ROLE_TITLES,
    ROLES,
    ActivationVerdict,
    Approval,
    Role,
    activation_verdict,
    rules_diff,
)
from rules.roles import mapping_from_json, mapping_lines, mapping_to_json
from rules.usage import RoleUse, unmapped_message


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
    # role → the account's field, signed off with this version (None: the account's default, see
    # `account_mapping`); a mapping change is a new version with the same text.
    mapping: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


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


def is_signer(*, session: Session, account_id: int, user_id: int | None) -> bool:
    """Whether the user is named to sign off for a department (the heads may reach LeadPact without admin rights)."""
    return user_id is not None and any(
        user_id in users for users in signers(session=session, account_id=account_id).values()
    )


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


UNMAPPED_REFUSED = I18nText(
    ru="версия {version} не активирована: {roles}. Сопоставьте поля на /admin/mapping (или --emergency)",
    en="version {version} not activated: {roles}. Map the fields on /admin/mapping (or use --emergency)",
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
    mapping: FieldMapping | None = None,
    now: int | None = None,
) -> int:
    """Store a rule file as a new draft and return its version; a file that does not validate is refused.

    `mapping` (role → the account's field) goes with the draft; without it the draft keeps the running
    version's mapping. Raises `rules.RuleFileError` (with every issue) for an invalid file.
    """
    active = _active_row(session, account_id)
    stored_mapping = mapping_to_json(mapping) if mapping is not None else (active.mapping if active else None)
    load_ruleset(
        text,
        source=f"account {account_id} draft",
        fields=fields if stored_mapping is None else None,
        mapping=mapping_from_json(stored_mapping) if stored_mapping is not None else None,
    )
    base_version, base_text = (active.version, active.text) if active else (0, default_rules_text())
    base_mapping = active.mapping if active else None
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
            diff=rules_diff(
                _with_mapping(base_text, base_mapping),
                _with_mapping(text, stored_mapping),
                old_label=f"v{base_version}",
                new_label=f"v{version}",
            ),
            based_on=base_version,
            mapping=stored_mapping,
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
            who_signed = _readable(session, account_id, earlier.approver)
            raise RulesetError(
                I18nText(
                    ru=ONE_PERSON_ONE_SIGN_OFF(
                        "ru",
                        who=who_signed,
                        version=version,
                        role=ROLE_TITLES[_role(earlier.role)]("ru"),
                    ),
                    en=ONE_PERSON_ONE_SIGN_OFF(
                        "en",
                        who=who_signed,
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


def _readable(session: Session, account_id: int, approver: str) -> str:
    """An approver for people: an amoCRM user recorded as `amo-user-<id>` by the name amoCRM gives them."""
    from integration.storage.users import user_names

    user_id = approver.removeprefix("amo-user-")
    if approver.startswith("amo-user-") and user_id.isdigit():
        return user_names(session=session, account_id=account_id).get(int(user_id), approver)
    return approver


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
    mapping = _mapping_of(session, account_id, row)
    compiled = load_ruleset(
        row.text,
        source=f"account {account_id} v{version}",
        fields=fields if mapping is None else None,
        mapping=mapping,
    )
    missing = unmapped_roles(compiled)
    if missing and not emergency:
        raise RulesetError(
            I18nText(
                ru=UNMAPPED_REFUSED(
                    "ru", version=version, roles="; ".join(unmapped_message(u)("ru") for u in missing)
                ),
                en=UNMAPPED_REFUSED(
                    "en", version=version, roles="; ".join(unmapped_message(u)("en") for u in missing)
                ),
            )
        )
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
    # The install health shows what the rules now running read without a field (only an emergency leaves any).
    if get_account(session=session, account_id=account_id) is not None:
        health_store.record_rules_mapping(
            session=session, account_id=account_id, missing_roles=[use.role for use in missing], now=moment
        )
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


def _with_mapping(text: str, mapping: dict[str, Any] | None) -> str:
    """The text a version's diff compares: the rule file, then its field mapping (so mapping changes show)."""
    if mapping is None:
        return text
    lines = "\n".join(f"#   {line}" for line in mapping_lines(mapping_from_json(mapping)))
    return f"{text.rstrip()}\n\n# field mapping (role: field of the account)\n{lines}\n"


def _mapping_of(session: Session, account_id: int, row: RuleVersion | None) -> FieldMapping | None:
    if row is not None and row.mapping is not None:
        return mapping_from_json(row.mapping)
    return default_mapping(session=session, account_id=account_id)


def default_mapping(*, session: Session, account_id: int) -> FieldMapping | None:
    """The mapping before an admin confirms one: the proposal's fields found by code (None: never proposed,
    then role fields are read by their code as before mappings existed)."""
    proposal = mapping_store.get_proposal(session=session, account_id=account_id)
    return mapping_store.code_confirmed_mapping(proposal) if proposal is not None else None


def confirmed_mapping(*, session: Session, account_id: int) -> FieldMapping | None:
    """The mapping signed off with the running version (None: no admin has confirmed one yet)."""
    row = _active_row(session, account_id)
    return mapping_from_json(row.mapping) if row is not None and row.mapping is not None else None


def account_mapping(*, session: Session, account_id: int) -> FieldMapping | None:
    """The mapping the account's running rules use (None: not proposed yet, roles read by their code)."""
    return _mapping_of(session, account_id, _active_row(session, account_id))


def active_ruleset(*, session: Session, account_id: int) -> tuple[int, RuleSet]:
    """The running rules of an account, compiled with its field mapping, with their version (0: default pack)."""
    row = _active_row(session, account_id)
    mapping = _mapping_of(session, account_id, row)
    if row is None:
        return 0, load_ruleset(default_rules_text(), source="rules/defaults/default.yaml", mapping=mapping)
    ruleset = load_ruleset(row.text, source=f"account {account_id} v{row.version}", mapping=mapping)
    return row.version, ruleset.with_version(row.version)


def missing_roles(*, session: Session, account_id: int) -> tuple[RoleUse, ...]:
    """Roles the running rules read that the account's mapping leaves without a field (shown as warnings)."""
    _version, ruleset = active_ruleset(session=session, account_id=account_id)
    return unmapped_roles(ruleset)


def mapping_fingerprint(mapping: FieldMapping | None) -> str:
    return "" if mapping is None else json.dumps(mapping_to_json(mapping), sort_keys=True)


class ActiveRulesCache:
    """Compiled active rules per account, recompiled only when another version becomes active.

    Each lookup asks the database for the active version number (one indexed query), so a version activated
    by the CLI or another replica is used for the very next event, with no restart. Owned by the process's
    `Services`, never module-global.
    """

    def __init__(self) -> None:
        self._compiled: dict[int, tuple[str, RuleSet]] = {}

    def get(self, *, session: Session, account_id: int) -> RuleSet:
        row = _active_row(session, account_id)
        version = row.version if row is not None else 0
        # The mapping can change without a new version while it is still the install's proposal.
        fingerprint = mapping_fingerprint(_mapping_of(session, account_id, row))
        cached = self._compiled.get(account_id)
        if cached is not None and cached[1].version == version and cached[0] == fingerprint:
            return cached[1]
        _, ruleset = active_ruleset(session=session, account_id=account_id)
        self._compiled[account_id] = (fingerprint, ruleset)
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


def _mapping_json(session: Session, account_id: int, version: int) -> dict[str, Any] | None:
    row = session.get(RuleVersion, (account_id, version)) if version else None
    return row.mapping if row is not None else None


def diff(*, session: Session, account_id: int, old: int, new: int) -> str:
    """A unified diff between two versions (0 is the default pack), field mappings included."""
    return rules_diff(
        _with_mapping(
            text_of(session=session, account_id=account_id, version=old),
            _mapping_json(session, account_id, old),
        ),
        _with_mapping(
            text_of(session=session, account_id=account_id, version=new),
            _mapping_json(session, account_id, new),
        ),
        old_label=f"v{old}",
        new_label=f"v{new}",
    )
