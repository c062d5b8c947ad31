"""Shared set-up for widget backend tests: an installed account, a classified lead with a promo, tokens."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import jwt
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy.engine import Engine

from integration.db import session_scope
from integration.settings import Settings
from integration.storage import accounts as account_store
from integration.storage import promos as promo_store
from integration.storage.leads import LeadSnapshot
from leadpact.admin.sign_in import widget_link_router
from leadpact.widget.api import router
from sync.promos.importing import parse_promo_file
from sync.promos.service import import_promos, promo_fields_for_lead

CLIENT_SECRET = "widget-test-client-secret-0123456789abcdef0123456789"
REDIRECT_URI = "https://leadpact.example.com/oauth/callback"
AUDIENCE = "https://leadpact.example.com"
ACCOUNT_ID = 29000001
SUBDOMAIN = "acme"
ACCOUNT_ORIGIN = "https://acme.amocrm.ru"
OTHER_ACCOUNT_ID = 29000002
OTHER_SUBDOMAIN = "rival"
LEAD_ID = 7001
OTHER_LEAD_ID = 7002
NOW = datetime(2026, 5, 10, 12, 0, tzinfo=UTC)
UNIX_NOW = int(NOW.timestamp())

PROMOS = (
    "key,name,description,condition,code,coupons,ends_on\n"
    'spring,Весна-2026,Скидка 10% на первый заказ,"utm_campaign == ""spring""",SPRING10,,2026-05-31\n'
    'vip,Персональный купон,Для горячих лидов,"level == ""hot""",,VIP-001 VIP-002,\n'
)


class Classification:
    channel = "ads"
    level = "hot"
    qualified = True


def lead_json(lead_id: int, contact_id: int = 501) -> dict[str, Any]:
    return {
        "id": lead_id,
        "status_id": 10,
        "pipeline_id": 1,
        "custom_fields_values": [
            {"field_code": "UTM_SOURCE", "values": [{"value": "yandex"}]},
            {"field_code": "UTM_CAMPAIGN", "values": [{"value": "spring"}]},
        ],
        "_embedded": {"contacts": [{"id": contact_id}]},
    }


def widget_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"amocrm_client_secret": SecretStr(CLIENT_SECRET), "amocrm_redirect_uri": REDIRECT_URI}
    )


def seed(engine: Engine, *, base_url: str = ACCOUNT_ORIGIN) -> None:
    """Two installed accounts, each with one classified lead; ours has both promos and an event attended."""
    with session_scope(engine) as session:
        for account_id, subdomain, url in (
            (ACCOUNT_ID, SUBDOMAIN, base_url),
            (OTHER_ACCOUNT_ID, OTHER_SUBDOMAIN, "https://rival.amocrm.ru"),
        ):
            account_store.upsert_account(
                session=session,
                account_id=account_id,
                subdomain=subdomain,
                base_url=url,
                language="ru",
                credential_kind="oauth",
                new_webhook_key=f"key-{account_id}",
            )
        for account_id, lead_id in ((ACCOUNT_ID, LEAD_ID), (OTHER_ACCOUNT_ID, OTHER_LEAD_ID)):
            session.add(
                LeadSnapshot(
                    account_id=account_id,
                    lead_id=lead_id,
                    name="Заявка с сайта",
                    status_id=10,
                    pipeline_id=1,
                    data=lead_json(lead_id),
                    channel="ads",
                    level="hot",
                    qualified=True,
                    reason="Бюджет ≥ 100 000 ₽ и ЛПР на связи",
                    rule_version=3,
                )
            )
        outcome = import_promos(
            session=session,
            account_id=ACCOUNT_ID,
            promo_file=parse_promo_file(PROMOS.encode(), filename="promos.csv"),
            now=UNIX_NOW,
        )
        assert outcome.ok
    promo_fields_for_lead(
        engine=engine,
        account_id=ACCOUNT_ID,
        lead_id=LEAD_ID,
        classification=Classification(),
        lead=lead_json(LEAD_ID),
        now=NOW,
    )
    with session_scope(engine) as session:
        promo_store.record_attendance(
            session=session,
            account_id=ACCOUNT_ID,
            contact_id=501,
            event_name="Выставка Expo-2026",
            event_date=NOW.date(),
            now=UNIX_NOW,
        )


def widget_app(settings: Settings, engine: Engine, *, clock: Any = None) -> FastAPI:
    app = FastAPI()
    app.include_router(router)
    app.include_router(widget_link_router)
    app.state.services = SimpleNamespace(settings=widget_settings(settings), engine=engine)
    app.state.widget_clock = clock or (lambda: float(UNIX_NOW))
    return app


def token(
    *,
    account_id: int = ACCOUNT_ID,
    subdomain: str = SUBDOMAIN,
    iss: str = ACCOUNT_ORIGIN,
    aud: str = AUDIENCE,
    secret: str = CLIENT_SECRET,
    issued: int = UNIX_NOW - 60,
    ttl: int = 1800,
    user_id: int = 11,
    is_admin: bool = False,
) -> str:
    claims = {
        "iss": iss,
        "aud": aud,
        "jti": "jti-1",
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl,
        "account_id": account_id,
        "subdomain": subdomain,
        "client_uuid": "client-uuid",
        "user_id": user_id,
        "is_admin": is_admin,
    }
    return jwt.encode(claims, secret, algorithm="HS256")
