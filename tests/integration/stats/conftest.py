"""A fixed, hand-counted account history for November 2026 (expected figures: test_figures.py), and a running
sandbox with a fast client for the tests that read amoCRM over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine

from integration.amocrm import AmoClient, TokenBucket
from integration.db import session_scope
from integration.storage import stats as storage
from integration.storage.leads import LeadSnapshot, LeadStatusEvent
from sync.stats.periods import Period
from tests.integration.amocrm.sandbox import running_sandbox

ACCOUNT = 1
OTHER_ACCOUNT = 2
PIPELINE = 7
STAGES = (10, 20, 30)
WON, LOST = 142, 143
NOVEMBER = Period.month(2026, 11)


FAST_RATE = 100.0


@pytest.fixture
def sandbox_url() -> Iterator[str]:
    with running_sandbox(rate_limit_per_second=FAST_RATE) as base_url:
        yield base_url


@pytest.fixture
async def client() -> AsyncIterator[AmoClient]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield AmoClient(
            http, limiter=TokenBucket(FAST_RATE), backoff_base=0.01, backoff_max=0.2, max_retries=12
        )


def ts(month: int, day: int, hour: int = 12) -> int:
    return int(datetime(2026, month, day, hour, tzinfo=UTC).timestamp())


def fields(*codes: str, empty: tuple[str, ...] = ()) -> dict[str, Any]:
    values = [{"field_id": i, "field_code": code, "values": [{"value": "x"}]} for i, code in enumerate(codes)]
    values += [{"field_id": 90, "field_code": code, "values": [{"value": ""}]} for code in empty]
    return {"custom_fields_values": values}


@dataclass(frozen=True)
class Group:
    """`count` identical leads: who brought them, how they are classified and where they went."""

    name: str
    count: int
    channel: str | None
    manager: int | None
    qualified: bool | None
    status: int
    path: tuple[int, ...]  # statuses moved through, in order (status events)
    price: int | None = None
    created: int = ts(11, 5)
    closed: int | None = None
    deleted: bool = False
    data: Any = None
    rule_version: int = 3
    account: int = ACCOUNT


GROUPS = (
    Group(
        "G1a",
        9,
        "yandex",
        1,
        True,
        WON,
        (10, 20, 30, WON),
        1000,
        closed=ts(11, 20),
        data=fields("BUDGET", "NEED"),
    ),
    Group(
        "G1b",
        1,
        "yandex",
        1,
        True,
        WON,
        (10, 20, 30, WON),
        None,
        closed=ts(11, 20),
        data=fields("BUDGET", "NEED"),
    ),
    Group(
        "G2",
        10,
        "yandex",
        1,
        True,
        LOST,
        (10, 20, LOST),
        800,
        closed=ts(11, 12),
        data=fields(empty=("BUDGET",)),
    ),
    Group("G3", 20, "yandex", 1, True, 20, (10, 20), 500, data=fields("BUDGET"), rule_version=2),
    Group("G4a", 20, "yandex", 2, True, 10, (10,), None, data={"custom_fields_values": None}),
    Group("G4b", 17, "yandex", 2, False, LOST, (10, LOST), 100, closed=ts(11, 9)),
    Group("G8", 3, "yandex", 4, False, WON, (10, WON), 300, closed=ts(11, 25)),
    Group(
        "G5a",
        25,
        "vk",
        3,
        True,
        30,
        (10, 20, 30),
        2000,
        data=fields("BUDGET", "DECISION_MAKER", "NEED", "DECISION_DATE"),
    ),
    # Moved back from stage 30 to 20: they still reached 30.
    Group("G5b", 5, "vk", 3, True, 20, (10, 20, 30, 20), 2000),
    Group("G6a", 13, "vk", 3, False, LOST, (10, LOST), 0, closed=ts(11, 7), data=fields("NEED")),
    Group("G6b", 2, "vk", 3, False, WON, (10, 20, WON), 700, closed=ts(11, 28)),
    # No manager, not classified yet, no status events seen.
    Group("G7", 5, "vk", 0, None, 10, (), None, data={}),
    # Created in October, won in November: a November deal, not a November lead.
    Group("G9", 1, "yandex", 1, True, WON, (10, WON), 5000, created=ts(10, 20), closed=ts(11, 3)),
    Group("G10", 1, "vk", 3, True, 10, (10,), 100, deleted=True),
    # October history: reached stage 30, then lost.
    Group("G11", 4, "yandex", 1, True, LOST, (10, 20, 30, LOST), 900, created=ts(10, 10), closed=ts(10, 30)),
    # Another account's leads never leak into account 1's figures.
    Group("X1", 5, "yandex", 1, True, WON, (10, WON), 99_999, closed=ts(11, 10), account=OTHER_ACCOUNT),
)


@dataclass(frozen=True)
class Dataset:
    engine: Engine
    lead_ids: dict[str, list[int]]


def seed(engine: Engine) -> Dataset:
    lead_ids: dict[str, list[int]] = {}
    next_id = 1000
    with session_scope(engine) as session:
        for group in GROUPS:
            ids = lead_ids.setdefault(group.name, [])
            for _ in range(group.count):
                next_id += 1
                ids.append(next_id)
                session.add(
                    LeadSnapshot(
                        account_id=group.account,
                        lead_id=next_id,
                        name=f"{group.name} #{next_id}",
                        price=group.price,
                        status_id=group.status,
                        pipeline_id=PIPELINE,
                        responsible_user_id=group.manager,
                        created_at=group.created,
                        updated_at=group.closed or group.created,
                        closed_at=group.closed,
                        is_deleted=group.deleted,
                        data={} if group.data is None else group.data,
                        channel=group.channel,
                        qualified=group.qualified,
                        rule_version=None if group.qualified is None else group.rule_version,
                    )
                )
                previous = None
                for step, status in enumerate(group.path):
                    session.add(
                        LeadStatusEvent(
                            account_id=group.account,
                            lead_id=next_id,
                            pipeline_id=PIPELINE,
                            old_status_id=previous,
                            status_id=status,
                            occurred_at=group.created + step * 3600,
                        )
                    )
                    previous = status
        storage.replace_pipeline_stages(
            session=session,
            account_id=ACCOUNT,
            stages=[(PIPELINE, status, sort, f"stage {status}") for sort, status in enumerate(STAGES)]
            + [(PIPELINE, WON, 10_000, "won"), (PIPELINE, LOST, 10_001, "lost")],
        )
        storage.upsert_plan(
            session=session,
            account_id=ACCOUNT,
            period_start=NOVEMBER.start,
            period_end=NOVEMBER.end,
            figures={"leads": 100, "deals": 20, "revenue": 50_000},
        )
        for channel, amount in (("yandex", "30000"), ("vk", "10000"), ("tiktok", "5000")):
            storage.upsert_spend(
                session=session,
                account_id=ACCOUNT,
                channel=channel,
                period_start=NOVEMBER.start,
                period_end=NOVEMBER.end,
                amount=Decimal(amount),
            )
    return Dataset(engine=engine, lead_ids=lead_ids)


@pytest.fixture
def november(engine: Engine) -> Dataset:
    return seed(engine)
