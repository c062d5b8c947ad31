"""Who must sign a rule file off before it runs, and what changed between two versions.

The rule file is a contract between marketing and sales, so a version becomes active only when one person from
each department has approved it. An emergency activation with a single approver is allowed but marked.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from rules.i18n import Text

Role = Literal["marketing", "sales"]
ROLES: Final[tuple[Role, ...]] = ("marketing", "sales")

AGREED = Text(ru="согласовано маркетингом и продажами", en="agreed by marketing and sales")
MISSING_ROLES = Text(ru="нет согласования: {roles}", en="missing approval: {roles}")
SAME_PERSON = Text(
    ru="маркетинг и продажи согласовал один и тот же человек ({approver})",
    en="the same person ({approver}) approved for both marketing and sales",
)
EMERGENCY_OK = Text(
    ru="экстренная активация с одним согласованием ({approver})",
    en="emergency activation with a single approval ({approver})",
)
EMERGENCY_NEEDS_ONE = Text(
    ru="даже экстренная активация требует хотя бы одного согласования",
    en="even an emergency activation needs at least one approval",
)
ROLE_TITLES: Final[dict[Role, Text]] = {
    "marketing": Text(ru="маркетинг", en="marketing"),
    "sales": Text(ru="продажи", en="sales"),
}


@dataclass(frozen=True, slots=True)
class Approval:
    approver: str
    role: Role
    at: int


@dataclass(frozen=True, slots=True)
class ActivationVerdict:
    """Whether a version may be activated now, and why (shown to whoever asked)."""

    allowed: bool
    emergency: bool
    missing_roles: tuple[Role, ...]
    reason: Text


def activation_verdict(approvals: Sequence[Approval], *, emergency: bool = False) -> ActivationVerdict:
    """Both departments must sign off, by two different people; an emergency needs one approval and is marked."""
    signed_by = {role: sorted({a.approver for a in approvals if a.role == role}) for role in ROLES}
    missing = tuple(role for role in ROLES if not signed_by[role])
    if emergency:
        if not approvals:
            return ActivationVerdict(False, True, missing, EMERGENCY_NEEDS_ONE)
        approver = approvals[0].approver
        return ActivationVerdict(True, True, missing, _fill(EMERGENCY_OK, approver=approver))
    if missing:
        ru = ", ".join(ROLE_TITLES[role]("ru") for role in missing)
        en = ", ".join(ROLE_TITLES[role]("en") for role in missing)
        reason = Text(ru=MISSING_ROLES("ru", roles=ru), en=MISSING_ROLES("en", roles=en))
        return ActivationVerdict(False, False, missing, reason)
    marketing, sales = set(signed_by["marketing"]), set(signed_by["sales"])
    if marketing == sales and len(marketing) == 1:
        return ActivationVerdict(False, False, (), _fill(SAME_PERSON, approver=next(iter(marketing))))
    return ActivationVerdict(True, False, (), AGREED)


def _fill(text: Text, **params: str) -> Text:
    return Text(ru=text("ru", **params), en=text("en", **params))


def rules_diff(old_text: str, new_text: str, *, old_label: str, new_label: str) -> str:
    """A unified diff of two rule files, as reviewers read it in a pull request."""
    lines = difflib.unified_diff(
        old_text.splitlines(keepends=True),
        new_text.splitlines(keepends=True),
        fromfile=old_label,
        tofile=new_label,
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)
