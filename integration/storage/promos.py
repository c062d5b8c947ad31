"""Promos, their coupon pools, which promos apply to which lead, disputes, coupon use and event attendance.

A coupon code is one row: it belongs to one promo and, once issued, to one lead (`lead_id`), so it can never
be issued to two leads; `uq_coupon_codes_promo_lead` makes a lead get at most one code per promo. On
PostgreSQL several workers issue concurrently: each takes the first free row it can lock with
`FOR UPDATE SKIP LOCKED`, so workers never wait on each other or hand out the same code.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import BigInteger, Date, Index, UniqueConstraint, and_, case, delete, func, or_, update
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select

from integration.storage.leads import LeadSnapshot
from rules.promo import WON_STATUS_ID, Promo


class PromoSource:
    IMPORT = "import"
    CATALOG = "catalog"
    API = "api"


class PromoRecord(SQLModel, table=True):
    """A promo as marketing defined it (by file, API or the amoCRM catalog), per account."""

    __tablename__ = "promos"
    __table_args__ = (UniqueConstraint("account_id", "key", name="uq_promos_account_key"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int
    key: str = Field(description="marketing's stable identifier of the promo, unique per account")
    name: str
    description: str = ""
    condition: str = ""
    shared_code: str | None = None
    uses_coupon_pool: bool = False
    starts_on: date | None = Field(default=None, sa_type=Date)
    ends_on: date | None = Field(default=None, sa_type=Date)
    archived: bool = False
    source: str = PromoSource.IMPORT
    catalog_element_id: int | None = Field(default=None, sa_type=BigInteger)
    catalog_synced_hash: str | None = Field(
        default=None, description="fingerprint of the promo as last agreed with the amoCRM catalog"
    )
    updated_at: int = Field(default=0, description="unix seconds of the last change on either side")

    def to_promo(self) -> Promo:
        return Promo(
            key=self.key,
            name=self.name,
            description=self.description,
            condition=self.condition,
            shared_code=self.shared_code,
            uses_coupon_pool=self.uses_coupon_pool,
            starts_on=self.starts_on,
            ends_on=self.ends_on,
        )


class CouponCode(SQLModel, table=True):
    """One unique code of a promo's pool; `lead_id` is set once, when the code is issued."""

    __tablename__ = "coupon_codes"
    __table_args__ = (
        UniqueConstraint("account_id", "code", name="uq_coupon_codes_account_code"),
        UniqueConstraint("promo_id", "lead_id", name="uq_coupon_codes_promo_lead"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int
    promo_id: int = Field(foreign_key="promos.id", ondelete="CASCADE")
    code: str
    lead_id: int | None = Field(default=None, sa_type=BigInteger)
    issued_at: int | None = None
    used_at: int | None = None
    used_by_user_id: int | None = None


class LeadPromo(SQLModel, table=True):
    """A promo currently applying to a lead (so a note is written only when a promo starts applying)."""

    __tablename__ = "lead_promos"

    account_id: int = Field(primary_key=True)
    lead_id: int = Field(primary_key=True, sa_type=BigInteger)
    promo_id: int = Field(primary_key=True, foreign_key="promos.id", ondelete="CASCADE")
    first_matched_at: int


class LeadDispute(SQLModel, table=True):
    """A rep's flag that a lead was misqualified, with the classification it disputes."""

    __tablename__ = "lead_disputes"
    __table_args__ = (Index("ix_lead_disputes_account_created", "account_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int
    lead_id: int = Field(sa_type=BigInteger)
    user_id: int | None = None
    reason: str
    channel: str | None = None
    level: str | None = None
    rule_version: int | None = None
    created_at: int


class EventAttendance(SQLModel, table=True):
    """A contact attended an event (from an imported attendee list)."""

    __tablename__ = "event_attendances"
    __table_args__ = (
        UniqueConstraint(
            "account_id", "contact_id", "event_name", "event_date", name="uq_event_attendances_contact_event"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int
    contact_id: int = Field(sa_type=BigInteger)
    event_name: str
    event_date: date = Field(sa_type=Date)
    imported_at: int


# ---- promos -------------------------------------------------------------------------------------------


def get_promo(*, session: Session, account_id: int, key: str) -> PromoRecord | None:
    return session.exec(
        select(PromoRecord).where(PromoRecord.account_id == account_id, PromoRecord.key == key)
    ).first()


def list_promos(*, session: Session, account_id: int, include_archived: bool = False) -> list[PromoRecord]:
    query = select(PromoRecord).where(PromoRecord.account_id == account_id)
    if not include_archived:
        query = query.where(col(PromoRecord.archived).is_(False))
    return list(session.exec(query.order_by(col(PromoRecord.id))))


def load_running_promos(*, session: Session, account_id: int, today: date) -> list[Promo]:
    """Promos that are not archived and have not ended (those not started yet are filtered by matching)."""
    query = select(PromoRecord).where(
        PromoRecord.account_id == account_id,
        col(PromoRecord.archived).is_(False),
        or_(col(PromoRecord.ends_on).is_(None), col(PromoRecord.ends_on) >= today),
    )
    return [record.to_promo() for record in session.exec(query.order_by(col(PromoRecord.id)))]


def save_promo(
    *,
    session: Session,
    account_id: int,
    promo: Promo,
    source: str,
    now: int,
    catalog_element_id: int | None = None,
) -> PromoRecord:
    """Create or update the promo with this key (un-archiving it)."""
    record = get_promo(session=session, account_id=account_id, key=promo.key)
    if record is None:
        record = PromoRecord(account_id=account_id, key=promo.key, name=promo.name)
    record.name = promo.name
    record.description = promo.description
    record.condition = promo.condition
    record.shared_code = promo.shared_code
    record.uses_coupon_pool = promo.uses_coupon_pool
    record.starts_on = promo.starts_on
    record.ends_on = promo.ends_on
    record.archived = False
    record.source = source
    record.updated_at = now
    if catalog_element_id is not None:
        record.catalog_element_id = catalog_element_id
    session.add(record)
    session.flush()
    return record


def add_coupon_codes(*, session: Session, account_id: int, promo_id: int, codes: Iterable[str]) -> int:
    """Adds the codes to the promo's pool, skipping codes it already has; returns how many were added."""
    wanted = list(dict.fromkeys(codes))
    if not wanted:
        return 0
    present = set(
        session.exec(
            select(CouponCode.code).where(
                CouponCode.account_id == account_id, col(CouponCode.code).in_(wanted)
            )
        )
    )
    fresh = [code for code in wanted if code not in present]
    session.add_all(CouponCode(account_id=account_id, promo_id=promo_id, code=code) for code in fresh)
    session.flush()
    return len(fresh)


def codes_in_use(*, session: Session, account_id: int, codes: Iterable[str]) -> dict[str, str]:
    """code → key of the promo that already owns it, for the codes among `codes` already stored."""
    wanted = list(set(codes))
    found: dict[str, str] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        rows = session.exec(
            select(CouponCode.code, PromoRecord.key)
            .join(PromoRecord, col(PromoRecord.id) == col(CouponCode.promo_id))
            .where(CouponCode.account_id == account_id, col(CouponCode.code).in_(chunk))
        )
        found.update({code: key for code, key in rows})
    return found


@dataclass(frozen=True, slots=True)
class PoolStats:
    total: int
    issued: int
    used: int

    @property
    def free(self) -> int:
        return self.total - self.issued


def pool_stats(*, session: Session, account_id: int) -> dict[int, PoolStats]:
    """promo id → how many codes its pool has, how many were issued and used."""
    rows = session.exec(
        select(
            CouponCode.promo_id,
            func.count(),
            func.count(col(CouponCode.lead_id)),
            func.count(col(CouponCode.used_at)),
        )
        .where(CouponCode.account_id == account_id)
        .group_by(col(CouponCode.promo_id))
    )
    return {promo_id: PoolStats(total, issued, used) for promo_id, total, issued, used in rows}


# ---- coupons ------------------------------------------------------------------------------------------


def issued_code(*, session: Session, account_id: int, promo_id: int, lead_id: int) -> str | None:
    """The code of this promo already issued to the lead, if any."""
    return session.exec(
        select(CouponCode.code).where(
            CouponCode.account_id == account_id,
            CouponCode.promo_id == promo_id,
            CouponCode.lead_id == lead_id,
        )
    ).first()


def issue_coupon(*, session: Session, account_id: int, promo_id: int, lead_id: int, now: int) -> str | None:
    """The lead's code of this promo, issuing a free one if it has none yet; None when the pool is empty.

    Safe with several workers on PostgreSQL: the free row is taken with `FOR UPDATE SKIP LOCKED` and the
    update is conditional on the row still being free; two workers issuing to the same lead at once collide on
    `uq_coupon_codes_promo_lead`, and the loser returns the winner's code.
    """
    existing = issued_code(session=session, account_id=account_id, promo_id=promo_id, lead_id=lead_id)
    if existing is not None:
        return existing
    free_row = (
        select(CouponCode.id)
        .where(
            CouponCode.account_id == account_id,
            CouponCode.promo_id == promo_id,
            col(CouponCode.lead_id).is_(None),
        )
        .order_by(col(CouponCode.id))
        .limit(1)
    )
    if session.get_bind().dialect.name == "postgresql":
        free_row = free_row.with_for_update(skip_locked=True)
    take = (
        update(CouponCode)
        .where(col(CouponCode.id) == free_row.scalar_subquery(), col(CouponCode.lead_id).is_(None))
        .values(lead_id=lead_id, issued_at=now)
        .returning(col(CouponCode.code))
    )
    try:
        with session.begin_nested():
            code: str | None = session.execute(take).scalar_one_or_none()
    except IntegrityError:
        return issued_code(session=session, account_id=account_id, promo_id=promo_id, lead_id=lead_id)
    return code


@dataclass(frozen=True, slots=True)
class LeadCoupon:
    promo_key: str
    promo_name: str
    code: str
    issued_at: int | None
    used_at: int | None


def coupons_for_lead(*, session: Session, account_id: int, lead_id: int) -> list[LeadCoupon]:
    rows = session.execute(
        sa_select(
            col(PromoRecord.key),
            col(PromoRecord.name),
            col(CouponCode.code),
            col(CouponCode.issued_at),
            col(CouponCode.used_at),
        )
        .join(PromoRecord, col(PromoRecord.id) == col(CouponCode.promo_id))
        .where(col(CouponCode.account_id) == account_id, col(CouponCode.lead_id) == lead_id)
        .order_by(col(CouponCode.id))
    )
    return [LeadCoupon(key, name, code, issued, used) for key, name, code, issued, used in rows]


def mark_coupon_used(
    *, session: Session, account_id: int, lead_id: int, code: str, user_id: int | None, now: int
) -> bool:
    """Marks the lead's coupon as used (idempotent); False when no such code was issued to this lead."""
    coupon = session.exec(
        select(CouponCode).where(
            CouponCode.account_id == account_id, CouponCode.lead_id == lead_id, CouponCode.code == code
        )
    ).first()
    if coupon is None:
        return False
    if coupon.used_at is None:
        coupon.used_at = now
        coupon.used_by_user_id = user_id
        session.add(coupon)
        session.flush()
    return True


@dataclass(frozen=True, slots=True)
class CouponConversion:
    """Coupon → won conversion of one channel: marketers see which channel's coupons close deals."""

    channel: str | None
    issued: int
    used: int
    won: int
    used_and_won: int


def coupon_conversion_by_channel(*, session: Session, account_id: int) -> list[CouponConversion]:
    won = col(LeadSnapshot.status_id) == WON_STATUS_ID
    used = col(CouponCode.used_at).is_not(None)
    rows = session.execute(
        sa_select(
            col(LeadSnapshot.channel),
            func.count(),
            func.sum(case((used, 1), else_=0)),
            func.sum(case((won, 1), else_=0)),
            func.sum(case((and_(used, won), 1), else_=0)),
        )
        .select_from(CouponCode)
        .join(
            LeadSnapshot,
            and_(
                col(LeadSnapshot.account_id) == col(CouponCode.account_id),
                col(LeadSnapshot.lead_id) == col(CouponCode.lead_id),
            ),
            isouter=True,
        )
        .where(col(CouponCode.account_id) == account_id, col(CouponCode.lead_id).is_not(None))
        .group_by(col(LeadSnapshot.channel))
        .order_by(col(LeadSnapshot.channel))
    )
    return [
        CouponConversion(channel, int(issued), int(used_n or 0), int(won_n or 0), int(both or 0))
        for channel, issued, used_n, won_n, both in rows
    ]


# ---- which promos apply to a lead ----------------------------------------------------------------------


def record_lead_promos(
    *, session: Session, account_id: int, lead_id: int, promo_keys: Sequence[str], now: int
) -> list[str]:
    """Stores the set of promos now applying to the lead; returns the keys that started applying just now."""
    rows = session.exec(
        select(PromoRecord.key, PromoRecord.id).where(
            PromoRecord.account_id == account_id, col(PromoRecord.key).in_(list(promo_keys))
        )
    )
    ids_by_key = {key: promo_id for key, promo_id in rows}
    wanted = {promo_id for promo_id in ids_by_key.values() if promo_id is not None}
    current = set(
        session.exec(
            select(LeadPromo.promo_id).where(LeadPromo.account_id == account_id, LeadPromo.lead_id == lead_id)
        )
    )
    gone = current - wanted
    if gone:
        session.execute(
            delete(LeadPromo).where(
                col(LeadPromo.account_id) == account_id,
                col(LeadPromo.lead_id) == lead_id,
                col(LeadPromo.promo_id).in_(gone),
            )
        )
    session.add_all(
        LeadPromo(account_id=account_id, lead_id=lead_id, promo_id=promo_id, first_matched_at=now)
        for promo_id in wanted - current
    )
    session.flush()
    return [key for key in promo_keys if ids_by_key.get(key) in wanted - current]


def promos_of_lead(*, session: Session, account_id: int, lead_id: int) -> list[PromoRecord]:
    return list(
        session.exec(
            select(PromoRecord)
            .join(LeadPromo, col(LeadPromo.promo_id) == col(PromoRecord.id))
            .where(LeadPromo.account_id == account_id, LeadPromo.lead_id == lead_id)
            .order_by(col(PromoRecord.id))
        )
    )


def leads_with_ended_promos(*, session: Session, account_id: int, today: date) -> list[int]:
    """Leads still showing a promo that has ended or was archived: the scheduler re-evaluates them."""
    rows = session.exec(
        select(LeadPromo.lead_id)
        .join(PromoRecord, col(PromoRecord.id) == col(LeadPromo.promo_id))
        .where(
            LeadPromo.account_id == account_id,
            or_(col(PromoRecord.archived).is_(True), col(PromoRecord.ends_on) < today),
        )
        .distinct()
        .order_by(col(LeadPromo.lead_id))
    )
    return list(rows)


# ---- disputes -----------------------------------------------------------------------------------------


def add_dispute(
    *,
    session: Session,
    account_id: int,
    lead_id: int,
    user_id: int | None,
    reason: str,
    now: int,
    snapshot: LeadSnapshot | None = None,
) -> LeadDispute:
    dispute = LeadDispute(
        account_id=account_id,
        lead_id=lead_id,
        user_id=user_id,
        reason=reason,
        channel=snapshot.channel if snapshot else None,
        level=snapshot.level if snapshot else None,
        rule_version=snapshot.rule_version if snapshot else None,
        created_at=now,
    )
    session.add(dispute)
    session.flush()
    return dispute


def list_disputes(
    *, session: Session, account_id: int, since: int = 0, until: int | None = None, lead_id: int | None = None
) -> list[LeadDispute]:
    """Disputes in [since, until), oldest first (the weekly report and the backtest read them)."""
    query = select(LeadDispute).where(LeadDispute.account_id == account_id, LeadDispute.created_at >= since)
    if until is not None:
        query = query.where(LeadDispute.created_at < until)
    if lead_id is not None:
        query = query.where(LeadDispute.lead_id == lead_id)
    return list(session.exec(query.order_by(col(LeadDispute.created_at), col(LeadDispute.id))))


# ---- event attendance ---------------------------------------------------------------------------------


def record_attendance(
    *, session: Session, account_id: int, contact_id: int, event_name: str, event_date: date, now: int
) -> bool:
    """Stores that the contact attended the event; False when it was already known."""
    known = session.exec(
        select(EventAttendance.id).where(
            EventAttendance.account_id == account_id,
            EventAttendance.contact_id == contact_id,
            EventAttendance.event_name == event_name,
            EventAttendance.event_date == event_date,
        )
    ).first()
    if known is not None:
        return False
    session.add(
        EventAttendance(
            account_id=account_id,
            contact_id=contact_id,
            event_name=event_name,
            event_date=event_date,
            imported_at=now,
        )
    )
    session.flush()
    return True


def events_of_contacts(
    *, session: Session, account_id: int, contact_ids: Sequence[int]
) -> list[EventAttendance]:
    if not contact_ids:
        return []
    return list(
        session.exec(
            select(EventAttendance)
            .where(
                EventAttendance.account_id == account_id,
                col(EventAttendance.contact_id).in_(list(contact_ids)),
            )
            .order_by(col(EventAttendance.event_date).desc(), col(EventAttendance.event_name))
        )
    )
