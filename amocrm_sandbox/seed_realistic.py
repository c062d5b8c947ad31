"""An account shaped like one people set up by hand, to test what the coded demo account cannot.

Lead fields people create have no `code` [seen: ../shared/docs/amocrm.md, "What real accounts look like"], so
every BANT-like field here is found only by name, type and enums: «Бюджет клиента» (numeric), «ЛПР» (a select
with Да/Нет, not a checkbox), «Потребность» (textarea), «Дата принятия решения» (date), «Продукт» (select),
plus plain text «Комментарий» and «Город», a url «Сайт компании» and a distracting select «Тип клиента».
Only the tracking_data fields carry codes (UTM_* , REFERRER, GCLID, YCLID, _YM_UID), as in every account [doc].
Pipelines, stages and users have Russian names. Leads are filled as people fill them: about a third completely
(budget, ЛПР = Да, a decision date within six months), others partly or late, about a third not at all. Each lead
has its status history in the events list. The same seed gives the same data; nothing fires webhooks.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from amocrm_sandbox.accounts import new_pipeline, new_user
from amocrm_sandbox.contacts import new_contact_record
from amocrm_sandbox.custom_fields import new_field, normalise_field_values
from amocrm_sandbox.leads import new_lead_record
from amocrm_sandbox.records import link_contact
from amocrm_sandbox.seed import (
    CHANNELS,
    DAY,
    FIRST_NAMES,
    LAST_NAMES,
    SeedSummary,
    moscow_midnight,
    order_event_log,
    phone_number,
    seed_status_history,
    status_for,
)
from amocrm_sandbox.state import LOST_STATUS_ID, WON_STATUS_ID, Account, Record, SandboxState
from amocrm_sandbox.tags import find_or_create_tag

REALISTIC_SUBDOMAIN = "realistic"
REALISTIC_NAME = "ООО «Северный ветер»"

MANAGERS = (
    ("Сергей Малинин", "malinin"),
    ("Алёна Ткачёва", "tkacheva"),
    ("Руслан Гарипов", "garipov"),
    ("Виктория Лебедь", "lebed"),
)
MAIN_PIPELINE = ("Продажи", ("Новая заявка", "Квалификация", "КП отправлено", "Договор на подписании"))
SECOND_PIPELINE = ("Тендеры", ("Заявка на тендер", "Подготовка документов", "Подано"))
YES, NO = "Да", "Нет"
PRODUCTS = ("CRM Старт", "CRM Про", "Внедрение под ключ", "Обучение менеджеров")
CLIENT_TYPES = ("Новый", "Повторный")
CITIES = ("Москва", "Санкт-Петербург", "Казань", "Екатеринбург", "Новосибирск", "Краснодар")
NEEDS = (
    "Хотят CRM для отдела продаж, 12 менеджеров",
    "Заявки теряются между почтой и мессенджерами",
    "Нужна интеграция с 1С и телефонией",
    "Руководитель хочет видеть воронку по менеджерам",
)
COMMENTS = (
    "Не дозвонились, написали в WhatsApp",
    "Просили перезвонить в понедельник",
    "Бюджет согласуют с финдиректором",
    "Смотрят ещё Битрикс24",
)
COMPANIES = (
    "ООО «Альфа-Строй»",
    "ИП Гусева",
    "ООО «ТрансЛогистик»",
    "АО «Уралмаш-Сервис»",
    "Клиника «Здоровье+»",
    "ООО «Пекарня №1»",
)


@dataclass(frozen=True, slots=True)
class LeadFieldSpec:
    name: str
    field_type: str
    enums: tuple[str, ...] = ()
    code: str | None = None


# Fields people made (no code) and the tracking fields every account has (with codes).
LEAD_FIELDS = (
    LeadFieldSpec("Бюджет клиента", "numeric"),
    LeadFieldSpec("ЛПР", "select", (YES, NO)),
    LeadFieldSpec("Потребность", "textarea"),
    LeadFieldSpec("Дата принятия решения", "date"),
    LeadFieldSpec("Продукт", "select", PRODUCTS),
    LeadFieldSpec("Тип клиента", "select", CLIENT_TYPES),
    LeadFieldSpec("Комментарий", "text"),
    LeadFieldSpec("Город", "text"),
    LeadFieldSpec("Сайт компании", "url"),
    LeadFieldSpec("utm_source", "tracking_data", code="UTM_SOURCE"),
    LeadFieldSpec("utm_medium", "tracking_data", code="UTM_MEDIUM"),
    LeadFieldSpec("utm_campaign", "tracking_data", code="UTM_CAMPAIGN"),
    LeadFieldSpec("utm_content", "tracking_data", code="UTM_CONTENT"),
    LeadFieldSpec("utm_term", "tracking_data", code="UTM_TERM"),
    LeadFieldSpec("referrer", "tracking_data", code="REFERRER"),
    LeadFieldSpec("gclid", "tracking_data", code="GCLID"),
    LeadFieldSpec("yclid", "tracking_data", code="YCLID"),
    LeadFieldSpec("_ym_uid", "tracking_data", code="_YM_UID"),
)


def _ensure_setup(state: SandboxState, account: Account) -> dict[str, Record]:
    """Users, pipelines and fields; the lead fields by name."""
    have = {user["email"] for user in account.users.values()}
    for name, login in MANAGERS:
        email = f"{login}@{account.subdomain}.example"
        if email not in have:
            new_user(state, account, name, email, is_admin=False)
    main = account.main_pipeline()
    if main["name"] == "Воронка":
        # Everyone renames the default pipeline and its stages first.
        main["name"] = MAIN_PIPELINE[0]
        stages = [s for s in main["_embedded"]["statuses"] if s["type"] == 0 and s["is_editable"]]
        for status, title in zip(stages, MAIN_PIPELINE[1], strict=False):
            status["name"] = title
    if all(p["name"] != SECOND_PIPELINE[0] for p in account.pipelines.values()):
        new_pipeline(state, account, SECOND_PIPELINE[0], SECOND_PIPELINE[1], is_main=False)
    by_name = {field["name"]: field for field in account.fields_of("leads").values()}
    for sort, spec in enumerate(LEAD_FIELDS):
        if spec.name not in by_name:
            by_name[spec.name] = new_field(
                ids=state.ids,
                account=account,
                entity="leads",
                name=spec.name,
                field_type=spec.field_type,
                code=spec.code,
                sort=10 * (sort + 1),
                enums=[{"value": value, "sort": 10 * (i + 1)} for i, value in enumerate(spec.enums)] or None,
            )
    return by_name


def _values(account: Account, fields: dict[str, Record], values: dict[str, object]) -> list[Record] | None:
    """Field values by field name, written by id as a person's edit would be."""
    payload = []
    for name, value in values.items():
        if value is None:
            continue
        field = fields[name]
        if field["enums"]:
            enum_id = next(e["id"] for e in field["enums"] if e["value"] == value)
            payload.append({"field_id": field["id"], "values": [{"enum_id": enum_id}]})
        else:
            payload.append({"field_id": field["id"], "values": [{"value": value}]})
    normalised, errors = normalise_field_values(account.fields_of("leads"), payload)
    assert not errors, errors
    return normalised or None


def _filled_fields(rng: random.Random, now: int) -> dict[str, object]:
    """What a person typed into the lead card: all of it, part of it or nothing."""
    budget = rng.choice((80_000, 150_000, 240_000, 450_000, 900_000, 1_800_000))
    profile = rng.choices(("complete", "late", "partial", "empty"), weights=(32, 8, 30, 30))[0]
    values: dict[str, object] = {}
    if profile in ("complete", "late"):
        horizon = rng.uniform(7, 170) if profile == "complete" else rng.uniform(200, 400)
        values.update(
            {
                "Бюджет клиента": budget,
                "ЛПР": YES,
                "Дата принятия решения": moscow_midnight(now + int(horizon * DAY)),
                "Потребность": rng.choice(NEEDS),
                "Продукт": rng.choice(PRODUCTS) if rng.random() < 0.8 else None,
            }
        )
    elif profile == "partial":
        values.update(
            {
                "Бюджет клиента": budget if rng.random() < 0.5 else None,
                "ЛПР": rng.choices((YES, NO, None), weights=(2, 5, 3))[0],
                "Потребность": rng.choice(NEEDS) if rng.random() < 0.5 else None,
                "Продукт": rng.choice(PRODUCTS) if rng.random() < 0.4 else None,
                # A date people typed and let pass: the decision was expected already.
                "Дата принятия решения": (
                    moscow_midnight(now - int(rng.uniform(3, 40) * DAY)) if rng.random() < 0.25 else None
                ),
            }
        )
    values["Тип клиента"] = rng.choice(CLIENT_TYPES) if rng.random() < 0.4 else None
    values["Комментарий"] = rng.choice(COMMENTS) if rng.random() < 0.35 else None
    values["Город"] = rng.choice(CITIES) if rng.random() < 0.5 else None
    values["Сайт компании"] = f"https://site{rng.randint(1, 999)}.example.ru" if rng.random() < 0.2 else None
    return values


def seed_realistic_account(
    state: SandboxState, account: Account, *, leads: int, seed: int | None = None
) -> SeedSummary:
    rng = random.Random(state.config.random_seed if seed is None else seed)
    fields = _ensure_setup(state, account)
    now = state.now()
    managers = [uid for uid, user in account.users.items() if not user["rights"]["is_admin"]] or [
        account.first_user_id
    ]
    pipelines = list(account.pipelines.values())
    repeat = find_or_create_tag(state, account, "leads", "повторный")
    site = find_or_create_tag(state, account, "leads", "заявка с сайта")
    contacts_before = len(account.contacts)
    for created_at in sorted(now - int(rng.uniform(0.02, 60) * DAY) for _ in range(leads)):
        channel = rng.choices(CHANNELS, weights=[c.weight for c in CHANNELS])[0]
        manager = rng.choice(managers)
        pipeline = pipelines[0] if rng.random() < 0.85 else rng.choice(pipelines)
        values = _filled_fields(rng, now)
        values.update(
            {
                "utm_source": channel.source,
                "utm_medium": channel.medium,
                "utm_campaign": channel.campaign,
                "utm_term": "crm для бизнеса" if channel.medium == "cpc" else None,
                "referrer": channel.referrer,
                "yclid": str(rng.randint(10**15, 10**16)) if channel.source == "yandex" else None,
                "gclid": f"Cj0K{rng.randint(10**8, 10**9)}" if channel.source == "google" else None,
                "_ym_uid": str(rng.randint(10**15, 10**16)) if channel.referrer else None,
            }
        )
        lead = new_lead_record(account, manager, created_at)
        lead["id"] = state.ids.take("lead")
        company = rng.choice(COMPANIES)
        lead["name"] = rng.choice((f"Сделка #{lead['id']}", company, f"{company} — заявка с сайта"))
        budget = values.get("Бюджет клиента")
        # People often type the budget into the lead's own «Бюджет» (price) too, sometimes only there.
        lead["price"] = budget if isinstance(budget, int) and rng.random() < 0.6 else 0
        lead["pipeline_id"] = pipeline["id"]
        lead["status_id"] = status_for(rng, pipeline, (now - created_at) / DAY)
        lead["updated_at"] = min(now, created_at + int(rng.uniform(0, 7) * DAY))
        if lead["status_id"] in (WON_STATUS_ID, LOST_STATUS_ID):
            lead["closed_at"] = lead["updated_at"]
        lead["custom_fields_values"] = _values(account, fields, values)
        if channel.referrer and rng.random() < 0.5:
            lead["_embedded"]["tags"].append(dict(site))
        if values["Тип клиента"] == "Повторный":
            lead["_embedded"]["tags"].append(dict(repeat))
        account.leads[lead["id"]] = lead
        seed_status_history(state, account, lead, rng)
        contact = new_contact_record(account, manager, created_at)
        contact["id"] = state.ids.take("contact")
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        contact.update(name=f"{first} {last}", first_name=first, last_name=last)
        contact["custom_fields_values"], errors = normalise_field_values(
            account.fields_of("contacts"),
            [{"field_code": "PHONE", "values": [{"value": phone_number(rng), "enum_code": "MOB"}]}],
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
