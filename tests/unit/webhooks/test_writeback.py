"""Planning a lead's write-back: only what differs, tags added without removing people's tags."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from integration.i18n import Language
from sync.writeback import plan_lead_update

LEVEL_ENUMS = {"hot": 501, "warm": 502, "cold": 503, "unknown": 504}
QUALIFIED_ENUMS = {"yes": 601, "no": 602}


@dataclass(frozen=True)
class Fields:
    channel: int = 9001
    level: int = 9002
    qualified: int = 9003
    reason: int = 9004
    level_enums: Mapping[str, int] = field(default_factory=lambda: dict(LEVEL_ENUMS))
    qualified_enums: Mapping[str, int] = field(default_factory=lambda: dict(QUALIFIED_ENUMS))


@dataclass(frozen=True)
class Verdict:
    channel: str = "google_ads"
    level: str = "hot"
    qualified: bool = True
    explanation: Mapping[str, str] = field(
        default_factory=lambda: {"ru": "Горячий: бюджет", "en": "Hot: budget"}
    )

    def reason(self, lang: Language = "ru") -> str:
        return self.explanation[lang]


FIELDS = Fields()


def lead(*, values: list[dict[str, Any]] | None = None, tags: list[str] | None = None) -> dict[str, Any]:
    return {
        "id": 42,
        "custom_fields_values": values,
        "_embedded": {"tags": [{"id": i, "name": name} for i, name in enumerate(tags or [])]},
    }


def apply(current: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """What amoCRM does with our PATCH entry: set the given fields, add and delete the named tags."""
    result = copy.deepcopy(current)
    by_id = {f["field_id"]: f for f in result.get("custom_fields_values") or []}
    for value in update.get("custom_fields_values", []):
        entry = dict(value)
        enums = {FIELDS.level: LEVEL_ENUMS, FIELDS.qualified: QUALIFIED_ENUMS}.get(value["field_id"])
        if enums is not None:
            label = next(k for k, v in enums.items() if v == value["values"][0]["enum_id"])
            entry["values"] = [{"value": label, "enum_id": value["values"][0]["enum_id"]}]
        by_id[value["field_id"]] = entry
    result["custom_fields_values"] = list(by_id.values()) or None
    names = [t["name"] for t in result["_embedded"]["tags"]]
    names += [t["name"] for t in update.get("tags_to_add", []) if t["name"] not in names]
    removed = {t["name"] for t in update.get("tags_to_delete", [])}
    result["_embedded"]["tags"] = [{"name": name} for name in names if name not in removed]
    return result


class TestPlan:
    def test_a_fresh_lead_gets_all_fields_and_both_tags(self) -> None:
        """A lead LeadPact never touched receives channel, level, qualified, reason and its two tags."""
        update = plan_lead_update(lead(tags=["vip"]), Verdict(), FIELDS, lang="ru")
        assert update == {
            "id": 42,
            "custom_fields_values": [
                {"field_id": 9001, "values": [{"value": "google_ads"}]},
                {"field_id": 9002, "values": [{"enum_id": 501}]},
                {"field_id": 9003, "values": [{"enum_id": 601}]},
                {"field_id": 9004, "values": [{"value": "Горячий: бюджет"}]},
            ],
            "tags_to_add": [{"name": "channel:google_ads"}, {"name": "level:hot"}],
        }

    def test_a_lead_that_already_holds_the_values_needs_no_call(self) -> None:
        """Our own PATCH echoes back as update_lead; planning it again yields nothing to send."""
        first = plan_lead_update(lead(tags=["vip"]), Verdict(), FIELDS, lang="ru")
        assert first is not None
        assert plan_lead_update(apply(lead(tags=["vip"]), first), Verdict(), FIELDS, lang="ru") is None

    def test_only_changed_values_are_sent_and_stale_own_tags_removed(self) -> None:
        """When the level drops, only the level-related values change and the old level tag goes away."""
        held = apply(
            lead(tags=["vip", "позвонить"]), plan_lead_update(lead(), Verdict(), FIELDS, lang="ru") or {}
        )
        cooler = Verdict(level="cold", explanation={"ru": "Холодный", "en": "Cold"})
        update = plan_lead_update(held, cooler, FIELDS, lang="ru")
        assert update == {
            "id": 42,
            "custom_fields_values": [
                {"field_id": 9002, "values": [{"enum_id": 503}]},
                {"field_id": 9004, "values": [{"value": "Холодный"}]},
            ],
            "tags_to_add": [{"name": "level:cold"}],
            "tags_to_delete": [{"name": "level:hot"}],
        }

    def test_people_tags_are_never_deleted(self) -> None:
        """Tags set by sales reps survive every write-back; only `channel:`/`level:` tags are ours."""
        update = plan_lead_update(
            lead(tags=["vip", "channel:old", "level:warm", "levelheaded"]), Verdict(), FIELDS, lang="en"
        )
        assert update is not None
        deleted = {t["name"] for t in update["tags_to_delete"]}
        assert deleted == {"channel:old", "level:warm"}

    def test_not_qualified_is_written_as_no_so_a_filter_tells_it_from_unclassified(self) -> None:
        """«Целевой» gets "Нет" for a lead that is not qualified; only unclassified leads leave it empty."""
        verdict = Verdict(qualified=False)
        first = plan_lead_update(lead(), verdict, FIELDS, lang="en") or {}
        assert {"field_id": FIELDS.qualified, "values": [{"enum_id": 602}]} in first["custom_fields_values"]

    def test_a_lead_turning_qualified_switches_no_to_yes(self) -> None:
        """When a lead becomes qualified, only «Целевой» (and nothing else unchanged) is rewritten."""
        held = apply(lead(), plan_lead_update(lead(), Verdict(qualified=False), FIELDS, lang="ru") or {})
        update = plan_lead_update(held, Verdict(qualified=True), FIELDS, lang="ru")
        assert update == {
            "id": 42,
            "custom_fields_values": [{"field_id": FIELDS.qualified, "values": [{"enum_id": 601}]}],
        }

    def test_the_reason_follows_the_account_language(self) -> None:
        """An English-speaking account gets the English explanation."""
        update = plan_lead_update(lead(), Verdict(), FIELDS, lang="en") or {}
        assert {"field_id": 9004, "values": [{"value": "Hot: budget"}]} in update["custom_fields_values"]

    @given(
        channel=st.sampled_from(["google_ads", "yandex", "сайт", "referral"]),
        level=st.sampled_from(sorted(LEVEL_ENUMS)),
        qualified=st.booleans(),
        tags=st.lists(st.sampled_from(["vip", "channel:x", "level:cold", "level:hot", "a"]), unique=True),
        lang=st.sampled_from(["ru", "en"]),
    )
    def test_planning_after_applying_the_plan_yields_nothing(
        self, channel: str, level: str, qualified: bool, tags: list[str], lang: Language
    ) -> None:
        """Whatever the lead held before, one write-back brings it to a state that needs no further call."""
        verdict = Verdict(channel=channel, level=level, qualified=qualified)
        current = lead(tags=tags)
        update = plan_lead_update(current, verdict, FIELDS, lang=lang)
        settled = apply(current, update) if update else current
        assert plan_lead_update(settled, verdict, FIELDS, lang=lang) is None
        human = {t for t in tags if not t.startswith(("channel:", "level:"))}
        assert human <= {t["name"] for t in settled["_embedded"]["tags"]}
