"""Writing the funnel figures back into amoCRM, where both departments already look.

- The catalog (list) "LeadPact funnel" holds one element per period × channel (plus one for all channels) with
  the figures in custom fields and the time they are "as of".
- Each open lead with a channel carries its channel's current % qualified and the time it is as of.

Planning is pure (`catalog_rows`, `changed_rows`, `lead_updates`); `push_stats` applies it. Only figures that
differ from what LeadPact wrote last time are written, so a re-push with nothing new makes no write requests.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

import anyio
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.engine import Engine

from integration.amocrm.models import Catalog, CatalogElement, CustomField
from integration.db import session_scope
from integration.i18n import Language, Text
from integration.provisioning import load_provisioned_fields
from integration.storage import stats as storage
from integration.storage.accounts import list_active_accounts
from sync.stats import queries
from sync.stats.bonus import freeze_bonus_base
from sync.stats.metrics import PeriodFigures
from sync.stats.periods import Period
from sync.stats.service import StatsOptions, figures_for, rules_context

CATALOG_NAME = Text(ru="Воронка LeadPact", en="LeadPact funnel")
ALL_CHANNELS = Text(ru="все каналы", en="all channels")
NO_CHANNEL = Text(ru="без канала", en="no channel")
ELEMENT_TARGET = "element"
LEAD_TARGET = "lead"
AS_OF_CODE = "LEADPACT_AS_OF"
LEAD_AS_OF_CODE = "LEADPACT_CHANNEL_PCT_AS_OF"
logger = logging.getLogger(__name__)
LEAD_AS_OF_NAME = Text(
    ru="% целевых в канале: на дату (LeadPact)", en="Channel % qualified: as of (LeadPact)"
)


@dataclass(frozen=True, slots=True)
class CatalogField:
    code: str
    type: str
    name: Text
    sort: int


CATALOG_FIELDS: tuple[CatalogField, ...] = (
    CatalogField("LEADPACT_PERIOD", "text", Text(ru="Период", en="Period"), 10),
    CatalogField("LEADPACT_CHANNEL", "text", Text(ru="Канал", en="Channel"), 20),
    CatalogField("LEADPACT_LEADS", "numeric", Text(ru="Лиды", en="Leads"), 30),
    CatalogField("LEADPACT_QUALIFIED", "numeric", Text(ru="Целевые лиды", en="Qualified leads"), 40),
    CatalogField("LEADPACT_QUALIFIED_PCT", "numeric", Text(ru="% целевых", en="% qualified"), 50),
    CatalogField("LEADPACT_QUALIFIED_NORM", "numeric", Text(ru="Норма % целевых", en="% qualified norm"), 55),
    CatalogField("LEADPACT_DEALS", "numeric", Text(ru="Сделки (выиграно)", en="Deals won"), 60),
    CatalogField("LEADPACT_REVENUE", "numeric", Text(ru="Выручка", en="Revenue"), 70),
    CatalogField("LEADPACT_SPEND", "numeric", Text(ru="Расход", en="Spend"), 80),
    CatalogField("LEADPACT_COST_PER_LEAD", "numeric", Text(ru="Цена лида", en="Cost per lead"), 90),
    CatalogField(
        "LEADPACT_COST_PER_QUALIFIED",
        "numeric",
        Text(ru="Цена целевого лида", en="Cost per qualified lead"),
        100,
    ),
    CatalogField(
        "LEADPACT_COST_PER_CUSTOMER", "numeric", Text(ru="Цена клиента", en="Cost per customer"), 110
    ),
    CatalogField(
        "LEADPACT_BONUS_BASE", "numeric", Text(ru="База бонуса маркетинга", en="Marketing bonus base"), 120
    ),
    CatalogField("LEADPACT_BONUS_PCT", "numeric", Text(ru="% плана (бонус)", en="% of plan (bonus)"), 130),
    CatalogField(AS_OF_CODE, "date_time", Text(ru="Данные на", en="As of"), 140),
)

Figure = str | int | float | None


class StatsApi(Protocol):
    """The part of `integration.amocrm.AccountApi` the push uses (a fake stands in for it in unit tests)."""

    async def list_catalogs(self) -> list[Catalog]: ...
    async def create_catalogs(self, catalogs: Sequence[Mapping[str, Any]]) -> list[Catalog]: ...
    async def list_custom_fields(self, entity: str = "leads") -> list[CustomField]: ...
    async def create_custom_fields(
        self, entity: str, fields: Sequence[Mapping[str, Any]]
    ) -> list[CustomField]: ...
    def iter_catalog_elements(self, catalog_id: int, *, params: Any = None) -> Any: ...
    async def create_catalog_elements(
        self, catalog_id: int, elements: Sequence[Mapping[str, Any]]
    ) -> list[CatalogElement]: ...
    async def update_catalog_elements(
        self, catalog_id: int, elements: Sequence[Mapping[str, Any]]
    ) -> None: ...
    async def update_leads(self, leads: Sequence[Mapping[str, Any]]) -> None: ...


@dataclass(frozen=True, slots=True)
class CatalogRow:
    """One catalog element: a period × channel (channel None: all channels together)."""

    key: str
    name: str
    values: Mapping[str, Figure]


@dataclass(frozen=True, slots=True)
class PushResult:
    catalog_id: int
    elements_created: int = 0
    elements_updated: int = 0
    leads_updated: int = 0
    lead_field_missing: bool = False
    fields_created: tuple[str, ...] = field(default=())


# --- planning (pure) ----------------------------------------------------------------------------------------


def _number(value: float | Decimal | None, digits: int = 2) -> float | int | None:
    if value is None:
        return None
    rounded = round(float(value), digits)
    return int(rounded) if rounded.is_integer() else rounded


def _pct(value: float | None) -> float | int | None:
    return None if value is None else _number(value * 100, 1)


def catalog_rows(figures: PeriodFigures, lang: Language) -> list[CatalogRow]:
    """The elements for one period: one per channel with leads or spend, and one for all channels."""
    period = figures.period.label
    costs = {cost.channel: cost for cost in figures.costs}
    quality = {row.channel: row for row in figures.quality}
    counts = {row.channel: row for row in figures.channels}
    rows = []
    channels: list[str | None] = sorted(
        {*costs, *quality}, key=lambda channel: (channel is None, channel or "")
    )
    for channel in channels:
        cost, row = costs.get(channel), quality.get(channel)
        label = channel if channel is not None else NO_CHANNEL(lang)
        rows.append(
            CatalogRow(
                key=f"{period}|{channel if channel is not None else ''}",
                name=f"{period} · {label}",
                values={
                    "LEADPACT_PERIOD": period,
                    "LEADPACT_CHANNEL": label,
                    "LEADPACT_LEADS": row.leads if row else 0,
                    "LEADPACT_QUALIFIED": row.qualified if row else 0,
                    "LEADPACT_QUALIFIED_PCT": _pct(row.qualified_pct) if row else None,
                    "LEADPACT_QUALIFIED_NORM": _pct(figures.quality_total.norm),
                    "LEADPACT_DEALS": cost.customers if cost else 0,
                    "LEADPACT_REVENUE": counts[channel].revenue if channel in counts else 0,
                    "LEADPACT_SPEND": _number(cost.spend) if cost else None,
                    "LEADPACT_COST_PER_LEAD": _number(cost.per_lead) if cost else None,
                    "LEADPACT_COST_PER_QUALIFIED": _number(cost.per_qualified) if cost else None,
                    "LEADPACT_COST_PER_CUSTOMER": _number(cost.per_customer) if cost else None,
                },
            )
        )
    total = figures.quality_total
    spend_total = sum((cost.spend for cost in figures.costs if cost.spend is not None), Decimal(0))
    has_spend = any(cost.spend is not None for cost in figures.costs)
    rows.append(
        CatalogRow(
            key=f"{period}|*",
            name=f"{period} · {ALL_CHANNELS(lang)}",
            values={
                "LEADPACT_PERIOD": period,
                "LEADPACT_CHANNEL": ALL_CHANNELS(lang),
                "LEADPACT_LEADS": total.leads,
                "LEADPACT_QUALIFIED": total.qualified,
                "LEADPACT_QUALIFIED_PCT": _pct(total.qualified_pct),
                "LEADPACT_QUALIFIED_NORM": _pct(total.norm),
                "LEADPACT_DEALS": figures.totals.deals,
                "LEADPACT_REVENUE": figures.totals.revenue,
                "LEADPACT_SPEND": _number(spend_total) if has_spend else None,
                "LEADPACT_COST_PER_LEAD": _number(_per(spend_total, total.leads)) if has_spend else None,
                "LEADPACT_COST_PER_QUALIFIED": _number(_per(spend_total, total.qualified))
                if has_spend
                else None,
                "LEADPACT_COST_PER_CUSTOMER": _number(_per(spend_total, figures.totals.deals))
                if has_spend
                else None,
                "LEADPACT_BONUS_BASE": figures.bonus.base,
                "LEADPACT_BONUS_PCT": _pct(figures.bonus.pct_of_plan),
            },
        )
    )
    return rows


def _per(amount: Decimal, count: int) -> Decimal | None:
    if amount == 0 or count == 0:
        return None
    return amount / count


def changed_rows(rows: Iterable[CatalogRow], pushed: Mapping[str, Mapping[str, Any]]) -> list[CatalogRow]:
    """Rows whose figures differ from what was written last time (the "as of" time alone is no change)."""
    return [row for row in rows if dict(pushed.get(row.key, {}).get("values", {})) != dict(row.values)]


def lead_updates(
    leads: Iterable[tuple[int, str]],
    pct_by_channel: Mapping[str, float | None],
    pushed: Mapping[str, Mapping[str, Any]],
) -> list[tuple[int, float | int | None]]:
    """(lead id, % qualified of its channel) for leads whose written value would change."""
    updates = []
    for lead_id, channel in leads:
        value = _pct(pct_by_channel.get(channel))
        previous = pushed.get(str(lead_id))
        if previous is None and value is None:
            continue
        if previous is not None and previous.get("pct") == value:
            continue
        updates.append((lead_id, value))
    return updates


def _field_values(field_ids: Mapping[str, int], values: Mapping[str, Figure]) -> list[dict[str, Any]]:
    return [
        {"field_id": field_ids[code], "values": None if value is None else [{"value": value}]}
        for code, value in values.items()
        if code in field_ids
    ]


# --- applying -----------------------------------------------------------------------------------------------


async def ensure_catalog(api: StatsApi, lang: Language) -> tuple[int, dict[str, int], tuple[str, ...]]:
    """The funnel catalog's id and its field ids by code, creating whatever is missing (found again by name/code)."""
    names = {CATALOG_NAME.ru, CATALOG_NAME.en}
    catalog = next((c for c in await api.list_catalogs() if c.name in names), None)
    if catalog is None:
        (catalog,) = await api.create_catalogs([{"name": CATALOG_NAME(lang)}])
    entity = f"catalogs/{catalog.id}"
    existing = {f.code: f.id for f in await api.list_custom_fields(entity) if f.code}
    missing = [spec for spec in CATALOG_FIELDS if spec.code not in existing]
    if missing:
        created = await api.create_custom_fields(
            entity,
            [
                {"name": spec.name(lang), "type": spec.type, "code": spec.code, "sort": spec.sort}
                for spec in missing
            ],
        )
        existing.update({f.code: f.id for f in created if f.code})
    return catalog.id, existing, tuple(spec.code for spec in missing)


async def _lead_as_of_field(api: StatsApi, lang: Language) -> int:
    fields = {f.code: f.id for f in await api.list_custom_fields("leads") if f.code}
    if LEAD_AS_OF_CODE in fields:
        return fields[LEAD_AS_OF_CODE]
    (created,) = await api.create_custom_fields(
        "leads", [{"name": LEAD_AS_OF_NAME(lang), "type": "date_time", "code": LEAD_AS_OF_CODE, "sort": 517}]
    )
    return created.id


async def push_stats(
    *,
    api: StatsApi,
    engine: Engine,
    account_id: int,
    period: Period,
    now: int | None = None,
    lang: Language = "ru",
    options: StatsOptions = StatsOptions(),
    push_leads: bool = True,
) -> PushResult:
    """Computes the period's figures and writes what changed to the catalog and the leads."""
    as_of = int(time.time()) if now is None else now
    # Database work runs in a thread: in `serve` this job shares the event loop with the webhook receiver.
    figures, pushed_elements = await anyio.to_thread.run_sync(
        _load_figures, engine, account_id, period, as_of, options
    )
    catalog_id, field_ids, fields_created = await ensure_catalog(api, lang)
    rows = changed_rows(catalog_rows(figures, lang), pushed_elements)
    created = updated = 0
    if rows:
        by_name = {element.name: element.id async for element in api.iter_catalog_elements(catalog_id)}
        to_create = [row for row in rows if row.name not in by_name]
        to_update = [row for row in rows if row.name in by_name]

        def body(row: CatalogRow) -> dict[str, Any]:
            return {
                "name": row.name,
                "custom_fields_values": _field_values(field_ids, {**row.values, AS_OF_CODE: as_of}),
            }

        if to_update:
            await api.update_catalog_elements(
                catalog_id, [{"id": by_name[row.name], **body(row)} for row in to_update]
            )
        new_elements = (
            await api.create_catalog_elements(catalog_id, [body(row) for row in to_create])
            if to_create
            else []
        )
        ids = {**{row.key: by_name[row.name] for row in to_update}}
        ids.update({row.key: element.id for row, element in zip(to_create, new_elements, strict=True)})
        saved = [(row.key, ids[row.key], {"values": dict(row.values), "as_of": as_of}) for row in rows]
        await anyio.to_thread.run_sync(_save_pushed, engine, account_id, ELEMENT_TARGET, saved, as_of)
        created, updated = len(to_create), len(to_update)
    result = PushResult(
        catalog_id=catalog_id,
        elements_created=created,
        elements_updated=updated,
        fields_created=fields_created,
    )
    if push_leads:
        result = await _push_lead_figures(api, engine, account_id, figures, as_of, lang, result)
    return result


async def _push_lead_figures(
    api: StatsApi,
    engine: Engine,
    account_id: int,
    figures: PeriodFigures,
    as_of: int,
    lang: Language,
    result: PushResult,
) -> PushResult:
    pct_by_channel = {row.channel: row.qualified_pct for row in figures.quality if row.channel is not None}
    planned = await anyio.to_thread.run_sync(_plan_lead_updates, engine, account_id, pct_by_channel)
    if planned is None:
        return replace(result, lead_field_missing=True)
    pct_field, updates = planned
    if not updates:
        return result
    as_of_field = await _lead_as_of_field(api, lang)
    await api.update_leads(
        [
            {
                "id": lead_id,
                "custom_fields_values": [
                    {"field_id": pct_field, "values": None if value is None else [{"value": value}]},
                    {"field_id": as_of_field, "values": [{"value": as_of}]},
                ],
            }
            for lead_id, value in updates
        ]
    )
    saved = [(str(lead_id), lead_id, {"pct": value, "as_of": as_of}) for lead_id, value in updates]
    await anyio.to_thread.run_sync(_save_pushed, engine, account_id, LEAD_TARGET, saved, as_of)
    return replace(result, leads_updated=len(updates))


# --- database edges (run in worker threads) -------------------------------------------------------------------


def _load_figures(
    engine: Engine, account_id: int, period: Period, as_of: int, options: StatsOptions
) -> tuple[PeriodFigures, dict[str, dict[str, Any]]]:
    with session_scope(engine) as session:
        figures = figures_for(
            session=session, account_id=account_id, period=period, as_of=as_of, options=options
        )
        pushed = {
            key: {"values": row.value.get("values", {}), "entity_id": row.entity_id}
            for key, row in storage.load_pushed_values(
                session=session, account_id=account_id, target=ELEMENT_TARGET
            ).items()
        }
    return figures, pushed


def _save_pushed(
    engine: Engine, account_id: int, target: str, saved: list[tuple[str, int, dict[str, Any]]], as_of: int
) -> None:
    with session_scope(engine) as session:
        for key, entity_id, value in saved:
            storage.save_pushed_value(
                session=session,
                account_id=account_id,
                target=target,
                key=key,
                entity_id=entity_id,
                value=value,
                pushed_at=as_of,
            )


def _plan_lead_updates(
    engine: Engine, account_id: int, pct_by_channel: Mapping[str, float | None]
) -> tuple[int, list[tuple[int, float | int | None]]] | None:
    """(the % field's id, the lead updates to send), or None when LeadPact's lead fields are not provisioned."""
    with session_scope(engine) as session:
        provisioned = load_provisioned_fields(session=session, account_id=account_id)
        if provisioned is None:
            return None
        pushed = {
            key: row.value
            for key, row in storage.load_pushed_values(
                session=session, account_id=account_id, target=LEAD_TARGET
            ).items()
        }
        leads = queries.open_leads_by_channel(session.connection(), account_id=account_id)
        return provisioned.channel_qualified_pct, lead_updates(leads, pct_by_channel, pushed)


SETTLING_SECONDS = 7 * 86_400
# Figures move with every webhook; a quarter of an hour keeps the catalog fresh within amoCRM's request budget.
PUSH_INTERVAL_SECONDS = 15 * 60.0


class ApiSource(Protocol):
    """Where the scheduled push gets each account's API (`integration.accounts.AmoConnector`)."""

    def api_for(self, account_id: int) -> Any: ...


def previous_period(period: Period) -> Period:
    last_day = period.start - timedelta(days=1)
    return Period.month(last_day.year, last_day.month)


async def push_all_accounts(
    *, engine: Engine, connector: ApiSource, now: int | None = None, options: StatsOptions = StatsOptions()
) -> dict[int, PushResult | None]:
    """The scheduled job: freezes last month's bonus base once it has ended, then pushes this month's figures.

    One account failing (revoked token, amoCRM down) is logged and does not stop the others (None in the result).
    """
    moment = int(time.time()) if now is None else now
    accounts = await anyio.to_thread.run_sync(_active_accounts, engine)
    results: dict[int, PushResult | None] = {}
    for account_id, language in accounts:
        lang: Language = "en" if language == "en" else "ru"
        try:
            period, closed, closed_end = await anyio.to_thread.run_sync(
                _close_previous_period, engine, account_id, moment
            )
            api = await anyio.to_thread.run_sync(connector.api_for, account_id)
            if moment < closed_end + SETTLING_SECONDS:
                # Late status moves still change last month's figures for a few days; its element follows them.
                await push_stats(
                    api=api,
                    engine=engine,
                    account_id=account_id,
                    period=closed,
                    now=moment,
                    lang=lang,
                    options=options,
                    push_leads=False,
                )
            results[account_id] = await push_stats(
                api=api,
                engine=engine,
                account_id=account_id,
                period=period,
                now=moment,
                lang=lang,
                options=options,
            )
        except Exception as error:
            # The job runs unattended and the next run retries; only the error's type is logged, never its text.
            logger.warning(
                "stats push for account %s failed: %s",
                account_id,
                type(error).__name__,
                extra={"account_id": account_id},
            )
            results[account_id] = None
    return results


def _active_accounts(engine: Engine) -> list[tuple[int, str]]:
    with session_scope(engine) as session:
        return [(a.id, a.language) for a in list_active_accounts(session=session)]


def _close_previous_period(engine: Engine, account_id: int, moment: int) -> tuple[Period, Period, int]:
    """(this month, last month, when last month ended); freezes last month's bonus base if it had a plan."""
    with session_scope(engine) as session:
        tz = rules_context(session=session, account_id=account_id).timezone
        period = Period.containing(datetime.fromtimestamp(moment, tz))
        closed = previous_period(period)
        planned = any(
            Period(plan.period_start, plan.period_end).overlaps(closed)
            for plan in storage.list_plans(session=session, account_id=account_id)
        )
        # Only a planned period has a bonus to pay; freezing an unplanned (e.g. pre-install) month would fix an
        # empty base forever.
        if planned:
            freeze_bonus_base(session=session, account_id=account_id, period=closed, now=moment, tz=tz)
    return period, closed, closed.bounds(tz)[1]


class StatsPushServices(Protocol):
    """What the background task needs from `integration.bootstrap.Services`."""

    @property
    def engine(self) -> Engine: ...
    @property
    def connector(self) -> Any: ...


async def run_stats_pusher(
    services: StatsPushServices,
    stop: asyncio.Event,
    *,
    interval_seconds: float = PUSH_INTERVAL_SECONDS,
    first_run_after: float = 30.0,
) -> None:
    """Background task (in `serve` and `leadpact worker`): push every account's figures on an interval."""
    scheduler = AsyncIOScheduler(event_loop=asyncio.get_running_loop(), timezone=UTC)
    scheduler.add_job(
        push_all_accounts,
        "interval",
        kwargs={"engine": services.engine, "connector": services.connector},
        seconds=interval_seconds,
        next_run_time=datetime.now(UTC) + timedelta(seconds=first_run_after),
        max_instances=1,
        coalesce=True,
        # A tick that starts late on a busy machine still runs (the default 1 s grace skips it with a warning).
        misfire_grace_time=None,
        id="stats-push",
    )
    scheduler.start()
    try:
        await stop.wait()
    finally:
        scheduler.shutdown(wait=False)
