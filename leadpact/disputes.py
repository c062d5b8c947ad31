"""A rep's dispute reaches the owner of the disputed criterion as an amoCRM task on the lead (the shell: it reads
the account's sign-off people and writes to amoCRM).

Owners: the marketing head for the channel and the level (marketing defines them); the sales head for
"qualified" where the account names one, else marketing too. Without anyone named, the task is left unassigned
(amoCRM gives it to the integration's user) so the dispute is still visible in amoCRM.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal

from integration.i18n import Language, Text
from rules.agreement import Role

log = logging.getLogger(__name__)

Criterion = Literal["channel", "level", "qualified"]
CRITERIA: tuple[Criterion, ...] = ("channel", "level", "qualified")
CRITERION_TITLES: dict[str, Text] = {
    "channel": Text(ru="канал", en="channel"),
    "level": Text(ru="уровень", en="level"),
    "qualified": Text(ru="целевой", en="qualified"),
}
DISPUTE_TASK = Text(
    ru="LeadPact: менеджер оспаривает {criterion} сделки («{value}»): «{reason}». Правило верно или его нужно "
    "изменить? Ответьте: {url}",
    en="LeadPact: a rep disputes this lead's {criterion} (“{value}”): “{reason}”. Is the rule right or does it "
    "need a change? Answer: {url}",
)
# A day to look at a dispute: the rep is waiting with the lead.
DISPUTE_DUE_SECONDS = 86400


def criterion_owners(criterion: str, signers: Mapping[Role, Mapping[int, str]]) -> list[int]:
    """Who answers for a criterion: marketing for channel and level, sales for qualified when named."""
    if criterion == "qualified" and signers.get("sales"):
        return sorted(signers["sales"])
    return sorted(signers.get("marketing") or {})


def dispute_task(
    *,
    lead_id: int,
    criterion: str,
    value: str | None,
    reason: str,
    owner: int | None,
    public_url: str,
    now: int,
    lang: Language,
) -> dict[str, Any]:
    """The amoCRM task on the lead for the criterion's owner, linking to the disputes list."""
    text = DISPUTE_TASK(
        lang,
        criterion=CRITERION_TITLES.get(criterion, CRITERION_TITLES["level"])(lang),
        value=value or "—",
        reason=reason[:500],
        url=f"{public_url.rstrip('/')}/admin/disputes",
    )
    body: dict[str, Any] = {
        "text": text,
        "entity_id": lead_id,
        "entity_type": "leads",
        "complete_till": now + DISPUTE_DUE_SECONDS,
        "task_type_id": 1,
    }
    if owner is not None:
        body["responsible_user_id"] = owner
    return body
