"""The pipeline pass of the stats engine, checked lead by lead against a plain Python count of the same rows."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from typing import Any

from sqlalchemy.engine import Engine

from integration.db import session_scope
from integration.storage.leads import LeadSnapshot, LeadStatusEvent
from sync.stats.metrics import LOST_STATUS, WON_RANK, WON_STATUS
from sync.stats.queries import pipeline_facts
from tests.integration.stats.conftest import ts

ACCOUNT = 1
STAGE_ORDER = {7: [30, 10, 20], 8: [50, 40]}  # stage order is not status id order
STATUSES = (10, 20, 30, 40, 50, 60, WON_STATUS, LOST_STATUS)  # 60: a status of no known pipeline stage
CHANNELS = ("yandex", "vk", None)
START, END = ts(11, 9, 0), ts(11, 16, 0)


def random_leads(seed: int, count: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rng = random.Random(seed)
    leads, events = [], []
    for lead_id in range(1, count + 1):
        created = rng.choice((ts(10, 20), START - 1, START, ts(11, 12), END - 1, END))
        status = rng.choice(STATUSES)
        closed = rng.choice((None, START, ts(11, 12), END)) if status in (WON_STATUS, LOST_STATUS) else None
        leads.append(
            {
                "account_id": ACCOUNT,
                "lead_id": lead_id,
                "status_id": status,
                "pipeline_id": rng.choice((7, 8, 9, None)),
                "price": rng.choice((None, 0, 1_000, 2_500)),
                "created_at": created,
                "updated_at": created,
                "closed_at": closed,
                "is_deleted": rng.random() < 0.1,
                "channel": rng.choice(CHANNELS),
            }
        )
        # Any history, backward moves and moves through won included.
        for step in range(rng.randrange(0, 5)):
            events.append(
                {
                    "account_id": ACCOUNT,
                    "lead_id": lead_id,
                    "status_id": rng.choice(STATUSES),
                    "occurred_at": created + step * 60,
                }
            )
    return leads, events


def expected_facts(
    leads: list[dict[str, Any]], events: list[dict[str, Any]]
) -> tuple[dict[Any, tuple[int, int, int]], Counter[Any], dict[Any, tuple[int, int, int]]]:
    """Per lead, as docs/metrics.md defines it: the furthest rank among its current status and its history."""
    ranks: dict[int, int] = {WON_STATUS: WON_RANK}
    for statuses in STAGE_ORDER.values():
        for index, status in enumerate(statuses):
            ranks.setdefault(status, index)
    history: dict[int, list[int]] = defaultdict(list)
    for event in events:
        if event["status_id"] in ranks:
            history[event["lead_id"]].append(ranks[event["status_id"]])
    deals: dict[Any, list[int]] = defaultdict(lambda: [0, 0, 0])
    open_: dict[Any, list[int]] = defaultdict(lambda: [0, 0, 0])
    reach: Counter[Any] = Counter()
    for lead in leads:
        if lead["is_deleted"]:
            continue
        price, status = lead["price"], lead["status_id"]
        sums = (1, price or 0, 1 if price is None else 0)
        if status == WON_STATUS and lead["closed_at"] is not None and START <= lead["closed_at"] < END:
            deals[lead["channel"]] = [a + b for a, b in zip(deals[lead["channel"]], sums, strict=True)]
        outcome = "won" if status == WON_STATUS else "lost" if status == LOST_STATUS else "open"
        if outcome == "open":
            key = (lead["pipeline_id"], status)
            open_[key] = [a + b for a, b in zip(open_[key], sums, strict=True)]
        if lead["pipeline_id"] in STAGE_ORDER:
            known = [*history[lead["lead_id"]], *([ranks[status]] if status in ranks else [])]
            furthest = max(known) if known else None
            in_period = START <= lead["created_at"] < END
            reach[(lead["pipeline_id"], furthest, outcome, in_period)] += 1
    return (
        {key: (s[0], s[1], s[2]) for key, s in deals.items()},
        reach,
        {key: (s[0], s[1], s[2]) for key, s in open_.items()},
    )


class TestPipelineFacts:
    def test_reach_deals_and_open_deals_match_a_lead_by_lead_count(self, engine: Engine) -> None:
        """Win rates, conversions, deals and open deals rest on counts equal to counting each lead by hand."""
        leads, events = random_leads(seed=8, count=400)
        with session_scope(engine) as session:
            session.add_all(LeadSnapshot(name="", data={}, **lead) for lead in leads)
            session.add_all(LeadStatusEvent(pipeline_id=None, source="test", **event) for event in events)
        with engine.connect() as connection:
            facts = pipeline_facts(
                connection, account_id=ACCOUNT, start=START, end=END, stage_order=STAGE_ORDER
            )
        deals, reach, open_ = expected_facts(leads, events)
        assert facts.deals_by_channel == deals
        assert (
            Counter({(r.pipeline_id, r.rank, r.outcome, r.in_period): r.leads for r in facts.reach}) == reach
        )
        assert {
            (row.pipeline_id, row.status_id): (row.deals, row.value, row.without_price)
            for row in facts.open_deals
        } == open_
