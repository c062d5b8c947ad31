"""What the demo puts into LeadPact so its report has something to say: the sandbox's status history (loaded
through the events API by the same backfill `leadpact backfill` runs), a plan and channel spend for each month
the demo leads span, and a few reps' disputes.

The figures are derived from the seeded leads themselves (a plan a little above the pace the leads show, a cost
per lead that differs by channel), so the pace, coverage, costs and win rates read like a real account's.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from integration.bootstrap import Services
from integration.db import session_scope
from integration.storage import leads as lead_store
from integration.storage import promos as promo_store
from sync.stats.periods import Period
from sync.stats.plans import SpendRow, import_spend, known_channels, set_plan

log = logging.getLogger(__name__)

WON_STATUS_ID = 142
# A plan 10 % above the leads' own pace: the demo's run rate reads "slightly behind", the usual meeting topic.
PLAN_STRETCH = 1.1
# Revenue is the stretch goal, planned further ahead, so the open pipeline's coverage of what is left stays a live
# question: at 10 % one big deal in a month's last days could meet the plan, leaving nothing to cover.
REVENUE_PLAN_STRETCH = 1.5
# What one lead costs per paid channel, in roubles (free channels — direct, referral — have no spend).
COST_PER_LEAD: dict[str, int] = {
    "yandex_direct": 1_900,
    "google_ads": 2_300,
    "vk": 1_100,
    "email": 250,
    "tiktok": 800,
}
# Reps' disputes the demo files on the newest leads of these levels: the report counts them, /admin lists them.
DEMO_DISPUTES: tuple[tuple[str, str, str], ...] = (
    ("hot", "level", "Клиент сказал, что решение не раньше следующего квартала — это не горячий лид."),
    ("cold", "level", "Бюджет подтверждён на звонке, ЛПР на связи — лид тёплый, а не холодный."),
    ("warm", "qualified", "Потребность описана партнёром, клиент её не подтвердил."),
)


@dataclass(frozen=True, slots=True)
class DemoFigures:
    plans: int
    spend_rows: int
    disputes: int


def _month_of(moment: int) -> Period:
    return Period.containing(datetime.fromtimestamp(moment, UTC))


def _scale_to_month(count: int, month: Period, today: date) -> float:
    """A month's count stretched to the whole month when the month is still running."""
    if month.end < today:
        return float(count)
    elapsed = (today - month.start).days + 1
    days = (month.end - month.start).days + 1
    return count * days / max(elapsed, 1)


def seed_plans_and_spend(
    *, engine: Engine, account_id: int, now: int, won_basis: str = "close_date"
) -> DemoFigures:
    """A plan per month the leads span and spend per paid channel and month; disputes on a few recent leads.

    Deals and revenue are planned on the basis the statistics count them by (`STATS_WON_BASIS`): by the month a
    deal closed, or by the month its lead came in. Planned on the other basis, a month's revenue could already
    exceed its plan, and the pipeline's coverage of the remaining plan would have nothing left to cover.
    """
    today = datetime.fromtimestamp(now, UTC).date()
    with session_scope(engine) as session:
        snapshots = list(
            session.exec(
                select(lead_store.LeadSnapshot).where(
                    lead_store.LeadSnapshot.account_id == account_id,
                    col(lead_store.LeadSnapshot.is_deleted).is_(False),
                )
            )
        )
        leads_per_month: Counter[Period] = Counter()
        qualified_per_month: Counter[Period] = Counter()
        won_per_month: Counter[Period] = Counter()
        revenue_per_month: Counter[Period] = Counter()
        per_channel: Counter[tuple[Period, str]] = Counter()
        for lead in snapshots:
            month = _month_of(lead.created_at)
            leads_per_month[month] += 1
            qualified_per_month[month] += bool(lead.qualified)
            if lead.channel:
                per_channel[(month, lead.channel)] += 1
            if lead.status_id == WON_STATUS_ID:
                deal_month = month if won_basis == "cohort" else _month_of(lead.closed_at or lead.updated_at)
                won_per_month[deal_month] += 1
                revenue_per_month[deal_month] += lead.price or 0
        plans = 0
        for month in sorted(leads_per_month):

            def planned(
                counter: Counter[Period], month: Period = month, stretch: float = PLAN_STRETCH
            ) -> int:
                return max(1, round(_scale_to_month(counter[month], month, today) * stretch))

            set_plan(
                session=session,
                account_id=account_id,
                period=month,
                figures={
                    "leads": planned(leads_per_month),
                    "qualified": planned(qualified_per_month),
                    "deals": planned(won_per_month),
                    "revenue": planned(revenue_per_month, stretch=REVENUE_PLAN_STRETCH),
                },
            )
            plans += 1
        channels = known_channels(session=session, account_id=account_id)
        rows = [
            SpendRow(
                line=index, period=month, channel=channel, amount=Decimal(count * COST_PER_LEAD[channel])
            )
            for index, ((month, channel), count) in enumerate(sorted(per_channel.items()), start=2)
            if channel in COST_PER_LEAD and channel in channels
        ]
        spend_rows = import_spend(session=session, account_id=account_id, rows=rows, known_channels=channels)
        disputes = _seed_disputes(session=session, account_id=account_id, snapshots=snapshots, now=now)
    return DemoFigures(plans=plans, spend_rows=spend_rows, disputes=disputes)


def _seed_disputes(
    *, session: Session, account_id: int, snapshots: list[lead_store.LeadSnapshot], now: int
) -> int:
    newest_first = sorted(snapshots, key=lambda lead: lead.created_at, reverse=True)
    filed = 0
    for offset, (level, criterion, reason) in enumerate(DEMO_DISPUTES):
        lead = next((s for s in newest_first if s.level == level), None)
        if lead is None:
            continue
        promo_store.add_dispute(
            session=session,
            account_id=account_id,
            lead_id=lead.lead_id,
            user_id=lead.responsible_user_id,
            reason=reason,
            # Spread over the last days so they fall into last week's meeting report as well as this week.
            now=now - (offset + 1) * 2 * 86400,
            snapshot=lead,
            criterion=criterion,
        )
        filed += 1
    return filed


# Of the leads that reached the contract stage in the last two weeks, the demo's sales team wins every other one:
# the meeting report then has won deals, win rates and managers' conversion for last week's leads.
RECENT_DAYS = 14
LOST_STATUS_ID = 143


async def close_recent_deals(services: Services, *, account_id: int, now: int) -> int:
    """The sales team's work in amoCRM: recent leads at the last open stage are won, each by its own manager,
    through the sandbox's edit-as-a-person route (the same status history and webhooks as a click in amoCRM)."""
    settings = services.settings
    api = services.connector.api_for(account_id)
    last_open_stage: dict[int, int] = {}
    for pipeline in await api.list_pipelines():
        open_statuses = [
            status
            for status in pipeline.embedded.statuses
            if status.id not in (WON_STATUS_ID, LOST_STATUS_ID) and status.sort is not None
        ]
        if open_statuses:
            last_open_stage[pipeline.id] = max(open_statuses, key=lambda status: status.sort or 0).id
    candidates = [
        lead
        async for lead in api.iter_leads(params={"filter[created_at][from]": now - RECENT_DAYS * 86400})
        if lead.pipeline_id is not None and lead.status_id == last_open_stage.get(lead.pipeline_id)
    ]
    winners = sorted(candidates, key=lambda lead: lead.id)[::2]
    by_manager: dict[int, list[dict[str, int]]] = {}
    for lead in winners:
        if lead.responsible_user_id is not None and lead.pipeline_id is not None:
            by_manager.setdefault(lead.responsible_user_id, []).append(
                {"id": lead.id, "status_id": WON_STATUS_ID, "pipeline_id": lead.pipeline_id}
            )
    for user_id, changes in by_manager.items():
        response = await services.http.patch(
            f"{settings.amocrm_base_url}/_sandbox/accounts/{account_id}/leads",
            params={"user_id": user_id},
            json=changes,
        )
        response.raise_for_status()
    return sum(len(changes) for changes in by_manager.values())


async def name_the_heads(services: Services, *, account_id: int) -> dict[str, int]:
    """The account's first user (the one `/demo/admin` signs in as) heads marketing, the second heads sales:
    rule versions then need both, as two real people."""
    from integration.storage import rulesets as ruleset_store

    users = sorted(await services.connector.api_for(account_id).list_users(), key=lambda user: user.id)
    heads = {"marketing": users[0], "sales": users[1]} if len(users) > 1 else {}
    with session_scope(services.engine) as session:
        for role, user in heads.items():
            ruleset_store.set_signers(
                session=session, account_id=account_id, role=role, users={user.id: str(user.name or user.id)}
            )
    return {role: user.id for role, user in heads.items()}


# The demo's hypothesis starts one of these many days ago, on the channel whose % qualified moved most since.
HYPOTHESIS_DAYS = (7, 10, 14, 21, 28)
DEMO_HYPOTHESIS = "Новый скрипт квалификации в канале {channel}: доля целевых должна {direction}."


def seed_hypothesis(*, engine: Engine, account_id: int, owner_id: int | None, now: int) -> int | None:
    """One open hypothesis with an effect the report can measure: among the channels and the start dates
    `HYPOTHESIS_DAYS` ago, the pair whose % qualified moved most clearly (Newcombe's interval furthest from 0),
    expected to move the way it did. None when the demo has no leads on both sides of any start."""
    from datetime import timedelta

    from integration.storage import hypotheses as hypothesis_store
    from rules.hypotheses import newcombe

    today = datetime.fromtimestamp(now, UTC).date()
    first = int(datetime.combine(today, datetime.min.time(), tzinfo=UTC).timestamp()) - 2 * 86400 * max(
        HYPOTHESIS_DAYS
    )
    with session_scope(engine) as session:
        leads = [
            (lead.channel, lead.created_at, bool(lead.qualified))
            for lead in session.exec(
                select(lead_store.LeadSnapshot).where(
                    lead_store.LeadSnapshot.account_id == account_id,
                    col(lead_store.LeadSnapshot.is_deleted).is_(False),
                    col(lead_store.LeadSnapshot.created_at) >= first,
                )
            )
            if lead.channel and lead.qualified is not None
        ]
        best: tuple[float, str, date, float] | None = None
        for days in HYPOTHESIS_DAYS:
            starts_on = today - timedelta(days=days)
            middle = int(datetime.combine(starts_on, datetime.min.time(), tzinfo=UTC).timestamp())
            low, high = middle - days * 86400, middle + days * 86400
            sides: dict[str, list[list[int]]] = {}
            for channel, created, qualified in leads:
                if low <= created < high:
                    side = sides.setdefault(channel, [[0, 0], [0, 0]])[int(created >= middle)]
                    side[0] += 1
                    side[1] += int(qualified)
            for channel, ((n0, x0), (n1, x1)) in sorted(sides.items()):
                if n0 and n1:
                    difference, lower, upper = newcombe(x1, n1, x0, n0)
                    strength = max(lower, -upper)  # > 0: the interval excludes 0
                    if best is None or strength > best[0]:
                        best = (strength, channel, starts_on, difference)
        if best is None:
            return None
        _, channel, starts_on, difference = best
        direction = "up" if difference >= 0 else "down"
        row = hypothesis_store.add_hypothesis(
            session=session,
            account_id=account_id,
            text=DEMO_HYPOTHESIS.format(
                channel=channel, direction="расти" if direction == "up" else "снизиться"
            ),
            owner_id=owner_id,
            metric="qualified_pct",
            direction=direction,
            channel=channel,
            starts_on=starts_on,
            now=now,
        )
        return row.id


# A channel needs this many leads in the week before the report judges it against the norm.
NORM_SAMPLE = 10


def agree_on_a_norm(*, engine: Engine, account_id: int, heads: dict[str, int], now: int) -> int | None:
    """The two heads agree on the norm of qualified leads through the real flow (propose, both sign, activate):
    the median share of last week's judged channels, rounded down to 5 % — some channels meet it, some do not.
    Returns the new version, or None when no channel had enough leads to judge."""
    from integration.storage import rulesets as ruleset_store
    from rules.form import FormValues, apply_form
    from sync.reports.weeks import last_full_week

    week = last_full_week(datetime.fromtimestamp(now, UTC).date())
    start = int(datetime.combine(week.start, datetime.min.time(), UTC).timestamp())
    end = int(datetime.combine(week.end, datetime.min.time(), UTC).timestamp()) + 86400
    with session_scope(engine) as session:
        leads = session.exec(
            select(lead_store.LeadSnapshot).where(
                lead_store.LeadSnapshot.account_id == account_id,
                col(lead_store.LeadSnapshot.created_at) >= start,
                col(lead_store.LeadSnapshot.created_at) < end,
                col(lead_store.LeadSnapshot.qualified).is_not(None),
            )
        ).all()
        totals: Counter[str] = Counter(lead.channel or "" for lead in leads)
        qualified: Counter[str] = Counter(lead.channel or "" for lead in leads if lead.qualified)
        shares = sorted(qualified[c] / n for c, n in totals.items() if c and n >= NORM_SAMPLE)
        if not shares or len(heads) < 2:
            return None
        norm = max(0.05, int(shares[len(shares) // 2] * 20) / 20)
        active = ruleset_store.active_version(session=session, account_id=account_id)
        text = ruleset_store.text_of(session=session, account_id=account_id, version=active)
        chosen = ruleset_store.signers(session=session, account_id=account_id)
        names = {role: next(iter(chosen[role].values())) for role in ("marketing", "sales")}
        version = ruleset_store.propose(
            session=session,
            account_id=account_id,
            text=apply_form(text, FormValues(qualified_share=norm)),
            author=names["marketing"],
            comment=f"Норма целевых {norm:.0%} — по фактическим каналам прошлой недели",
            mapping=ruleset_store.account_mapping(session=session, account_id=account_id),
            now=now,
        )
        for role in ("marketing", "sales"):
            ruleset_store.approve(
                session=session,
                account_id=account_id,
                version=version,
                approver=names[role],
                role=role,
                actor=f"amo-user-{heads[role]}",
                user_id=heads[role],
                now=now,
            )
        ruleset_store.activate(
            session=session, account_id=account_id, version=version, by=names["sales"], now=now
        )
    return version


async def seed_demo_figures(services: Services, *, account_id: int, now: int) -> DemoFigures:
    """Closes a few recent deals, loads the status history the sandbox keeps (the real backfill, over HTTP),
    then plans, spend and disputes."""
    import anyio

    from sync.stats.backfill import backfill_account

    heads = await name_the_heads(services, account_id=account_id)
    await close_recent_deals(services, account_id=account_id, now=now)
    api = services.connector.api_for(account_id)
    await backfill_account(
        api=api,
        engine=services.engine,
        account_id=account_id,
        since=None,
        own_client_id=services.settings.amocrm_client_id,
    )
    figures = await anyio.to_thread.run_sync(
        lambda: seed_plans_and_spend(
            engine=services.engine,
            account_id=account_id,
            now=now,
            won_basis=services.settings.stats_won_basis,
        )
    )
    await anyio.to_thread.run_sync(
        lambda: agree_on_a_norm(engine=services.engine, account_id=account_id, heads=heads, now=now)
    )
    await anyio.to_thread.run_sync(
        lambda: seed_hypothesis(
            engine=services.engine, account_id=account_id, owner_id=heads.get("marketing"), now=now
        )
    )
    return figures
