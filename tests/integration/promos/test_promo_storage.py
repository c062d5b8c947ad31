"""Promos stored per account: imports, coupons on leads, disputes and coupon conversion."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import select

from integration.db import session_scope
from integration.storage import promos as store
from integration.storage.inbox import InboxItem
from integration.storage.leads import LeadSnapshot
from sync.promos.importing import parse_promo_file
from sync.promos.service import (
    enqueue_leads_with_ended_promos,
    import_promos,
    load_promo_book,
    promo_fields_for_lead,
)
from webhooks.parse import event_from_dict

ACCOUNT = 31000001
OTHER_ACCOUNT = 31000002
NOW = datetime(2026, 5, 10, 12, 0, tzinfo=UTC)
UNIX_NOW = int(NOW.timestamp())

PROMOS_CSV = (
    "key,name,description,condition,code,coupons,starts_on,ends_on\n"
    'spring,Spring,10% off,"utm_campaign == ""spring""",SPRING10,,2026-03-01,2026-05-31\n'
    'vip,VIP coupon,Personal,"level == ""hot""",,V1 V2,,\n'
)


@dataclass(frozen=True)
class FakeClassification:
    channel: str | None
    level: str | None
    qualified: bool | None = None


def spring_lead(lead_id: int, status_id: int = 10) -> dict[str, Any]:
    return {
        "id": lead_id,
        "status_id": status_id,
        "pipeline_id": 1,
        "custom_fields_values": [{"field_code": "UTM_CAMPAIGN", "values": [{"value": "spring"}]}],
    }


def import_text(engine: Engine, text: str, account_id: int = ACCOUNT) -> store.PromoRecord | None:
    with session_scope(engine) as session:
        outcome = import_promos(
            session=session,
            account_id=account_id,
            promo_file=parse_promo_file(text.encode(), filename="p.csv"),
            now=UNIX_NOW,
        )
        assert outcome.ok, [e.render("en") for e in outcome.errors]
    return None


def fields_for(engine: Engine, lead_id: int, level: str = "hot", status_id: int = 10) -> Any:
    return promo_fields_for_lead(
        engine=engine,
        account_id=ACCOUNT,
        lead_id=lead_id,
        classification=FakeClassification("ads", level),
        lead=spring_lead(lead_id, status_id),
        now=NOW,
    )


class TestImport:
    def test_import_stores_promos_and_their_pools(self, engine: Engine) -> None:
        """After an import, `promos list` shows each promo and how many coupons its pool holds."""
        import_text(engine, PROMOS_CSV)
        with session_scope(engine) as session:
            promos = store.list_promos(session=session, account_id=ACCOUNT)
            stats = store.pool_stats(session=session, account_id=ACCOUNT)
        assert [p.key for p in promos] == ["spring", "vip"]
        vip = promos[1]
        assert vip.id is not None and stats[vip.id].total == 2 and stats[vip.id].free == 2

    def test_reimport_updates_promos_without_duplicating_codes(self, engine: Engine) -> None:
        """Importing the same file twice changes nothing; adding codes grows the pool."""
        import_text(engine, PROMOS_CSV)
        import_text(engine, PROMOS_CSV.replace("V1 V2", "V1 V2 V3"))
        with session_scope(engine) as session:
            vip = store.get_promo(session=session, account_id=ACCOUNT, key="vip")
            assert vip is not None and vip.id is not None
            assert store.pool_stats(session=session, account_id=ACCOUNT)[vip.id].total == 3

    def test_code_owned_by_another_promo_rejects_the_whole_file(self, engine: Engine) -> None:
        """A file reusing another promo's coupon is refused by row, and none of its promos are stored."""
        import_text(engine, PROMOS_CSV)
        bad = "key,name,coupons\nnew,New,N1\nother,Other,V2\n"
        with session_scope(engine) as session:
            outcome = import_promos(
                session=session,
                account_id=ACCOUNT,
                promo_file=parse_promo_file(bad.encode(), filename="p.csv"),
                now=UNIX_NOW,
            )
        assert [(e.row, e.field) for e in outcome.errors] == [(3, "coupons")]
        assert "vip" in outcome.errors[0].render("en")
        with session_scope(engine) as session:
            assert store.get_promo(session=session, account_id=ACCOUNT, key="new") is None

    def test_promos_of_one_account_are_invisible_to_another(self, engine: Engine) -> None:
        """Another account neither sees these promos nor conflicts on their codes."""
        import_text(engine, PROMOS_CSV)
        import_text(engine, PROMOS_CSV, account_id=OTHER_ACCOUNT)
        with session_scope(engine) as session:
            assert len(store.list_promos(session=session, account_id=OTHER_ACCOUNT)) == 2


class TestLeadFields:
    def test_matching_lead_gets_promo_text_coupon_and_note(self, engine: Engine) -> None:
        """A hot spring lead gets both promos in its field, a unique coupon, and a note announcing them."""
        import_text(engine, PROMOS_CSV)
        fields = fields_for(engine, 101)
        assert fields.active_promos == "Spring: SPRING10; VIP coupon"
        assert fields.coupon == "V1"
        note = fields.note("ru")
        assert note is not None and "SPRING10" in note and "V1" in note

    def test_second_evaluation_keeps_the_coupon_and_writes_no_new_note(self, engine: Engine) -> None:
        """Re-evaluating a lead never issues a second coupon nor repeats the note."""
        import_text(engine, PROMOS_CSV)
        first = fields_for(engine, 101)
        second = fields_for(engine, 101)
        assert second.coupon == first.coupon
        assert second.note("en") is None
        with session_scope(engine) as session:
            vip = store.get_promo(session=session, account_id=ACCOUNT, key="vip")
            assert vip is not None and vip.id is not None
            assert store.pool_stats(session=session, account_id=ACCOUNT)[vip.id].issued == 1

    def test_empty_pool_is_a_warning_not_a_crash(self, engine: Engine) -> None:
        """When coupons run out, the lead still gets its promos and a visible pool-empty warning."""
        import_text(engine, PROMOS_CSV)
        codes = [fields_for(engine, lead_id).coupon for lead_id in (1, 2, 3)]
        assert codes[:2] == ["V1", "V2"] and codes[2] is None
        third = fields_for(engine, 3)
        assert third.active_promos.startswith("Spring")
        assert [w.promo_key for w in third.warnings] == ["vip"]
        assert "VIP coupon" in third.warnings[0].message("en")

    def test_closed_lead_is_not_issued_a_new_coupon(self, engine: Engine) -> None:
        """A won lead does not consume a coupon from the pool."""
        import_text(engine, PROMOS_CSV)
        assert fields_for(engine, 5, status_id=142).coupon is None

    def test_promo_stops_applying_when_the_lead_no_longer_matches(self, engine: Engine) -> None:
        """A lead that cools down loses the hot-only promo from its field, and regains it with a new note."""
        import_text(engine, PROMOS_CSV)
        fields_for(engine, 7)
        cooled = fields_for(engine, 7, level="cold")
        assert cooled.active_promos == "Spring: SPRING10" and cooled.coupon is None
        hot_again = fields_for(engine, 7)
        assert hot_again.coupon == "V1"
        assert [m.key for m in hot_again.started] == ["vip"]

    def test_ended_promo_leaves_the_lead_on_schedule(self, engine: Engine) -> None:
        """After its last day, the spring promo's leads are listed for re-evaluation and lose it."""
        import_text(engine, PROMOS_CSV)
        fields_for(engine, 9)
        june = datetime(2026, 6, 1, tzinfo=UTC)
        with session_scope(engine) as session:
            assert store.leads_with_ended_promos(session=session, account_id=ACCOUNT, today=june.date()) == [
                9
            ]
        book = load_promo_book(engine=engine, account_id=ACCOUNT, now=june)
        fields = promo_fields_for_lead(
            engine=engine,
            account_id=ACCOUNT,
            lead_id=9,
            classification=FakeClassification("ads", "hot"),
            lead=spring_lead(9),
            now=june,
            book=book,
        )
        assert fields.active_promos == "VIP coupon"
        with session_scope(engine) as session:
            assert store.leads_with_ended_promos(session=session, account_id=ACCOUNT, today=june.date()) == []


class TestEndedPromoSchedule:
    def test_ended_promo_leads_are_queued_for_the_worker(self, engine: Engine) -> None:
        """The schedule hands the worker every lead still showing an ended promo, as events it cannot skip."""
        import_text(engine, PROMOS_CSV)
        fields_for(engine, 11)
        fields_for(engine, 12, level="cold")
        june = datetime(2026, 6, 1, 0, 5, tzinfo=UTC)
        assert enqueue_leads_with_ended_promos(engine=engine, account_id=ACCOUNT, now=NOW) == 0
        assert enqueue_leads_with_ended_promos(engine=engine, account_id=ACCOUNT, now=june) == 2
        with session_scope(engine) as session:
            items = session.exec(select(InboxItem).where(InboxItem.account_id == ACCOUNT)).all()
        (item,) = items
        events = [event_from_dict(data) for data in item.events]
        assert sorted(e.lead_id for e in events) == [11, 12]
        assert all(e.occurred_at is None and e.action == "update" for e in events)


class TestCouponUseAndDisputes:
    def test_coupon_use_counts_towards_won_conversion_per_channel(self, engine: Engine) -> None:
        """Marketers see, per channel, coupons issued, used, and used on won deals."""
        import_text(engine, PROMOS_CSV)
        fields_for(engine, 201)
        fields_for(engine, 202)
        with session_scope(engine) as session:
            session.add(LeadSnapshot(account_id=ACCOUNT, lead_id=201, status_id=142, channel="ads"))
            session.add(LeadSnapshot(account_id=ACCOUNT, lead_id=202, status_id=143, channel="seo"))
            assert store.mark_coupon_used(
                session=session, account_id=ACCOUNT, lead_id=201, code="V1", user_id=5, now=UNIX_NOW
            )
            assert not store.mark_coupon_used(
                session=session, account_id=ACCOUNT, lead_id=201, code="V2", user_id=5, now=UNIX_NOW
            )
        with session_scope(engine) as session:
            rows = store.coupon_conversion_by_channel(session=session, account_id=ACCOUNT)
        assert [(r.channel, r.issued, r.used, r.won, r.used_and_won) for r in rows] == [
            ("ads", 1, 1, 1, 1),
            ("seo", 1, 0, 0, 0),
        ]

    def test_dispute_keeps_the_disputed_classification(self, engine: Engine) -> None:
        """A misqualification flag stores the reason and the disputed level, for the report and backtest."""
        with session_scope(engine) as session:
            snapshot = LeadSnapshot(
                account_id=ACCOUNT, lead_id=300, channel="ads", level="hot", rule_version=4
            )
            session.add(snapshot)
            store.add_dispute(
                session=session,
                account_id=ACCOUNT,
                lead_id=300,
                user_id=8,
                reason="Это спам",
                now=UNIX_NOW,
                snapshot=snapshot,
            )
        with session_scope(engine) as session:
            week = store.list_disputes(
                session=session, account_id=ACCOUNT, since=UNIX_NOW - 7 * 86400, until=UNIX_NOW + 1
            )
            later = store.list_disputes(
                session=session, account_id=ACCOUNT, since=UNIX_NOW + int(timedelta(days=1).total_seconds())
            )
        assert [(d.lead_id, d.level, d.rule_version, d.reason) for d in week] == [(300, "hot", 4, "Это спам")]
        assert later == []

    def test_attendance_is_recorded_once(self, engine: Engine) -> None:
        """Importing the same attendee twice keeps one attendance for the contact."""
        with session_scope(engine) as session:
            first = store.record_attendance(
                session=session,
                account_id=ACCOUNT,
                contact_id=9,
                event_name="Expo",
                event_date=NOW.date(),
                now=1,
            )
            again = store.record_attendance(
                session=session,
                account_id=ACCOUNT,
                contact_id=9,
                event_name="Expo",
                event_date=NOW.date(),
                now=2,
            )
            assert (first, again) == (True, False)
            rows = session.exec(select(store.EventAttendance)).all()
            assert len(rows) == 1
