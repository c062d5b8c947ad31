"""What the LeadPact panel in the lead card shows, read from our own tables (no amoCRM call)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from pydantic import BaseModel
from sqlmodel import Session

from integration.storage import promos as promo_store
from integration.storage import touches as touch_store
from integration.storage.leads import LeadSnapshot
from sync.stats.speed import LeadTiming, is_waiting

SOURCE_FIELDS = ("UTM_SOURCE", "UTM_MEDIUM", "UTM_CAMPAIGN", "UTM_CONTENT", "UTM_TERM", "REFERRER")


class PanelPromo(BaseModel):
    key: str
    name: str
    description: str
    code: str | None
    coupon: str | None
    coupon_used: bool
    # The promo hands out unique coupons but none was left for this lead: marketing must add codes.
    coupon_pool_empty: bool = False
    ends_on: date | None


class PanelEvent(BaseModel):
    name: str
    date: date


class PanelDispute(BaseModel):
    reason: str
    created_at: int


class LeadPanel(BaseModel):
    """The panel's data: where the lead came from, its level and why, promos with codes, events, disputes."""

    lead_id: int
    name: str
    channel: str | None
    level: str | None
    qualified: bool | None
    reason: str | None
    rule_version: int | None
    source: dict[str, str]
    promos: list[PanelPromo]
    events: list[PanelEvent]
    disputes: list[PanelDispute]
    # Speed to lead: how long this open lead has gone with no action by a person, once that is longer than
    # the `untouched_after_hours` setting (None: touched, closed, or not waiting long yet).
    untouched_seconds: int | None = None
    # The caller is an account admin or a head named to sign off: the panel offers the one-time link to LeadPact.
    can_open_admin: bool = False


def tracking_values(lead: Mapping[str, Any]) -> dict[str, str]:
    """The lead's UTM/referrer fields by lower-cased code (only those with a value)."""
    found: dict[str, str] = {}
    for field in lead.get("custom_fields_values") or ():
        code = str(field.get("field_code") or "").upper()
        values = field.get("values") or ()
        if code in SOURCE_FIELDS and values and values[0].get("value") not in (None, ""):
            found[code.lower()] = str(values[0]["value"])
    return found


def contact_ids(lead: Mapping[str, Any]) -> list[int]:
    contacts = (lead.get("_embedded") or {}).get("contacts") or ()
    return [int(contact["id"]) for contact in contacts if contact.get("id") is not None]


def find_lead(*, session: Session, account_id: int, lead_id: int) -> LeadSnapshot | None:
    """The account's lead, or None — also for a lead id that belongs to another account."""
    snapshot = session.get(LeadSnapshot, (account_id, lead_id))
    return None if snapshot is None or snapshot.is_deleted else snapshot


def untouched_for(
    *, session: Session, snapshot: LeadSnapshot, now: int, threshold_seconds: int
) -> int | None:
    """Seconds this lead has waited for a person's first action, when the report would list it as waiting."""
    touched = touch_store.first_touches(
        session=session, account_id=snapshot.account_id, lead_ids=[snapshot.lead_id]
    )
    first = touched.get(snapshot.lead_id)
    timing = LeadTiming(
        lead_id=snapshot.lead_id,
        name=snapshot.name,
        responsible_user_id=snapshot.responsible_user_id,
        created_at=snapshot.created_at,
        touched_at=None if first is None else first.touched_at,
        closed_at=snapshot.closed_at,
    )
    waiting = is_waiting(timing, as_of=now, threshold_seconds=threshold_seconds)
    return now - snapshot.created_at if waiting else None


def lead_panel(
    *, session: Session, snapshot: LeadSnapshot, today: date, now: int = 0, untouched_after: int = 0
) -> LeadPanel:
    """`now` and `untouched_after` (seconds) flag a lead nobody has acted on for too long (0: not checked)."""
    account_id, lead_id = snapshot.account_id, snapshot.lead_id
    coupons = {
        coupon.promo_key: coupon
        for coupon in promo_store.coupons_for_lead(session=session, account_id=account_id, lead_id=lead_id)
    }
    pools = promo_store.pool_stats(session=session, account_id=account_id)
    promos = []
    for record in promo_store.promos_of_lead(session=session, account_id=account_id, lead_id=lead_id):
        if record.archived or not record.to_promo().is_running_on(today):
            continue
        coupon = coupons.get(record.key)
        promos.append(
            PanelPromo(
                key=record.key,
                name=record.name,
                description=record.description,
                code=record.shared_code,
                coupon=coupon.code if coupon else None,
                coupon_used=bool(coupon and coupon.used_at),
                coupon_pool_empty=bool(
                    record.uses_coupon_pool
                    and coupon is None
                    and (record.id not in pools or pools[record.id].free == 0)
                ),
                ends_on=record.ends_on,
            )
        )
    attended = promo_store.events_of_contacts(
        session=session, account_id=account_id, contact_ids=contact_ids(snapshot.data)
    )
    events = list(
        {
            (a.event_name, a.event_date): PanelEvent(name=a.event_name, date=a.event_date) for a in attended
        }.values()
    )
    disputes = promo_store.list_disputes(session=session, account_id=account_id, lead_id=lead_id)
    return LeadPanel(
        lead_id=lead_id,
        name=snapshot.name,
        channel=snapshot.channel,
        level=snapshot.level,
        qualified=snapshot.qualified,
        reason=snapshot.reason,
        rule_version=snapshot.rule_version,
        source=tracking_values(snapshot.data),
        promos=promos,
        events=events,
        disputes=[PanelDispute(reason=d.reason, created_at=d.created_at) for d in disputes],
        untouched_seconds=untouched_for(
            session=session, snapshot=snapshot, now=now, threshold_seconds=untouched_after
        )
        if now and untouched_after
        else None,
    )
