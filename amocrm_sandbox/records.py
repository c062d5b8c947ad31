"""What leads and contacts share: drafts to change, paging and filtering, and the common writable fields.

Every successful write bumps `updated_at`/`updated_by` [doc]; a batch is all-or-nothing: changes are made on
drafts and stored only when every entity of the batch is valid.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice

from amocrm_sandbox.batch import contains
from amocrm_sandbox.custom_fields import merge_field_values, normalise_field_values
from amocrm_sandbox.problems import FieldError, Problem
from amocrm_sandbox.query import ListParams, in_range
from amocrm_sandbox.state import Account, Record


def draft_of(record: Record) -> Record:
    """A copy to change: the record and its `_embedded` lists are new; the items inside are shared, so nothing
    may edit an item in place (changes build new items). Far cheaper than a deep copy for batch PATCHes."""
    draft = dict(record)
    draft["_embedded"] = {key: list(items) for key, items in record["_embedded"].items()}
    return draft


def page_of(records: Iterable[Record], params: ListParams) -> tuple[list[Record], bool]:
    """One page, and whether another follows; reads only as far as the page needs."""
    window = list(islice(records, params.offset(), params.offset() + params.limit + 1))
    return window[: params.limit], len(window) > params.limit


def ordered(records: Iterable[Record], params: ListParams, allowed: tuple[str, ...]) -> Iterable[Record]:
    if params.order is None:
        return records  # dicts keep insertion order, which is ascending id
    field, descending = params.order
    if field not in allowed:
        raise Problem(400, f"Ordering by {field} is not supported")
    return sorted(records, key=lambda r: (r[field] or 0, r["id"]), reverse=descending)


def candidates(store: dict[int, Record], ids: frozenset[int] | None) -> Iterable[Record]:
    if ids is None:
        return store.values()
    return (store[i] for i in sorted(ids) if i in store)


# [assumed] the UI shows an API-only field read-only; the sandbox's person edits are refused with this code.
API_ONLY_CODE = "FieldIsApiOnly"
API_ONLY_DETAIL = "This field can only be changed through the API."


def _field_text(record: Record) -> Iterator[str]:
    for field in record.get("custom_fields_values") or ():
        for value in field["values"]:
            yield str(value.get("value", ""))


def _phones(record: Record) -> Iterator[str]:
    for field in record.get("custom_fields_values") or ():
        if field.get("field_code") == "PHONE":
            for value in field["values"]:
                yield "".join(c for c in str(value.get("value", "")) if c.isdigit())


_PHONE_CHARACTERS = frozenset("0123456789+-() ")


def _phone_digits(needle: str) -> str | None:
    """The digits of a query that is a phone number and nothing else (`+7 (999) 123-45-67`), else None."""
    digits = "".join(c for c in needle if c.isdigit())
    if len(digits) < 5 or not set(needle) <= _PHONE_CHARACTERS:
        return None
    return digits


def _matches_query(record: Record, needle: str) -> bool:
    """A case-insensitive substring of the name or of a field value [doc: "поиск по заполненным полям"].

    Only a query made of phone characters alone is also compared digit by digit with PHONE values, as
    amoCRM finds `+7 (999) 123-45-67` by `79991234567` [seen]; digits are never pulled out of other text.
    """
    low = needle.lower()
    if low in (record.get("name") or "").lower():
        return True
    if any(low in text.lower() for text in _field_text(record)):
        return True
    digits = _phone_digits(needle)
    return digits is not None and any(digits in phone for phone in _phones(record))


def base_matches(record: Record, params: ListParams) -> bool:
    ranges = params.ranges
    for key in ("updated_at", "created_at", "closed_at", "price"):
        if key in ranges and not in_range(record.get(key), ranges[key]):
            return False
    responsible = params.ints("responsible_user_id")
    if responsible is not None and record["responsible_user_id"] not in responsible:
        return False
    if params.modified_since is not None and record["updated_at"] <= params.modified_since:
        return False
    return not params.query or _matches_query(record, params.query)


def apply_field_values(
    account: Account,
    entity: str,
    record: Record,
    payload: Record,
    errors: list[FieldError],
    *,
    by_person: bool = False,
) -> None:
    """Writes `custom_fields_values`; a person (the amoCRM UI) cannot change a field marked `is_api_only` [doc]."""
    if "custom_fields_values" not in payload:
        return
    raw = payload["custom_fields_values"]
    fields = account.fields_of(entity)
    if raw is None:
        if by_person and any(
            fields[item["field_id"]]["is_api_only"] for item in record["custom_fields_values"] or ()
        ):
            errors.append(FieldError(API_ONLY_CODE, "custom_fields_values", API_ONLY_DETAIL))
            return
        record["custom_fields_values"] = None
        return
    written, field_errors = normalise_field_values(fields, raw)
    if by_person:
        field_errors += [
            FieldError(API_ONLY_CODE, f"custom_fields_values.{index}", API_ONLY_DETAIL)
            for index, item in enumerate(written)
            if fields[item["field_id"]]["is_api_only"]
        ]
    errors.extend(field_errors)
    if not field_errors:
        record["custom_fields_values"] = merge_field_values(record["custom_fields_values"], written)


def apply_user(account: Account, record: Record, payload: Record, errors: list[FieldError]) -> None:
    if "responsible_user_id" in payload:
        user_id = payload["responsible_user_id"]
        if not contains(account.users, user_id):
            errors.append(FieldError("NotSupportedChoice", "responsible_user_id", "User not found"))
        else:
            record["responsible_user_id"] = user_id


def apply_times(record: Record, payload: Record, keys: tuple[str, ...], errors: list[FieldError]) -> None:
    for key in keys:
        if key in payload:
            value = payload[key]
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                errors.append(FieldError("InvalidType", key, "This value should be of type int."))
            else:
                record[key] = value


def apply_name(record: Record, payload: Record, keys: tuple[str, ...], errors: list[FieldError]) -> None:
    for key in keys:
        if key in payload:
            if not isinstance(payload[key], str):
                errors.append(FieldError("InvalidType", key, "This value should be of type string."))
            else:
                record[key] = payload[key]


def link_contact(account: Account, lead: Record, contact_id: int, is_main: bool) -> None:
    """Links a contact to the lead (the first or an `is_main` one becomes main) and the lead to the contact.

    Builds new link lists rather than editing link dicts, so drafts made by `draft_of` stay independent.
    """
    links: list[Record] = lead["_embedded"]["contacts"]
    main = is_main or not links
    known = any(link["id"] == contact_id for link in links)
    updated = [
        {"id": link["id"], "is_main": (link["is_main"] and not main) or (link["id"] == contact_id and main)}
        for link in links
    ]
    if not known:
        updated.append({"id": contact_id, "is_main": main})
    lead["_embedded"]["contacts"] = updated
    contact_leads: list[Record] = account.contacts[contact_id]["_embedded"]["leads"]
    if all(item["id"] != lead["id"] for item in contact_leads):
        contact_leads.append({"id": lead["id"]})


def pending_contact_links(
    account: Account, payload: Record, errors: list[FieldError]
) -> list[tuple[int, bool]]:
    embedded = payload.get("_embedded")
    if not isinstance(embedded, dict) or not isinstance(embedded.get("contacts"), list):
        return []
    links = []
    for index, item in enumerate(embedded["contacts"]):
        contact_id = item.get("id") if isinstance(item, dict) else None
        if not isinstance(contact_id, int) or contact_id not in account.contacts:
            errors.append(
                FieldError("NotSupportedChoice", f"_embedded.contacts.{index}.id", "Contact not found")
            )
        else:
            links.append((contact_id, bool(item.get("is_main", False))))
    return links
