"""SQL aggregation for the funnel metrics: two GROUP BY passes (SQLite and PostgreSQL) turn millions of lead
and status-event rows into the small `*Counts` values of `sync.stats.metrics`.

- `cohort_facts`: the period's leads per channel × manager × qualified × won (× filled fields on SQLite);
- `pipeline_facts`: every live lead per pipeline × status × furthest stage × cohort × deal-in-period (× channel
  for the deals).

No query loads rows per lead into Python; each returns a few thousand grouped rows at most.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, tzinfo
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, not_, select, text, true
from sqlalchemy.engine import Connection
from sqlalchemy.sql.schema import Table
from sqlmodel import SQLModel

from integration.storage.leads import LeadSnapshot, LeadStatusEvent
from integration.storage.stats import StatsBackfillCheckpoint, StatsPipelineStage, StatsPlan, StatsSpend
from sync.stats.metrics import (
    LOST_STATUS,
    WON_RANK,
    WON_STATUS,
    ChannelCounts,
    CompletenessCounts,
    HistoryMissing,
    ManagerCounts,
    OpenDeals,
    Outcome,
    PlanEntry,
    PlanFigures,
    SpendEntry,
    StageReach,
    StatsInputs,
    WonBasis,
)
from sync.stats.periods import Period
from sync.stats.trends import BucketCounts

# The demo account's qualification fields (BANT) by amoCRM field code (the benchmark's data uses them).
BANT_FIELD_CODES: tuple[str, ...] = ("BUDGET", "DECISION_MAKER", "NEED", "DECISION_DATE")


@dataclass(frozen=True, slots=True)
class FieldRef:
    """An amoCRM lead field counted for completeness, as a rule file names it: by id, code or name.

    `key` is what the figures are keyed by (the rule file's alias for the field)."""

    key: str
    code: str | None = None
    name: str | None = None
    field_id: int | None = None

    @property
    def mapped(self) -> bool:
        """False for a role the account's field mapping leaves without a field: nothing to count."""
        return self.code is not None or self.name is not None or self.field_id is not None


def field_refs(fields: Sequence[FieldRef | str]) -> tuple[FieldRef, ...]:
    """Plain strings are field codes keyed by themselves."""
    return tuple(item if isinstance(item, FieldRef) else FieldRef(key=item, code=item) for item in fields)


leads: Table = SQLModel.metadata.tables[LeadSnapshot.__tablename__]
stages_table: Table = SQLModel.metadata.tables[StatsPipelineStage.__tablename__]
plans_table: Table = SQLModel.metadata.tables[StatsPlan.__tablename__]
spend_table: Table = SQLModel.metadata.tables[StatsSpend.__tablename__]
events_table: Table = SQLModel.metadata.tables[LeadStatusEvent.__tablename__]
checkpoints_table: Table = SQLModel.metadata.tables[StatsBackfillCheckpoint.__tablename__]


def _int(value: Any) -> int:
    return int(value or 0)


def _created_in(start: int, end: int) -> ColumnElement[bool]:
    return and_(leads.c.created_at >= start, leads.c.created_at < end)


def _live(account_id: int) -> ColumnElement[bool]:
    # Deleted leads drop out of every figure; a restored lead counts again because its flag is cleared.
    return and_(leads.c.account_id == account_id, leads.c.is_deleted == false())


class _Params:
    """Bound parameters for the hand-written SQL below: every value is bound, none is spliced into the text."""

    def __init__(self, **initial: Any) -> None:
        self.values: dict[str, Any] = dict(initial)

    def bind(self, value: Any) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f":{name}"


def _rank_case(column: str, stage_order: Mapping[int, Sequence[int]], params: _Params) -> str:
    """SQL: a status id → its index in its pipeline's stage order; won → WON_RANK; lost or unknown → NULL."""
    ranks: dict[int, int] = {WON_STATUS: WON_RANK}
    for statuses in stage_order.values():
        for index, status_id in enumerate(statuses):
            ranks.setdefault(status_id, index)
    whens = " ".join(f"WHEN {params.bind(status)} THEN {params.bind(rank)}" for status, rank in ranks.items())
    return f"CASE {column} {whens} END"


# SQLite's lower() folds ASCII only, and amoCRM field names are mostly Cyrillic: Python's casefold is
# registered on the connection under this name (`_register_casefold`). PostgreSQL's lower() follows the
# database's locale.
CASEFOLD_SQLITE = "leadpact_casefold"


def _register_casefold(connection: Connection) -> None:
    raw = connection.connection.driver_connection
    create_function = getattr(raw, "create_function", None)
    if create_function is not None:
        create_function(
            CASEFOLD_SQLITE,
            1,
            lambda value: value.casefold() if isinstance(value, str) else value,
            deterministic=True,
        )


def _field_match(
    ref: FieldRef,
    params: _Params,
    *,
    code: str,
    name: str,
    field_id: str,
    id_as_text: bool = False,
    fold: str = CASEFOLD_SQLITE,
) -> str:
    """SQL: this custom-field entry is the field `ref` names (by id, code or name, as amoCRM lists them)."""
    tests = []
    if ref.field_id is not None:
        bound = str(ref.field_id) if id_as_text else ref.field_id
        tests.append(f"{field_id} = {params.bind(bound)}")
    if ref.code is not None:
        tests.append(f"{code} = {params.bind(ref.code)}")
    if ref.name is not None:
        # Rule files match field names regardless of case (the loader keeps them case-folded).
        tests.append(f"{fold}({name}) = {params.bind(ref.name.casefold())}")
    return " OR ".join(tests) or "1 = 0"


def _filled_mask(fields: Sequence[FieldRef], params: _Params) -> str:
    """SQLite: a bit per qualification field the lead has filled (bit i ↔ fields[i])."""
    if not fields:
        return "0"
    if len(fields) > 30:
        raise ValueError("at most 30 qualification fields")
    whens = " ".join(
        "WHEN "
        + _field_match(
            ref,
            params,
            code="json_extract(f.value, '$.field_code')",
            name="json_extract(f.value, '$.field_name')",
            field_id="json_extract(f.value, '$.field_id')",
        )
        + f" THEN {1 << i}"
        for i, ref in enumerate(fields)
    )
    return f"""COALESCE((
        SELECT SUM(DISTINCT CASE {whens} ELSE 0 END)
        FROM json_each(l.data, '$.custom_fields_values') AS f
        WHERE COALESCE(CAST(json_extract(f.value, '$.values[0].value') AS TEXT), '') <> ''), 0)"""


def live_sql(dialect: str) -> str:
    """The live leads of `:account_id` in `lead_snapshots AS l` (deleted ones left out), in this dialect."""
    deleted = "NOT l.is_deleted" if dialect == "postgresql" else "l.is_deleted = 0"
    return f"l.account_id = :account_id AND {deleted}"


# SQLite would otherwise flatten the per-lead subquery into the GROUP BY and evaluate its correlated
# subqueries several times per lead; a LIMIT keeps it a single pass (PostgreSQL needs no such hint).
def _no_flatten(dialect: str) -> str:
    return "" if dialect == "postgresql" else "LIMIT -1"


def cohort_facts(
    connection: Connection,
    *,
    account_id: int,
    start: int,
    end: int,
    field_codes: Sequence[FieldRef | str] = (),
) -> tuple[
    dict[str | None, tuple[int, int, int]],
    tuple[ManagerCounts, ...],
    tuple[CompletenessCounts, ...],
    tuple[CompletenessCounts, ...],
]:
    """One pass over the leads created in [start, end): per channel (leads, classified, qualified), per manager
    (leads, won by now), and how many of them have each qualification field filled per channel and manager."""
    dialect = connection.dialect.name
    fields = field_refs(field_codes)
    params = _Params(account_id=account_id, start=start, end=end)
    # SQLite sorts every row it groups, so the fields filled ride along as a bitmask in the same pass;
    # PostgreSQL hashes, and unnests the field lists faster in a query of their own.
    postgres = dialect == "postgresql"
    if not postgres and fields:
        _register_casefold(connection)
    mask = "0" if postgres else _filled_mask(fields, params)
    sql = f"""
        SELECT channel, manager_id, qualified, won, mask, COUNT(*) AS leads FROM (
            SELECT l.channel AS channel,
                   CASE WHEN l.responsible_user_id > 0 THEN l.responsible_user_id END AS manager_id,
                   l.qualified AS qualified,
                   CASE WHEN l.status_id = {params.bind(WON_STATUS)} THEN 1 ELSE 0 END AS won,
                   {mask} AS mask
            FROM lead_snapshots AS l
            WHERE {live_sql(dialect)} AND l.created_at >= :start AND l.created_at < :end
            {_no_flatten(dialect)}
        ) AS cohort
        GROUP BY channel, manager_id, qualified, won, mask
    """
    channels: dict[str | None, list[int]] = defaultdict(lambda: [0, 0, 0])
    managers: dict[int | None, list[int]] = defaultdict(lambda: [0, 0])
    filled_by_channel: dict[str | None, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    filled_by_manager: dict[int | None, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in connection.execute(text(sql), params.values):
        leads_ = _int(row.leads)
        channel_sums = channels[row.channel]
        channel_sums[0] += leads_
        channel_sums[1] += leads_ if row.qualified is not None else 0
        channel_sums[2] += leads_ if row.qualified else 0
        manager_sums = managers[row.manager_id]
        manager_sums[0] += leads_
        manager_sums[1] += leads_ if row.won else 0
        mask_value = _int(row.mask)
        for bit, ref in enumerate(fields):
            if mask_value & (1 << bit):
                filled_by_channel[row.channel][ref.key] += leads_
                filled_by_manager[row.manager_id][ref.key] += leads_
    if postgres and fields:
        for channel, manager_id, code, filled in _postgres_filled(connection, params, fields):
            filled_by_channel[channel][code] += filled
            filled_by_manager[manager_id][code] += filled
    return (
        {channel: (sums[0], sums[1], sums[2]) for channel, sums in channels.items()},
        tuple(ManagerCounts(manager_id=key, leads=sums[0], won=sums[1]) for key, sums in managers.items()),
        tuple(
            CompletenessCounts(key=key, leads=sums[0], filled=dict(filled_by_channel.get(key, {})))
            for key, sums in channels.items()
        )
        if fields
        else (),
        tuple(
            CompletenessCounts(key=key, leads=sums[0], filled=dict(filled_by_manager.get(key, {})))
            for key, sums in managers.items()
        )
        if fields
        else (),
    )


def _postgres_filled(
    connection: Connection, params: _Params, fields: Sequence[FieldRef]
) -> Iterator[tuple[str | None, int | None, str, int]]:
    """(channel, manager, field key, leads with it filled) for the cohort, on PostgreSQL (amoCRM lists a
    field once per lead, so counting list items counts leads)."""
    whens = " ".join(
        "WHEN "
        + _field_match(
            ref,
            params,
            code="f ->> 'field_code'",
            name="f ->> 'field_name'",
            field_id="f ->> 'field_id'",
            id_as_text=True,
            fold="lower",
        )
        + f" THEN {index}"
        for index, ref in enumerate(fields)
    )
    sql = f"""
        SELECT channel, manager_id, which, COUNT(*) AS filled FROM (
        SELECT l.channel AS channel,
               CASE WHEN l.responsible_user_id > 0 THEN l.responsible_user_id END AS manager_id,
               CASE {whens} END AS which
        FROM lead_snapshots AS l
        CROSS JOIN LATERAL (SELECT (l.data -> 'custom_fields_values')::jsonb AS fields) AS d
        CROSS JOIN LATERAL jsonb_array_elements(
            CASE WHEN jsonb_typeof(d.fields) = 'array' THEN d.fields ELSE '[]'::jsonb END) AS f
        WHERE {live_sql("postgresql")} AND l.created_at >= :start AND l.created_at < :end
          AND COALESCE(f -> 'values' -> 0 ->> 'value', '') <> ''
        ) AS filled_fields
        WHERE which IS NOT NULL
        GROUP BY 1, 2, 3
    """
    for row in connection.execute(text(sql), params.values):
        yield row.channel, row.manager_id, fields[int(row.which)].key, _int(row.filled)


@dataclass(frozen=True, slots=True)
class PipelineFacts:
    deals_by_channel: dict[str | None, tuple[int, int, int]]  # (deals, revenue, deals without price)
    reach: tuple[StageReach, ...]
    open_deals: tuple[OpenDeals, ...]


def pipeline_facts(
    connection: Connection,
    *,
    account_id: int,
    start: int,
    end: int,
    stage_order: Mapping[int, Sequence[int]],
    won_basis: WonBasis = "close_date",
) -> PipelineFacts:
    """One pass over every live lead (any creation date) joined to its status history.

    Gives the wins closed in [start, end) per channel, how far each lead ever got in its pipeline (the
    furthest stage among its status events and its current status — so backward moves keep the furthest
    stage), grouped with its outcome and whether it belongs to the period's cohort, and the open deals per
    current status. With `won_basis="cohort"` the deals are the period's leads won by now, whenever closed.
    """
    dialect = connection.dialect.name
    params = _Params(account_id=account_id, start=start, end=end)
    current_rank = _rank_case("l.status_id", stage_order, params)
    event_rank = _rank_case("e.status_id", stage_order, params)
    won = params.bind(WON_STATUS)
    deal_time = "created_at" if won_basis == "cohort" else "closed_at"
    if dialect == "postgresql":
        history_join = f"""LEFT JOIN (
            SELECT e.lead_id, MAX({event_rank}) AS top FROM lead_status_events AS e
            WHERE e.account_id = :account_id GROUP BY e.lead_id) AS ev ON ev.lead_id = l.lead_id"""
        history = "ev.top"
    else:
        history_join = ""
        # Per lead, a seek in the (account_id, lead_id, …) unique index of the history: cheaper than sorting it.
        # A won lead ranks WON_RANK whatever its history, so its history is not read (CASE is lazy in SQLite).
        history = f"""CASE WHEN l.status_id = {won} THEN NULL ELSE (
                       SELECT MAX({event_rank}) FROM lead_status_events AS e
                       WHERE e.account_id = l.account_id AND e.lead_id = l.lead_id) END"""
    furthest_sql = """CASE WHEN history IS NULL THEN current_rank WHEN current_rank IS NULL THEN history
                           WHEN history > current_rank THEN history ELSE current_rank END"""
    # The furthest stage, cohort and deal flags travel packed in one integer, `shape`; the channel only
    # matters to the deals (won in the period), the one figure split by channel.
    shape = f"(COALESCE({furthest_sql}, -1) + 1) * 4 + in_period * 2 + deal"
    per_lead = f"""
        SELECT l.channel AS channel, l.pipeline_id AS pipeline_id, l.status_id AS status_id, l.price AS price,
               {current_rank} AS current_rank, {history} AS history,
               CASE WHEN l.created_at >= :start AND l.created_at < :end THEN 1 ELSE 0 END AS in_period,
               CASE WHEN l.status_id = {won} AND l.{deal_time} >= :start AND l.{deal_time} < :end
                    THEN 1 ELSE 0 END AS deal
        FROM lead_snapshots AS l {history_join}
        WHERE {live_sql(dialect)}
        {_no_flatten(dialect)}"""
    totals = """COUNT(*) AS leads, COALESCE(SUM(price), 0) AS value,
                SUM(CASE WHEN price IS NULL THEN 1 ELSE 0 END) AS without_price"""
    if dialect == "postgresql":
        # PostgreSQL hashes the groups, whatever their width.
        sql = f"""
            SELECT pipeline_id, status_id, CASE WHEN deal = 1 THEN channel END AS channel, {shape} AS shape,
                   {totals}
            FROM ({per_lead}) AS per_lead
            GROUP BY channel, pipeline_id, status_id, {furthest_sql}, in_period, deal
        """
    else:
        # SQLite sorts every lead's row to group it: the row is kept narrow (one packed integer, and no
        # channel text to compare except on the few deals).
        sql = f"""
            SELECT pipeline_id, status_id, channel, shape, {totals}
            FROM (
                SELECT pipeline_id, status_id, price, CASE WHEN deal = 1 THEN channel END AS channel,
                       {shape} AS shape
                FROM ({per_lead}) AS per_lead
                {_no_flatten(dialect)}
            ) AS shaped
            GROUP BY 1, 2, 3, 4
        """
    deals: dict[str | None, list[int]] = defaultdict(lambda: [0, 0, 0])
    reach: dict[tuple[int | None, int | None, Outcome, bool], int] = defaultdict(int)
    open_: dict[tuple[int | None, int | None], list[int]] = defaultdict(lambda: [0, 0, 0])
    for row in connection.execute(text(sql), params.values):
        count, value, without_price = _int(row.leads), _int(row.value), _int(row.without_price)
        packed_rank, flags = divmod(int(row.shape), 4)
        in_period, deal = bool(flags & 2), bool(flags & 1)
        if deal:
            sums = deals[row.channel]
            sums[0] += count
            sums[1] += value
            sums[2] += without_price
        outcome: Outcome = (
            "won" if row.status_id == WON_STATUS else "lost" if row.status_id == LOST_STATUS else "open"
        )
        if outcome == "open":
            sums = open_[(row.pipeline_id, row.status_id)]
            sums[0] += count
            sums[1] += value
            sums[2] += without_price
        if row.pipeline_id in stage_order:
            furthest = None if packed_rank == 0 else packed_rank - 1
            reach[(row.pipeline_id, furthest, outcome, in_period)] += count
    return PipelineFacts(
        deals_by_channel={channel: (s[0], s[1], s[2]) for channel, s in deals.items()},
        reach=tuple(
            StageReach(pipeline_id=pipeline, rank=rank, outcome=outcome, in_period=in_period, leads=count)
            for (pipeline, rank, outcome, in_period), count in reach.items()
        ),
        open_deals=tuple(
            OpenDeals(pipeline_id=pipeline, status_id=status, deals=s[0], value=s[1], without_price=s[2])
            for (pipeline, status), s in open_.items()
        ),
    )


def channel_counts(
    cohort: Mapping[str | None, tuple[int, int, int]], deals: Mapping[str | None, tuple[int, int, int]]
) -> tuple[ChannelCounts, ...]:
    result = []
    for channel in {*cohort, *deals}:
        leads_, classified, qualified = cohort.get(channel, (0, 0, 0))
        won, revenue, without_price = deals.get(channel, (0, 0, 0))
        result.append(
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
    return tuple(result)


def cohort_counts(
    connection: Connection, *, account_id: int, start: int, end: int
) -> tuple[tuple[ChannelCounts, ...], tuple[ManagerCounts, ...]]:
    """Leads of [start, end) per channel and manager, with wins closed in the period per channel."""
    cohort, managers, _, _ = cohort_facts(connection, account_id=account_id, start=start, end=end)
    facts = pipeline_facts(connection, account_id=account_id, start=start, end=end, stage_order={})
    return channel_counts(cohort, facts.deals_by_channel), managers


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
    field_codes: Sequence[FieldRef | str] = BANT_FIELD_CODES,
    stage_order: Mapping[int, Sequence[int]] | None = None,
    won_basis: WonBasis = "close_date",
) -> StatsInputs:
    """Everything the metrics of one account and period need, aggregated in the database."""
    start, end = period.bounds(tz)
    if connection.dialect.name == "postgresql":
        # These queries run for seconds at most; compiling them first (JIT) costs over a second each.
        connection.execute(text("SET LOCAL jit = off"))
    order = load_stage_order(connection, account_id=account_id) if stage_order is None else stage_order
    cohort, managers, by_channel, by_manager = cohort_facts(
        connection, account_id=account_id, start=start, end=end, field_codes=field_codes
    )
    facts = pipeline_facts(
        connection, account_id=account_id, start=start, end=end, stage_order=order, won_basis=won_basis
    )
    return StatsInputs(
        period=period,
        as_of=as_of,
        period_start_ts=start,
        channels=channel_counts(cohort, facts.deals_by_channel),
        managers=managers,
        reach=facts.reach,
        open_deals=facts.open_deals,
        stage_order=order,
        plans=load_plans(connection, account_id=account_id),
        spend=load_spend(connection, account_id=account_id),
        completeness_by_channel=by_channel,
        completeness_by_manager=by_manager,
        history_missing=history_missing(connection, account_id=account_id),
        won_basis=won_basis,
    )


def history_missing(connection: Connection, *, account_id: int) -> HistoryMissing | None:
    """Why the account's status history cannot be trusted, or None: the last backfill found no events list
    (amoCRM answered 404/403), or no status change is stored at all. Two indexed look-ups."""
    answered = connection.execute(
        select(checkpoints_table.c.events_api).where(checkpoints_table.c.account_id == account_id)
    ).scalar()
    if answered is False:
        return "no_events_api"
    any_event = connection.execute(
        select(events_table.c.lead_id).where(events_table.c.account_id == account_id).limit(1)
    ).first()
    return "no_history" if any_event is None else None


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


def _bucket_case(column: str, bounds: Sequence[int], params: _Params) -> str:
    """SQL: the index i of the bucket [bounds[i], bounds[i+1]) `column` falls in, else NULL."""
    whens = " ".join(
        f"WHEN {column} < {params.bind(bound)} THEN {index}" for index, bound in enumerate(bounds[1:])
    )
    return f"CASE WHEN {column} IS NULL OR {column} < {params.bind(bounds[0])} THEN NULL {whens} END"


def bucket_counts(connection: Connection, *, account_id: int, bounds: Sequence[int]) -> list[BucketCounts]:
    """One pass over the account's live leads created or closed within [bounds[0], bounds[-1]), counted per
    bucket [bounds[i], bounds[i+1]): the trends of the weekly report (eight past weeks, then this week's days)."""
    if len(bounds) < 2:
        return []
    if len(bounds) > 255:
        raise ValueError("at most 254 trend buckets")
    params = _Params(account_id=account_id, first=bounds[0], last=bounds[-1], won=WON_STATUS)
    created = _bucket_case("l.created_at", bounds, params)
    closed = _bucket_case("CASE WHEN l.status_id = :won THEN l.closed_at END", bounds, params)
    slots = 256
    # SQLite sorts every row it groups: the buckets, qualified state and outcome travel packed in one integer.
    shape = f"""((COALESCE({created}, -1) + 1) * {slots} + COALESCE({closed}, -1) + 1) * 8
               + (CASE WHEN l.qualified IS NULL THEN 0 WHEN l.qualified THEN 2 ELSE 1 END) * 2
               + (CASE WHEN l.status_id = :won THEN 1 ELSE 0 END)"""
    sql = f"""
        SELECT shape, COUNT(*) AS leads, COALESCE(SUM(price), 0) AS value FROM (
            SELECT {shape} AS shape, l.price AS price
            FROM lead_snapshots AS l
            WHERE {live_sql(connection.dialect.name)}
              AND ((l.created_at >= :first AND l.created_at < :last)
                   OR (l.status_id = :won AND l.closed_at >= :first AND l.closed_at < :last))
            {_no_flatten(connection.dialect.name)}
        ) AS bucketed
        GROUP BY shape
    """
    sums = [[0] * 7 for _ in bounds[1:]]
    for row in connection.execute(text(sql), params.values):
        count, value = _int(row.leads), _int(row.value)
        buckets, flags = divmod(int(row.shape), 8)
        created_plus, closed_plus = divmod(buckets, slots)
        quality, won = divmod(flags, 2)
        if created_plus:
            bucket = sums[created_plus - 1]
            bucket[0] += count
            bucket[1] += count if quality else 0
            bucket[2] += count if quality == 2 else 0
            bucket[3] += count if won else 0
            bucket[4] += value if won else 0
        if closed_plus:
            bucket = sums[closed_plus - 1]
            bucket[5] += count
            bucket[6] += value
    return [BucketCounts(*values) for values in sums]


def deal_cycle_histograms(
    connection: Connection, *, account_id: int, bounds: Sequence[int]
) -> list[dict[int, int]]:
    """Per bucket [bounds[i], bounds[i+1]) of the won date: how many deals took each whole number of days from
    the lead's creation to won. Grouped in SQL, so a median costs one pass however many deals there are."""
    if len(bounds) < 2:
        return []
    params = _Params(account_id=account_id, first=bounds[0], last=bounds[-1], won=WON_STATUS)
    bucket = _bucket_case("l.closed_at", bounds, params)
    sql = f"""
        SELECT bucket, days, COUNT(*) AS deals FROM (
            SELECT {bucket} AS bucket,
                   CAST((l.closed_at - l.created_at) / 86400 AS INTEGER) AS days
            FROM lead_snapshots AS l
            WHERE {live_sql(connection.dialect.name)}
              AND l.status_id = :won AND l.closed_at >= :first AND l.closed_at < :last
            {_no_flatten(connection.dialect.name)}
        ) AS cycles
        GROUP BY bucket, days
    """
    histograms: list[dict[int, int]] = [{} for _ in bounds[1:]]
    for row in connection.execute(text(sql), params.values):
        if row.bucket is None or row.days is None:
            continue
        histograms[int(row.bucket)][max(int(row.days), 0)] = _int(row.deals)
    return histograms
