"""SQL aggregation for the funnel metrics: a handful of GROUP BY queries (SQLAlchemy Core, SQLite and
PostgreSQL) turn millions of lead and event rows into the small `*Counts` values of `sync.stats.metrics`.

No query here loads rows per lead into Python; each returns at most one row per channel × manager, per stage
or per status.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, tzinfo
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import ColumnElement, and_, case, false, func, literal, not_, select, text, true
from sqlalchemy.engine import Connection
from sqlalchemy.sql.schema import Table
from sqlmodel import SQLModel

from integration.storage.leads import LeadSnapshot, LeadStatusEvent
from integration.storage.stats import StatsPipelineStage, StatsPlan, StatsSpend
from sync.stats.metrics import (
    LOST_STATUS,
    WON_RANK,
    WON_STATUS,
    ChannelCounts,
    CompletenessCounts,
    ManagerCounts,
    OpenDeals,
    Outcome,
    PlanEntry,
    PlanFigures,
    SpendEntry,
    StageReach,
    StatsInputs,
)
from sync.stats.periods import Period

# The demo account's qualification fields (BANT) by amoCRM field code.
BANT_FIELD_CODES: tuple[str, ...] = ("BUDGET", "DECISION_MAKER", "NEED", "DECISION_DATE")

leads: Table = SQLModel.metadata.tables[LeadSnapshot.__tablename__]
events: Table = SQLModel.metadata.tables[LeadStatusEvent.__tablename__]
stages_table: Table = SQLModel.metadata.tables[StatsPipelineStage.__tablename__]
plans_table: Table = SQLModel.metadata.tables[StatsPlan.__tablename__]
spend_table: Table = SQLModel.metadata.tables[StatsSpend.__tablename__]


def _int(value: Any) -> int:
    return int(value or 0)


def _created_in(start: int, end: int) -> ColumnElement[bool]:
    return and_(leads.c.created_at >= start, leads.c.created_at < end)


def _live(account_id: int) -> ColumnElement[bool]:
    # Deleted leads drop out of every figure; a restored lead counts again because its flag is cleared.
    return and_(leads.c.account_id == account_id, leads.c.is_deleted == false())


def _count_if(condition: ColumnElement[bool]) -> Any:
    return func.sum(case((condition, 1), else_=0))


def cohort_counts(
    connection: Connection, *, account_id: int, start: int, end: int
) -> tuple[tuple[ChannelCounts, ...], tuple[ManagerCounts, ...]]:
    """Leads created in [start, end): per channel (leads, classified, qualified) and per manager (leads, won).

    Deals and revenue per channel count wins closed in the period (`deals_by_channel`), not this cohort's.
    """
    manager = case((leads.c.responsible_user_id > 0, leads.c.responsible_user_id), else_=None)
    # Grouping by a labelled column of a subquery, not by the CASE itself: PostgreSQL would see the CASE's
    # bound parameters twice under different names and refuse the GROUP BY.
    per_lead = (
        select(
            leads.c.channel,
            manager.label("manager_id"),
            leads.c.qualified,
            leads.c.status_id,
        )
        .where(_live(account_id), _created_in(start, end))
        .subquery("cohort")
    )
    statement = select(
        per_lead.c.channel,
        per_lead.c.manager_id,
        func.count().label("leads"),
        _count_if(per_lead.c.qualified.is_not(None)).label("classified"),
        _count_if(per_lead.c.qualified == true()).label("qualified"),
        _count_if(per_lead.c.status_id == WON_STATUS).label("won"),
    ).group_by(per_lead.c.channel, per_lead.c.manager_id)
    by_channel: dict[str | None, list[int]] = defaultdict(lambda: [0, 0, 0])
    by_manager: dict[int | None, list[int]] = defaultdict(lambda: [0, 0])
    for row in connection.execute(statement):
        channel_sums = by_channel[row.channel]
        channel_sums[0] += _int(row.leads)
        channel_sums[1] += _int(row.classified)
        channel_sums[2] += _int(row.qualified)
        manager_sums = by_manager[row.manager_id]
        manager_sums[0] += _int(row.leads)
        manager_sums[1] += _int(row.won)
    deals = deals_by_channel(connection, account_id=account_id, start=start, end=end)
    channels = []
    for channel in {*by_channel, *deals}:
        leads_, classified, qualified = by_channel.get(channel, [0, 0, 0])
        won, revenue, without_price = deals.get(channel, (0, 0, 0))
        channels.append(
            ChannelCounts(
                channel=channel,
                leads=leads_,
                classified=classified,
                qualified=qualified,
                deals=won,
                revenue=revenue,
                deals_without_price=without_price,
            )
        )
    managers = tuple(
        ManagerCounts(manager_id=manager_id, leads=sums[0], won=sums[1])
        for manager_id, sums in by_manager.items()
    )
    return tuple(channels), managers


def deals_by_channel(
    connection: Connection, *, account_id: int, start: int, end: int
) -> dict[str | None, tuple[int, int, int]]:
    """Won deals closed in [start, end) per channel: (deals, revenue, deals without a price)."""
    statement = (
        select(
            leads.c.channel,
            func.count().label("deals"),
            func.coalesce(func.sum(leads.c.price), 0).label("revenue"),
            _count_if(leads.c.price.is_(None)).label("without_price"),
        )
        .where(
            _live(account_id),
            leads.c.status_id == WON_STATUS,
            leads.c.closed_at >= start,
            leads.c.closed_at < end,
        )
        .group_by(leads.c.channel)
    )
    return {
        row.channel: (_int(row.deals), _int(row.revenue), _int(row.without_price))
        for row in connection.execute(statement)
    }


def _rank_expression(column: Any, stage_order: Mapping[int, Sequence[int]]) -> Any:
    """A status id → its index in its pipeline's stage order; won → WON_RANK; lost or unknown → NULL."""
    ranks: dict[int, int] = {WON_STATUS: WON_RANK}
    for statuses in stage_order.values():
        for index, status_id in enumerate(statuses):
            ranks.setdefault(status_id, index)
    return case(ranks, value=column, else_=None)


def stage_reach(
    connection: Connection,
    *,
    account_id: int,
    start: int,
    end: int,
    stage_order: Mapping[int, Sequence[int]],
) -> tuple[StageReach, ...]:
    """How far each live lead ever got (the furthest stage in its events or its current status), grouped.

    Grouped by pipeline, furthest stage, outcome now and whether the lead was created in the period — so
    backward moves keep the furthest stage reached, and one pass serves both conversion and win rates.
    """
    if not stage_order:
        return ()
    furthest_event = (
        select(
            events.c.lead_id,
            func.max(_rank_expression(events.c.status_id, stage_order)).label("top"),
        )
        .where(events.c.account_id == account_id)
        .group_by(events.c.lead_id)
        .subquery("furthest_event")
    )
    current = _rank_expression(leads.c.status_id, stage_order)
    event_top = furthest_event.c.top
    furthest = case(
        (event_top.is_(None), current),
        (current.is_(None), event_top),
        (event_top > current, event_top),
        else_=current,
    )
    outcome = case(
        (leads.c.status_id == WON_STATUS, literal("won")),
        (leads.c.status_id == LOST_STATUS, literal("lost")),
        else_=literal("open"),
    )
    in_period = case((_created_in(start, end), 1), else_=0)
    per_lead = (
        select(
            leads.c.pipeline_id,
            furthest.label("rank"),
            outcome.label("outcome"),
            in_period.label("in_period"),
        )
        .select_from(leads.outerjoin(furthest_event, furthest_event.c.lead_id == leads.c.lead_id))
        .where(_live(account_id), leads.c.pipeline_id.in_(list(stage_order)))
        .subquery("reach")
    )
    statement = select(
        per_lead.c.pipeline_id,
        per_lead.c.rank,
        per_lead.c.outcome,
        per_lead.c.in_period,
        func.count().label("leads"),
    ).group_by(per_lead.c.pipeline_id, per_lead.c.rank, per_lead.c.outcome, per_lead.c.in_period)
    return tuple(
        StageReach(
            pipeline_id=row.pipeline_id,
            rank=None if row.rank is None else int(row.rank),
            outcome=cast(Outcome, row.outcome),
            in_period=bool(row.in_period),
            leads=_int(row.leads),
        )
        for row in connection.execute(statement)
    )


def open_deals(connection: Connection, *, account_id: int) -> tuple[OpenDeals, ...]:
    """Live leads neither won nor lost, per current status: count, value and how many have no price."""
    statement = (
        select(
            leads.c.pipeline_id,
            leads.c.status_id,
            func.count().label("deals"),
            func.coalesce(func.sum(leads.c.price), 0).label("value"),
            _count_if(leads.c.price.is_(None)).label("without_price"),
        )
        .where(_live(account_id), not_(func.coalesce(leads.c.status_id, 0).in_([WON_STATUS, LOST_STATUS])))
        .group_by(leads.c.pipeline_id, leads.c.status_id)
    )
    return tuple(
        OpenDeals(
            pipeline_id=row.pipeline_id,
            status_id=row.status_id,
            deals=_int(row.deals),
            value=_int(row.value),
            without_price=_int(row.without_price),
        )
        for row in connection.execute(statement)
    )


_SQLITE_COMPLETENESS = """
SELECT l.channel AS channel,
       CASE WHEN l.responsible_user_id > 0 THEN l.responsible_user_id END AS manager_id,
       json_extract(f.value, '$.field_code') AS code,
       COUNT(*) AS filled
FROM lead_snapshots AS l, json_each(l.data, '$.custom_fields_values') AS f
WHERE l.account_id = :account_id AND l.is_deleted = 0 AND l.created_at >= :start AND l.created_at < :end
  AND json_extract(f.value, '$.field_code') IN ({codes})
  AND COALESCE(CAST(json_extract(f.value, '$.values[0].value') AS TEXT), '') <> ''
GROUP BY 1, 2, 3
"""

_POSTGRES_COMPLETENESS = """
SELECT l.channel AS channel,
       CASE WHEN l.responsible_user_id > 0 THEN l.responsible_user_id END AS manager_id,
       f ->> 'field_code' AS code,
       COUNT(*) AS filled
FROM lead_snapshots AS l
CROSS JOIN LATERAL json_array_elements(
    CASE WHEN json_typeof(l.data -> 'custom_fields_values') = 'array'
         THEN l.data -> 'custom_fields_values' ELSE '[]'::json END) AS f
WHERE l.account_id = :account_id AND NOT l.is_deleted AND l.created_at >= :start AND l.created_at < :end
  AND f ->> 'field_code' IN ({codes})
  AND COALESCE(f -> 'values' -> 0 ->> 'value', '') <> ''
GROUP BY 1, 2, 3
"""


def field_completeness_counts(
    connection: Connection,
    *,
    account_id: int,
    start: int,
    end: int,
    field_codes: Sequence[str],
    channels: Sequence[ChannelCounts],
    managers: Sequence[ManagerCounts],
) -> tuple[tuple[CompletenessCounts, ...], tuple[CompletenessCounts, ...]]:
    """Leads of the period with each qualification field filled, per channel and per manager."""
    if not field_codes:
        return (), ()
    template = _POSTGRES_COMPLETENESS if connection.dialect.name == "postgresql" else _SQLITE_COMPLETENESS
    placeholders = ", ".join(f":code{index}" for index in range(len(field_codes)))
    params: dict[str, Any] = {"account_id": account_id, "start": start, "end": end}
    params.update({f"code{index}": code for index, code in enumerate(field_codes)})
    by_channel: dict[str | None, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    by_manager: dict[int | None, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in connection.execute(text(template.format(codes=placeholders)), params):
        by_channel[row.channel][row.code] += _int(row.filled)
        by_manager[row.manager_id][row.code] += _int(row.filled)
    return (
        tuple(
            CompletenessCounts(key=row.channel, leads=row.leads, filled=dict(by_channel.get(row.channel, {})))
            for row in channels
            if row.leads
        ),
        tuple(
            CompletenessCounts(
                key=row.manager_id, leads=row.leads, filled=dict(by_manager.get(row.manager_id, {}))
            )
            for row in managers
            if row.leads
        ),
    )


def load_stage_order(connection: Connection, *, account_id: int) -> dict[int, list[int]]:
    """Each pipeline's open statuses in amoCRM's order (won and lost excluded)."""
    statement = (
        select(stages_table.c.pipeline_id, stages_table.c.status_id)
        .where(
            stages_table.c.account_id == account_id,
            stages_table.c.status_id.not_in([WON_STATUS, LOST_STATUS]),
        )
        .order_by(stages_table.c.pipeline_id, stages_table.c.sort, stages_table.c.status_id)
    )
    order: dict[int, list[int]] = defaultdict(list)
    for row in connection.execute(statement):
        order[row.pipeline_id].append(row.status_id)
    return dict(order)


def load_plans(connection: Connection, *, account_id: int) -> tuple[PlanEntry, ...]:
    statement = select(plans_table).where(plans_table.c.account_id == account_id)
    return tuple(
        PlanEntry(
            period=Period(row.period_start, row.period_end),
            figures=PlanFigures(
                leads=None if row.leads is None else float(row.leads),
                qualified=None if row.qualified is None else float(row.qualified),
                deals=None if row.deals is None else float(row.deals),
                revenue=None if row.revenue is None else float(row.revenue),
            ),
        )
        for row in connection.execute(statement)
    )


def load_spend(connection: Connection, *, account_id: int) -> tuple[SpendEntry, ...]:
    statement = select(spend_table).where(spend_table.c.account_id == account_id)
    return tuple(
        SpendEntry(
            period=Period(row.period_start, row.period_end), channel=row.channel, amount=Decimal(row.amount)
        )
        for row in connection.execute(statement)
    )


def load_stats_inputs(
    connection: Connection,
    *,
    account_id: int,
    period: Period,
    as_of: int,
    tz: tzinfo = UTC,
    field_codes: Sequence[str] = BANT_FIELD_CODES,
    stage_order: Mapping[int, Sequence[int]] | None = None,
) -> StatsInputs:
    """Everything the metrics of one account and period need, aggregated in the database."""
    start, end = period.bounds(tz)
    order = load_stage_order(connection, account_id=account_id) if stage_order is None else stage_order
    channels, managers = cohort_counts(connection, account_id=account_id, start=start, end=end)
    by_channel, by_manager = field_completeness_counts(
        connection,
        account_id=account_id,
        start=start,
        end=end,
        field_codes=field_codes,
        channels=channels,
        managers=managers,
    )
    return StatsInputs(
        period=period,
        as_of=as_of,
        period_start_ts=start,
        channels=channels,
        managers=managers,
        reach=stage_reach(connection, account_id=account_id, start=start, end=end, stage_order=order),
        open_deals=open_deals(connection, account_id=account_id),
        stage_order=order,
        plans=load_plans(connection, account_id=account_id),
        spend=load_spend(connection, account_id=account_id),
        completeness_by_channel=by_channel,
        completeness_by_manager=by_manager,
    )


def qualified_lead_ids(
    connection: Connection, *, account_id: int, start: int, end: int
) -> Iterator[tuple[int, int | None]]:
    """(lead id, rule version) of the period's qualified leads — what a frozen bonus base lists."""
    statement = (
        select(leads.c.lead_id, leads.c.rule_version)
        .where(_live(account_id), _created_in(start, end), leads.c.qualified == true())
        .order_by(leads.c.lead_id)
    )
    for row in connection.execute(statement):
        yield int(row.lead_id), row.rule_version


def open_leads_by_channel(connection: Connection, *, account_id: int) -> Iterator[tuple[int, str]]:
    """(lead id, channel) of live open leads with a channel: those that show their channel's % qualified."""
    statement = (
        select(leads.c.lead_id, leads.c.channel)
        .where(
            _live(account_id),
            leads.c.channel.is_not(None),
            not_(func.coalesce(leads.c.status_id, 0).in_([WON_STATUS, LOST_STATUS])),
        )
        .order_by(leads.c.lead_id)
        .execution_options(yield_per=5000)
    )
    for row in connection.execute(statement):
        yield int(row.lead_id), str(row.channel)
