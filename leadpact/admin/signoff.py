"""The amoCRM task that asks each person who signs rule versions off to look at a new proposal (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from integration.i18n import Language, Text
from rules.agreement import Role

SIGNOFF_TASK = Text(
    ru="LeadPact: предложена версия правил v{version} — посмотрите изменения и согласуйте за свой отдел: {url}",
    en="LeadPact: rules version v{version} was proposed — review the changes and sign off for your department: "
    "{url}",
)
# Two working days to look at a proposal.
SIGNOFF_DUE_SECONDS = 2 * 86400
TASK_TYPE_FOLLOW_UP = 1


def signoff_tasks(
    chosen: Mapping[Role, Mapping[int, str]], *, version: int, public_url: str, now: int, lang: Language
) -> list[dict[str, Any]]:
    """One task per person who signs for a department, on the account (no lead), linking to the version page."""
    url = f"{public_url.rstrip('/')}/admin/rules/versions/{version}"
    people = sorted({user_id for users in chosen.values() for user_id in users})
    text = SIGNOFF_TASK(lang, version=version, url=url)
    return [
        {
            "text": text,
            "responsible_user_id": user_id,
            "complete_till": now + SIGNOFF_DUE_SECONDS,
            "task_type_id": TASK_TYPE_FOLLOW_UP,
        }
        for user_id in people
    ]
