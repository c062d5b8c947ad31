"""Custom fields: creating them and checking/normalising `custom_fields_values` written to an entity.

Facts: field types and the create payload `{name, type, code, sort, enums:[{value, sort}]}` [doc]; values are
`[{field_id|field_code, values:[{value}|{enum_id}|{value, enum_id}]}]`, selects accept either the enum id or
its label [seen]; an unknown field id is answered with `NotSupportedChoice` at
`custom_fields_values.N.field_id` [doc]. The other error codes and the string form of numeric values in
answers are [assumed].
"""

from __future__ import annotations

from typing import Any

from amocrm_sandbox.batch import check_batch, contains, request_id_of
from amocrm_sandbox.problems import FieldError, ValidationCollector
from amocrm_sandbox.state import Account, IdSequences, Record, SandboxState

FIELD_TYPES = frozenset(
    {
        "text",
        "numeric",
        "checkbox",
        "select",
        "multiselect",
        "multitext",
        "date",
        "date_time",
        "birthday",
        "url",
        "textarea",
        "radiobutton",
        "streetaddress",
        "smart_address",
        "legal_entity",
        "price",
        "monetary",
        "tracking_data",
        "category",
        "items",
        "chained_list",
        "linked_entity",
        "file",
        "payer",
        "supplier",
    }
)
ENUM_TYPES = frozenset({"select", "multiselect", "radiobutton", "multitext", "category"})
SINGLE_ENUM_TYPES = frozenset({"select", "radiobutton", "category"})
NUMBER_TYPES = frozenset({"numeric", "price", "monetary"})
DATE_TYPES = frozenset({"date", "date_time", "birthday"})
STRING_TYPES = frozenset({"text", "textarea", "url", "tracking_data", "streetaddress"})
SINGLE_VALUE_TYPES = SINGLE_ENUM_TYPES | NUMBER_TYPES | DATE_TYPES | STRING_TYPES | {"checkbox"}

# [doc: developers.kommo.com/reference/adding-custom-field] `is_api_only` (bool): "editable via API only",
# for lead, contact and company fields; refused elsewhere [assumed, stricter].
API_ONLY_ENTITIES = frozenset({"leads", "contacts", "companies"})

# [doc] multitext enums of the predefined phone/email fields.
PHONE_ENUMS = ("WORK", "WORKDD", "MOB", "FAX", "HOME", "OTHER")
EMAIL_ENUMS = ("WORK", "PRIV", "OTHER")


def new_field(
    *,
    ids: IdSequences,
    account: Account,
    entity: str,
    name: str,
    field_type: str,
    code: str | None = None,
    sort: int = 500,
    enums: list[Record] | None = None,
    is_api_only: bool = False,
    predefined: bool = False,
) -> Record:
    field_id = ids.take("field")
    field: Record = {
        "id": field_id,
        "name": name,
        "type": field_type,
        "account_id": account.id,
        "code": code,
        "sort": sort,
        "is_api_only": is_api_only,
        "enums": None,
        "group_id": None,
        "required_statuses": [],
        "is_deletable": not predefined,
        "is_predefined": predefined,
        "entity_type": entity.split("/")[0],
        "remind": None,
        "settings": None,
        "_links": {"self": {"href": f"/api/v4/{entity}/custom_fields/{field_id}"}},
    }
    if field_type in ENUM_TYPES:
        field["enums"] = [
            {"id": ids.take("enum"), "value": str(e["value"]), "sort": int(e.get("sort", (i + 1) * 10))}
            for i, e in enumerate(enums or [])
        ]
    account.fields_of(entity)[field_id] = field
    return field


def check_new_field(account: Account, entity: str, payload: Any) -> list[FieldError]:
    """Errors that stop a field from being created (type, name, a `code` already used on this entity)."""
    if not isinstance(payload, dict):
        return [FieldError("InvalidType", "", "Field must be an object")]
    errors: list[FieldError] = []
    if not isinstance(payload.get("name"), str) or not payload["name"].strip():
        errors.append(FieldError("NotBlank", "name", "This value should not be blank."))
    if not contains(FIELD_TYPES, payload.get("type")):
        errors.append(
            FieldError("NotSupportedChoice", "type", "The value you selected is not a valid choice.")
        )
    code = payload.get("code")
    if code is not None:
        taken = any(f["code"] == code for f in account.fields_of(entity).values())
        if not isinstance(code, str) or taken:
            errors.append(FieldError("NotUnique", "code", f"Field with code {code} already exists"))
    api_only = payload.get("is_api_only", False)
    if not isinstance(api_only, bool):
        errors.append(FieldError("InvalidType", "is_api_only", "This value should be of type bool."))
    elif api_only and entity not in API_ONLY_ENTITIES:
        errors.append(
            FieldError("NotSupportedChoice", "is_api_only", "Only lead, contact and company fields.")
        )
    enums = payload.get("enums")
    if enums is not None and (
        not isinstance(enums, list) or not all(isinstance(e, dict) and "value" in e for e in enums)
    ):
        errors.append(FieldError("InvalidType", "enums", "Enums must be a list of {value, sort}"))
    return errors


def update_field(ids: IdSequences, field: Record, payload: Record) -> None:
    for key in ("name", "sort", "is_api_only", "remind"):
        if key in payload:
            field[key] = payload[key]
    if "enums" in payload and field["type"] in ENUM_TYPES and isinstance(payload["enums"], list):
        known = {e["id"]: e for e in field["enums"] or []}
        enums: list[Record] = []
        for i, item in enumerate(e for e in payload["enums"] if isinstance(e, dict)):
            enum = (known.get(item["id"]) if contains(known, item.get("id")) else None) or {
                "id": ids.take("enum")
            }
            enum = {
                **enum,
                "value": str(item.get("value", enum.get("value", ""))),
                "sort": item.get("sort", i),
            }
            enums.append(enum)
        field["enums"] = enums


def _number(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        try:
            float(value.replace(",", "."))
        except ValueError:
            return None
        return value
    return None


def _timestamp(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return None


def _normalise_value(field: Record, item: Any, path: str) -> tuple[Record | None, FieldError | None]:
    if not isinstance(item, dict):
        return None, FieldError("InvalidType", path, "Value must be an object")
    field_type = field["type"]
    value = item.get("value")
    if field_type in ENUM_TYPES:
        enums = field["enums"] or []
        enum = None
        if "enum_id" in item:
            enum = next((e for e in enums if e["id"] == item["enum_id"]), None)
            if enum is None:
                return None, FieldError("NotSupportedChoice", f"{path}.enum_id", "Enum not found")
        elif "enum_code" in item:
            enum = next((e for e in enums if e["value"] == item["enum_code"]), None)
        elif field_type != "multitext":
            enum = next((e for e in enums if e["value"] == value), None)
            if enum is None:
                return None, FieldError("NotSupportedChoice", f"{path}.value", "Enum not found")
        if field_type == "multitext":
            if not isinstance(value, str) or not value:
                return None, FieldError("NotBlank", f"{path}.value", "This value should not be blank.")
            enum = enum or (enums[0] if enums else None)
            out: Record = {"value": value}
            if enum is not None:
                out.update(enum_id=enum["id"], enum_code=enum["value"])
            return out, None
        assert enum is not None
        return {"value": enum["value"], "enum_id": enum["id"], "enum_code": None}, None
    if field_type == "checkbox":
        if not isinstance(value, bool):
            return None, FieldError("InvalidType", f"{path}.value", "This value should be of type bool.")
        return {"value": value}, None
    if field_type in NUMBER_TYPES:
        number = _number(value)
        if number is None:
            return None, FieldError("InvalidType", f"{path}.value", "This value should be of type numeric.")
        return {"value": number}, None
    if field_type in DATE_TYPES:
        stamp = _timestamp(value)
        if stamp is None:
            return None, FieldError("InvalidType", f"{path}.value", "This value should be a unix timestamp.")
        return {"value": stamp}, None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None, FieldError("InvalidType", f"{path}.value", "This value should be of type string.")
    return {"value": str(value)}, None


def normalise_field_values(
    fields: dict[int, Record], payload: Any, prefix: str = "custom_fields_values"
) -> tuple[list[Record], list[FieldError]]:
    """The stored v4 form of written field values, or the errors amoCRM would answer with.

    An item with `values: null` (or `[]`) clears that field.
    """
    if not isinstance(payload, list):
        return [], [FieldError("InvalidType", prefix, "This value should be of type array.")]
    by_code = {f["code"]: f for f in fields.values() if f["code"]}
    result: list[Record] = []
    errors: list[FieldError] = []
    for index, entry in enumerate(payload):
        path = f"{prefix}.{index}"
        if not isinstance(entry, dict):
            errors.append(FieldError("InvalidType", path, "This value should be of type object."))
            continue
        key = entry.get("field_id") if "field_id" in entry else entry.get("field_code")
        source: dict[Any, Record] = fields if "field_id" in entry else by_code
        field = source[key] if contains(source, key) else None
        if field is None:
            key = "field_id" if "field_id" in entry else "field_code"
            errors.append(
                FieldError(
                    "NotSupportedChoice", f"{path}.{key}", "The value you selected is not a valid choice."
                )
            )
            continue
        raw_values = entry.get("values")
        if raw_values is None:
            raw_values = []
        if not isinstance(raw_values, list):
            errors.append(FieldError("InvalidType", f"{path}.values", "This value should be of type array."))
            continue
        values: list[Record] = []
        for value_index, item in enumerate(raw_values):
            value, error = _normalise_value(field, item, f"{path}.values.{value_index}")
            if error is not None:
                errors.append(error)
            elif value is not None:
                values.append(value)
        if field["type"] in SINGLE_VALUE_TYPES:
            values = values[:1]
        result.append(
            {
                "field_id": field["id"],
                "field_name": field["name"],
                "field_code": field["code"],
                "field_type": field["type"],
                "values": values,
            }
        )
    return result, errors


def merge_field_values(current: list[Record] | None, written: list[Record]) -> list[Record] | None:
    """Fields not named in a write keep their values; named ones are replaced; empty values clear a field."""
    merged = {item["field_id"]: item for item in current or []}
    for item in written:
        if item["values"]:
            merged[item["field_id"]] = item
        else:
            merged.pop(item["field_id"], None)
    return list(merged.values()) or None


def create_fields(state: SandboxState, account: Account, entity: str, payload: Any) -> list[Record]:
    """Creates a batch of fields, or none when any is invalid (codes must be unique, within the batch too)."""
    items = check_batch(state, payload)
    collector = ValidationCollector()
    codes: set[str] = set()
    for index, item in enumerate(items):
        errors = check_new_field(account, entity, item)
        code = item.get("code") if isinstance(item, dict) else None
        if isinstance(code, str) and code in codes:
            errors.append(FieldError("NotUnique", "code", f"Field with code {code} already exists"))
        if isinstance(code, str):
            codes.add(code)
        collector.add(request_id_of(item, index), errors)
    collector.raise_if_any()
    created = []
    for index, item in enumerate(items):
        field = new_field(
            ids=state.ids,
            account=account,
            entity=entity,
            name=item["name"],
            field_type=item["type"],
            code=item.get("code"),
            sort=item.get("sort", 500),
            enums=item.get("enums"),
            is_api_only=item.get("is_api_only", False),
        )
        created.append({**field, "request_id": request_id_of(item, index)})
    return created


def update_fields(state: SandboxState, account: Account, entity: str, payload: Any) -> list[Record]:
    items = check_batch(state, payload)
    fields = account.fields_of(entity)
    collector = ValidationCollector()
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not contains(fields, item.get("id")):
            collector.add(request_id_of(item, index), [FieldError("NotFound", "id", "Field not found")])
    collector.raise_if_any()
    for item in items:
        update_field(state.ids, fields[item["id"]], item)
    return [fields[item["id"]] for item in items]
