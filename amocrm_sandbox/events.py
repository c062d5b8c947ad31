"""What changed, as amoCRM's webhooks report it: one `WebhookEvent` per entity and action.

The subscription names (`add_lead`, `status_lead`, …) are [doc]. Events carry a frozen copy of the entity as
it was right after the change, so later writes cannot alter what a queued webhook says.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from amocrm_sandbox.world import clone

# (entity, action) → the webhook setting that subscribes to it.
SETTING_BY_EVENT: Mapping[tuple[str, str], str] = {
    ("leads", "add"): "add_lead",
    ("leads", "update"): "update_lead",
    ("leads", "status"): "status_lead",
    ("leads", "delete"): "delete_lead",
    ("leads", "restore"): "restore_lead",
    ("leads", "responsible"): "responsible_lead",
    ("leads", "note"): "note_lead",
    ("contacts", "add"): "add_contact",
    ("contacts", "update"): "update_contact",
    ("contacts", "delete"): "delete_contact",
    ("contacts", "responsible"): "responsible_contact",
    ("contacts", "note"): "note_contact",
}
KNOWN_SETTINGS = frozenset(SETTING_BY_EVENT.values()) | {
    "add_company",
    "update_company",
    "delete_company",
    "add_task",
    "update_task",
    "delete_task",
    "add_customer",
    "update_customer",
    "delete_customer",
    "add_talk",
    "update_talk",
    "add_chat_template_review",
    "add_unsorted",
    "delete_unsorted",
}


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    entity: str
    action: str
    data: Mapping[str, Any]
    # Values from before the change that the v2 body reports: old_status_id, old_pipeline_id, …
    previous: Mapping[str, Any] = field(default_factory=dict)

    @property
    def setting(self) -> str:
        return SETTING_BY_EVENT[(self.entity, self.action)]


def snapshot(entity: str, action: str, record: Mapping[str, Any], **previous: Any) -> WebhookEvent:
    return WebhookEvent(entity=entity, action=action, data=clone(dict(record)), previous=previous)
