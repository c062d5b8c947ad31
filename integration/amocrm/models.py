"""Typed views of amoCRM API v4 entities.

Every model keeps unknown keys (`extra="allow"`): amoCRM adds fields without notice and we must not drop them
when a snapshot is stored. `_embedded` is exposed as `embedded`. Times are unix seconds, as amoCRM sends them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class AmoModel(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class FieldEnum(AmoModel):
    id: int
    value: str
    sort: int | None = None


class CustomField(AmoModel):
    id: int
    name: str
    type: str
    code: str | None = None
    sort: int | None = None
    entity_type: str | None = None
    is_api_only: bool | None = None
    enums: list[FieldEnum] | None = None

    def enum_id(self, value: str) -> int | None:
        """The id of the option labelled `value` (selects, multiselects, radio buttons)."""
        return next((enum.id for enum in self.enums or () if enum.value == value), None)


class CustomFieldValue(AmoModel):
    field_id: int
    field_name: str | None = None
    field_code: str | None = None
    field_type: str | None = None
    values: list[dict[str, Any]] | None = None

    def first_value(self) -> Any:
        """The first value's `value` (most fields hold one), or None when the field is empty."""
        return self.values[0].get("value") if self.values else None


class Tag(AmoModel):
    id: int | None = None
    name: str
    color: str | None = None


class EmbeddedRef(AmoModel):
    """A linked entity as `_embedded` lists it (contacts, companies, catalog elements)."""

    id: int
    is_main: bool | None = None


class LeadEmbedded(AmoModel):
    tags: list[Tag] = Field(default_factory=list)
    contacts: list[EmbeddedRef] = Field(default_factory=list)
    companies: list[EmbeddedRef] = Field(default_factory=list)


class _HasCustomFields(AmoModel):
    custom_fields_values: list[CustomFieldValue] | None = None

    def custom_field(self, code_or_name: str) -> CustomFieldValue | None:
        """The field addressed by its code (preferred: stable across accounts) or else by its name."""
        fields = self.custom_fields_values or []
        by_code = next((field for field in fields if field.field_code == code_or_name), None)
        if by_code is not None:
            return by_code
        return next((field for field in fields if field.field_name == code_or_name), None)

    def field_value(self, code_or_name: str) -> Any:
        """The first value of the field addressed by code or name; None when absent or empty."""
        field = self.custom_field(code_or_name)
        return field.first_value() if field is not None else None


class Lead(_HasCustomFields):
    id: int
    name: str | None = None
    price: int | None = None
    responsible_user_id: int | None = None
    group_id: int | None = None
    status_id: int | None = None
    pipeline_id: int | None = None
    loss_reason_id: int | None = None
    created_by: int | None = None
    updated_by: int | None = None
    created_at: int | None = None
    updated_at: int | None = None
    closed_at: int | None = None
    is_deleted: bool | None = None
    account_id: int | None = None
    embedded: LeadEmbedded = Field(default_factory=LeadEmbedded, alias="_embedded")

    @property
    def tag_names(self) -> list[str]:
        return [tag.name for tag in self.embedded.tags]

    @property
    def contact_ids(self) -> list[int]:
        return [contact.id for contact in self.embedded.contacts]


class ContactEmbedded(AmoModel):
    tags: list[Tag] = Field(default_factory=list)
    leads: list[EmbeddedRef] = Field(default_factory=list)
    companies: list[EmbeddedRef] = Field(default_factory=list)


class Contact(_HasCustomFields):
    id: int
    name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    responsible_user_id: int | None = None
    created_at: int | None = None
    updated_at: int | None = None
    account_id: int | None = None
    embedded: ContactEmbedded = Field(default_factory=ContactEmbedded, alias="_embedded")


class Status(AmoModel):
    id: int
    name: str
    sort: int | None = None
    pipeline_id: int | None = None
    color: str | None = None
    type: int | None = None
    is_editable: bool | None = None


class PipelineEmbedded(AmoModel):
    statuses: list[Status] = Field(default_factory=list)


class Pipeline(AmoModel):
    id: int
    name: str
    sort: int | None = None
    is_main: bool | None = None
    is_archive: bool | None = None
    embedded: PipelineEmbedded = Field(default_factory=PipelineEmbedded, alias="_embedded")

    @property
    def statuses(self) -> list[Status]:
        return self.embedded.statuses


class User(AmoModel):
    id: int
    name: str | None = None
    email: str | None = None
    lang: str | None = None
    rights: dict[str, Any] | None = None


class AccountInfo(AmoModel):
    id: int
    name: str | None = None
    subdomain: str | None = None
    country: str | None = None
    currency: str | None = None
    current_user_id: int | None = None
    embedded: dict[str, Any] = Field(default_factory=dict, alias="_embedded")


class Note(AmoModel):
    id: int
    entity_id: int | None = None
    note_type: str | None = None
    params: dict[str, Any] | None = None
    created_at: int | None = None


class Task(AmoModel):
    id: int
    text: str | None = None
    entity_id: int | None = None
    entity_type: str | None = None
    task_type_id: int | None = None
    responsible_user_id: int | None = None
    complete_till: int | None = None
    is_completed: bool | None = None
    created_by: int | None = None
    created_at: int | None = None


class Catalog(AmoModel):
    id: int
    name: str
    type: str | None = None
    sort: int | None = None


class CatalogElement(_HasCustomFields):
    id: int
    name: str
    catalog_id: int | None = None
    is_deleted: bool | None = None


class Webhook(AmoModel):
    destination: str
    settings: list[str] = Field(default_factory=list)
    id: int | None = None
    disabled: bool | None = None


class TokenPair(BaseModel):
    """An OAuth access token with the (single-use) refresh token that renews it.

    Both tokens are `SecretStr`, so printing or logging a pair never shows them. `expires_at` is aware UTC.
    """

    model_config = ConfigDict(frozen=True)

    access_token: SecretStr
    refresh_token: SecretStr | None
    expires_at: datetime

    @classmethod
    def from_oauth_response(cls, data: Mapping[str, Any], *, now: datetime) -> TokenPair:
        """Build a pair from the `/oauth2/access_token` answer (`expires_in` is seconds from `now`)."""
        refresh = data.get("refresh_token")
        return cls(
            access_token=SecretStr(str(data["access_token"])),
            refresh_token=SecretStr(str(refresh)) if refresh else None,
            expires_at=now + timedelta(seconds=int(data["expires_in"])),
        )

    def expires_within(self, margin: timedelta, *, now: datetime) -> bool:
        """Whether the access token is expired or will be within `margin` of `now`."""
        expires_at = self.expires_at if self.expires_at.tzinfo else self.expires_at.replace(tzinfo=UTC)
        return now + margin >= expires_at
