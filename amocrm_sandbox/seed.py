"""Demo data for an account: managers, two pipelines, the demo lead fields, contacts, leads and their history.

The lead fields are the ones `docs/architecture.md` names, addressed by code: BUDGET (numeric), DECISION_MAKER
(checkbox), NEED (textarea), DECISION_DATE (date, unix seconds), PRODUCT (select), a plain text COMMENT and the
tracking_data fields UTM_SOURCE … REFERRER [doc], named in Russian like a real account. Leads come from several
channels (including an "experimental" TikTok source and direct traffic without UTM) in a cold/warm/hot mix,
created over the last ~60 days, each with its status history in the events list. The same seed gives the same
data. Seeding writes straight into the state: it fires no webhooks. `seed_realistic.py` seeds an account shaped
like one people set up by hand.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from itertools import pairwise

from amocrm_sandbox.accounts import new_pipeline, new_user
from amocrm_sandbox.contacts import new_contact_record
from amocrm_sandbox.custom_fields import new_field, normalise_field_values
from amocrm_sandbox.event_log import record_lead_added, record_note_added, record_status_change
from amocrm_sandbox.leads import new_lead_record
from amocrm_sandbox.records import link_contact
from amocrm_sandbox.state import LOST_STATUS_ID, WON_STATUS_ID, Account, Record, SandboxState
from amocrm_sandbox.tags import find_or_create_tag

DAY = 86400
MOSCOW_OFFSET = 3 * 3600  # the demo account's timezone (datetime_settings): Europe/Moscow, UTC+3, no DST


def moscow_midnight(moment: int) -> int:
    """Date fields hold the start of the day in the account's timezone."""
    return (moment + MOSCOW_OFFSET) // DAY * DAY - MOSCOW_OFFSET


MANAGERS = (
    ("Анна Смирнова", "anna"),
    ("Иван Петров", "ivan"),
    ("Мария Козлова", "maria"),
    ("Дмитрий Волков", "dmitry"),
    ("Елена Новикова", "elena"),
)
SECOND_PIPELINE = ("Повторные продажи", ("Новый запрос", "Предложение", "Согласование"))
PRODUCTS = ("CRM Старт", "CRM Про", "Внедрение", "Обучение")
LEAD_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("BUDGET", "Бюджет", "numeric"),
    ("DECISION_MAKER", "ЛПР", "checkbox"),
    ("NEED", "Потребность", "textarea"),
    ("DECISION_DATE", "Дата решения", "date"),
    ("PRODUCT", "Продукт", "select"),
    ("UTM_SOURCE", "utm_source", "tracking_data"),
    ("UTM_MEDIUM", "utm_medium", "tracking_data"),
    ("UTM_CAMPAIGN", "utm_campaign", "tracking_data"),
    ("UTM_CONTENT", "utm_content", "tracking_data"),
    ("UTM_TERM", "utm_term", "tracking_data"),
    ("REFERRER", "referrer", "tracking_data"),
    # A plain text field, as every real account has: clients that write one must find one [seen: #13].
    ("COMMENT", "Комментарий", "text"),
)
NEEDS = (
    "Нужна CRM для отдела продаж из 10 человек",
    "Автоматизировать обработку заявок с сайта",
    "Интеграция с телефонией и почтой",
    "Перейти с Excel на CRM до конца квартала",
    "Настроить воронку и отчёты для руководителя",
)
FIRST_NAMES = (
    "Алексей",
    "Ольга",
    "Сергей",
    "Наталья",
    "Павел",
    "Татьяна",
    "Андрей",
    "Юлия",
    "Михаил",
    "Ксения",
)
LAST_NAMES = ("Иванов", "Кузнецов", "Попов", "Соколов", "Лебедев", "Морозов", "Федоров", "Орлов", "Зайцев")
COMMENTS = (
    "Перезвонить после 15:00",
    "Просил прислать презентацию",
    "Сравнивает с конкурентами",
    "Нужен договор с отсрочкой",
)
COMPANIES = (
    "ООО «Ромашка»",
    "ИП Белов",
    "АО «Техносфера»",
    "ООО «Вектор»",
    "Студия «Пиксель»",
    "ООО «Агро+»",
)


@dataclass(frozen=True, slots=True)
class Channel:
    source: str | None
    medium: str | None
    campaign: str | None
    referrer: str | None
    weight: int


CHANNELS = (
    Channel("yandex", "cpc", "brand_search", "https://yandex.ru/", 26),
    Channel("google", "cpc", "generic_crm", "https://www.google.com/", 16),
    Channel("vk", "social", "retarget_autumn", "https://vk.com/", 14),
    Channel("newsletter", "email", "november_digest", None, 10),
    Channel("partner_blog", "referral", None, "https://partner-blog.example/crm-review", 10),
    Channel(None, None, None, None, 16),  # direct: no UTM at all
    Channel("tiktok", "social", "experiment_shorts", "https://www.tiktok.com/", 8),
)


@dataclass(frozen=True, slots=True)
class SeedSummary:
    account_id: int
    leads: int
    contacts: int
    managers: int
    pipelines: int


def _ensure_setup(state: SandboxState, account: Account) -> None:
    have = {user["email"] for user in account.users.values()}
    for name, login in MANAGERS:
        email = f"{login}@{account.subdomain}.example"
        if email not in have:
            new_user(state, account, name, email, is_admin=False)
    if len(account.pipelines) < 2:
        new_pipeline(state, account, SECOND_PIPELINE[0], SECOND_PIPELINE[1], is_main=False)
    codes = {field["code"] for field in account.fields_of("leads").values()}
    for sort, (code, name, field_type) in enumerate(LEAD_FIELDS):
        if code not in codes:
            enums = [{"value": p, "sort": 10 * (i + 1)} for i, p in enumerate(PRODUCTS)]
            new_field(
                ids=state.ids,
                account=account,
                entity="leads",
                name=name,
                field_type=field_type,
                code=code,
                sort=10 * (sort + 1),
                enums=enums if field_type == "select" else None,
            )


def phone_number(rng: random.Random) -> str:
    digits = f"9{rng.randint(0, 99):02d}{rng.randint(0, 9999999):07d}"
    return f"+7 {digits[:3]} {digits[3:6]}-{digits[6:8]}-{digits[8:]}"


def _values(account: Account, values: dict[str, object]) -> list[Record] | None:
    payload = []
    for code, value in values.items():
        if value is None:
            continue
        item = {"enum_id": value} if code == "PRODUCT" else {"value": value}
        payload.append({"field_code": code, "values": [item]})
    normalised, errors = normalise_field_values(account.fields_of("leads"), payload)
    assert not errors, errors
    return normalised or None


def status_for(rng: random.Random, pipeline: Record, age_days: float) -> int:
    # Open stages only: not won/lost, and not the "unsorted" inbox (type 1) that only incoming requests use.
    statuses: list[int] = [
        s["id"]
        for s in pipeline["_embedded"]["statuses"]
        if s["type"] == 0 and s["id"] not in (WON_STATUS_ID, LOST_STATUS_ID)
    ]
    roll = rng.random()
    if age_days > 14 and roll < 0.18:
        return WON_STATUS_ID
    if age_days > 10 and roll < 0.36:
        return LOST_STATUS_ID
    return rng.choice(statuses)


def seed_status_history(state: SandboxState, account: Account, lead: Record, rng: random.Random) -> None:
    """The events a lead's life left behind: `lead_added`, then one move per stage up to where it is now."""
    pipeline = account.pipelines[lead["pipeline_id"]]
    stages: list[int] = [
        s["id"]
        for s in pipeline["_embedded"]["statuses"]
        if s["type"] == 0 and s["id"] not in (WON_STATUS_ID, LOST_STATUS_ID)
    ]
    current = lead["status_id"]
    if current in stages:
        path = stages[: stages.index(current) + 1]
    else:
        path = [*stages[: rng.randint(1, len(stages))], current]
    author = lead["responsible_user_id"]
    record_lead_added(state, account, lead, user_id=author, at=lead["created_at"])
    seed_first_call(state, account, lead)
    span = max(0, lead["updated_at"] - lead["created_at"])
    for step, (old, new) in enumerate(pairwise(path), start=1):
        at = lead["created_at"] + span * step // (len(path) - 1)
        record_status_change(
            state,
            account,
            lead_id=lead["id"],
            before=(old, pipeline["id"]),
            after=(new, pipeline["id"]),
            user_id=author,
            at=at,
        )


# A seeded manager's typical wait before the first call on a new lead, in minutes (by user id, in turn): one
# answers within the quarter hour, one within a couple of hours, one by the next morning.
FIRST_CALL_MINUTES = (12.0, 90.0, 600.0)
UNTOUCHED_SHARE = 0.12


def seed_first_call(state: SandboxState, account: Account, lead: Record) -> None:
    """The responsible manager's first call on the lead, as a call note (so the events list shows it), a
    manager-typical while after creation; about one lead in eight gets none. Its own random stream (from the
    lead id), so the rest of a seeded account is the same with or without it."""
    rng = random.Random(lead["id"])
    if rng.random() < UNTOUCHED_SHARE:
        return
    author = lead["responsible_user_id"]
    typical = FIRST_CALL_MINUTES[author % len(FIRST_CALL_MINUTES)]
    at = lead["created_at"] + int(60 * rng.lognormvariate(0.0, 0.6) * typical)
    if at > state.now():
        return
    note_id = state.ids.take("note")
    note: Record = {
        "id": note_id,
        "entity_id": lead["id"],
        "entity_type": "leads",
        "created_by": author,
        "updated_by": author,
        "created_at": at,
        "updated_at": at,
        "responsible_user_id": author,
        "group_id": 0,
        "note_type": "call_out",
        "params": {"uniq": f"seed-{lead['id']}", "duration": 60 + int(240 * rng.random()), "phone": ""},
        "account_id": account.id,
        "_links": {"self": {"href": f"/api/v4/leads/{lead['id']}/notes/{note_id}"}},
    }
    account.notes[note_id] = note
    record_note_added(state, account, note)


def order_event_log(account: Account) -> None:
    """Seeded histories are written lead by lead: put the events list back in time order."""
    account.event_log.sort(key=lambda event: event["created_at"])


def seed_account(
    state: SandboxState, account: Account, *, leads: int, seed: int | None = None
) -> SeedSummary:
    seed_value = state.config.random_seed if seed is None else seed
    rng = random.Random(seed_value)
    # Comments and histories draw from their own stream, so the leads stay those earlier seeds gave.
    extras = random.Random(f"{seed_value}-extras")
    _ensure_setup(state, account)
    now = state.now()
    managers = [uid for uid, user in account.users.items() if not user["rights"]["is_admin"]] or [
        account.first_user_id
    ]
    pipelines = list(account.pipelines.values())
    product_enums = [
        e["id"] for f in account.fields_of("leads").values() if f["code"] == "PRODUCT" for e in f["enums"]
    ]
    vip = find_or_create_tag(state, account, "leads", "VIP")
    repeat = find_or_create_tag(state, account, "leads", "повторный")
    created_times = sorted(now - int(rng.uniform(0.02, 60) * DAY) for _ in range(leads))
    contacts_before = len(account.contacts)
    for created_at in created_times:
        channel = rng.choices(CHANNELS, weights=[c.weight for c in CHANNELS])[0]
        manager = rng.choice(managers)
        pipeline = pipelines[0] if rng.random() < 0.8 else rng.choice(pipelines)
        age_days = (now - created_at) / DAY
        level = rng.choices(("cold", "warm", "hot"), weights=(35, 35, 30))[0]
        budget = rng.choice((30_000, 50_000, 120_000, 250_000, 600_000, 1_500_000))
        decision_date = None
        if level == "hot":
            # Most hot leads decide within six months; some later, so rules can tell the two apart.
            horizon_days = rng.uniform(7, 170) if rng.random() < 0.75 else rng.uniform(200, 400)
            decision_date = moscow_midnight(created_at + int(horizon_days * DAY))
        values: dict[str, object] = {
            "UTM_SOURCE": channel.source,
            "UTM_MEDIUM": channel.medium,
            "UTM_CAMPAIGN": channel.campaign,
            "UTM_CONTENT": f"ad_{rng.randint(1, 9)}" if channel.campaign and rng.random() < 0.5 else None,
            "UTM_TERM": "crm для бизнеса" if channel.medium == "cpc" else None,
            "REFERRER": channel.referrer,
        }
        if level != "cold":
            values.update(NEED=rng.choice(NEEDS), BUDGET=budget, PRODUCT=rng.choice(product_enums))
        if level == "hot":
            values.update(DECISION_DATE=decision_date, DECISION_MAKER=rng.random() < 0.8)
        lead = new_lead_record(account, manager, created_at)
        lead["id"] = state.ids.take("lead")
        lead["name"] = f"{rng.choice(COMPANIES)}: заявка #{lead['id']}"
        lead["price"] = budget if level != "cold" else 0
        lead["pipeline_id"] = pipeline["id"]
        lead["status_id"] = status_for(rng, pipeline, age_days)
        lead["updated_at"] = min(now, created_at + int(rng.uniform(0, 5) * DAY))
        if lead["status_id"] in (WON_STATUS_ID, LOST_STATUS_ID):
            lead["closed_at"] = lead["updated_at"]
        if extras.random() < 0.3:
            values["COMMENT"] = extras.choice(COMMENTS)
        lead["custom_fields_values"] = _values(account, values)
        if rng.random() < 0.08:
            lead["_embedded"]["tags"].append(dict(vip))
        if pipeline is not pipelines[0] and rng.random() < 0.5:
            lead["_embedded"]["tags"].append(dict(repeat))
        account.leads[lead["id"]] = lead
        seed_status_history(state, account, lead, extras)
        contact = new_contact_record(account, manager, created_at)
        contact["id"] = state.ids.take("contact")
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        contact.update(name=f"{first} {last}", first_name=first, last_name=last)
        translit = f"client{contact['id']}"
        contact["custom_fields_values"], errors = normalise_field_values(
            account.fields_of("contacts"),
            [
                {"field_code": "PHONE", "values": [{"value": phone_number(rng), "enum_code": "WORK"}]},
                {"field_code": "EMAIL", "values": [{"value": f"{translit}@example.ru", "enum_code": "WORK"}]},
            ],
        )
        assert not errors, errors
        account.contacts[contact["id"]] = contact
        link_contact(account, lead, contact["id"], True)
    order_event_log(account)
    return SeedSummary(
        account_id=account.id,
        leads=leads,
        contacts=len(account.contacts) - contacts_before,
        managers=len(account.users),
        pipelines=len(account.pipelines),
    )
