"""Which side wins when promos change in LeadPact, in the amoCRM catalog, or both."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from rules.promo import Promo
from sync.promos.catalog import (
    LocalPromo,
    RemotePromo,
    date_from_amo,
    date_to_amo,
    fingerprint,
    plan_catalog_sync,
)
from sync.promos.importing import PromoDefinition

BASE = Promo(key="spring", name="Spring", description="10%")


def local(promo: Promo, element_id: int | None = 1, synced: Promo | None = BASE) -> LocalPromo:
    return LocalPromo(promo, element_id, fingerprint(synced) if synced else None)


def remote(promo: Promo, element_id: int = 1) -> RemotePromo:
    return RemotePromo(element_id, PromoDefinition(row=element_id, promo=promo))


class TestPlan:
    def test_unchanged_promo_does_nothing(self) -> None:
        """A promo equal on both sides and already agreed is neither pulled nor pushed."""
        plan = plan_catalog_sync([local(BASE)], [remote(BASE)])
        assert (plan.pull, plan.push_new, plan.push_update, plan.archive) == ((), (), (), ())

    def test_catalog_edit_is_pulled(self) -> None:
        """A marketer's edit in amoCRM is taken into LeadPact."""
        edited = replace(BASE, description="15%")
        plan = plan_catalog_sync([local(BASE)], [remote(edited)])
        assert [r.definition.promo.description for r in plan.pull] == ["15%"] and not plan.push_update

    def test_leadpact_edit_is_pushed(self) -> None:
        """A change imported into LeadPact is written to the catalog element."""
        edited = replace(BASE, description="15%")
        plan = plan_catalog_sync([local(edited)], [remote(BASE)])
        assert plan.push_update == ((1, edited),) and not plan.pull

    def test_both_edited_the_catalog_wins(self) -> None:
        """When both sides changed since the last sync, the catalog (where marketers work) wins."""
        plan = plan_catalog_sync([local(replace(BASE, name="Ours"))], [remote(replace(BASE, name="Theirs"))])
        assert [r.definition.promo.name for r in plan.pull] == ["Theirs"] and not plan.push_update

    def test_new_on_either_side_is_created_on_the_other(self) -> None:
        """A promo never synced becomes an element; an element unknown to LeadPact becomes a promo."""
        ours = Promo(key="ours", name="Ours")
        theirs = Promo(key="theirs", name="Theirs")
        plan = plan_catalog_sync([local(ours, element_id=None, synced=None)], [remote(theirs, element_id=9)])
        assert plan.push_new == (ours,)
        assert [r.definition.promo.key for r in plan.pull] == ["theirs"]

    def test_element_deleted_in_amocrm_archives_the_promo(self) -> None:
        """Deleting a promo's element in the catalog archives the promo in LeadPact."""
        plan = plan_catalog_sync([local(BASE, element_id=5)], [])
        assert plan.archive == ("spring",)

    def test_same_key_links_instead_of_duplicating(self) -> None:
        """A file-imported promo and a hand-made element with the same key are linked, not duplicated."""
        plan = plan_catalog_sync([local(BASE, element_id=None, synced=None)], [remote(BASE, element_id=7)])
        assert [r.element_id for r in plan.pull] == [7] and plan.push_new == ()


class TestDates:
    @pytest.mark.parametrize("offset_hours", [-5, 0, 3, 10])
    def test_local_midnight_of_any_nearby_zone_is_that_day(self, offset_hours: int) -> None:
        """A date picked in amoCRM (local midnight) reads back as the same calendar day."""
        midnight_utc = int(datetime(2026, 5, 31, tzinfo=UTC).timestamp())
        assert date_from_amo(midnight_utc - offset_hours * 3600) == date(2026, 5, 31)

    def test_our_writes_round_trip(self) -> None:
        """A date LeadPact writes reads back as the same day."""
        assert date_from_amo(date_to_amo(date(2026, 5, 31))) == date(2026, 5, 31)
        assert date_from_amo(str(date_to_amo(date(2026, 1, 1)))) == date(2026, 1, 1)
