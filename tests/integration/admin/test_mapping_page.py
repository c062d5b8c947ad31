"""`/admin/mapping` over HTTP: the proposal preselected with fill rates over stored leads, a field that cannot
play a role refused with nothing stored, the overview's warning, and nothing of another account shown."""

from __future__ import annotations

import html
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from integration.db import session_scope
from integration.settings import Settings
from integration.storage import field_mapping as mapping_store
from integration.storage import rulesets as ruleset_store
from integration.storage.leads import LeadSnapshot
from rules import FieldCatalog, propose_mapping
from tests.integration.admin.support import (
    ACCOUNT_ID,
    OTHER_ACCOUNT_ID,
    admin_client,
    admin_server,
    admin_settings,
    csrf_of,
    install_accounts,
    sign_in,
)

CATALOG = FieldCatalog.from_amocrm(
    [
        {"id": 11, "name": "Бюджет клиента", "type": "numeric"},
        {
            "id": 12,
            "name": "ЛПР",
            "type": "select",
            "enums": [{"id": 1, "value": "Да"}, {"id": 2, "value": "Нет"}],
        },
        {"id": 13, "name": "Потребность", "type": "textarea"},
        {"id": 21, "name": "utm_source", "type": "tracking_data", "code": "UTM_SOURCE"},
    ]
)
RIVAL_CATALOG = FieldCatalog.from_amocrm([{"id": 99, "name": "Бюджет конкурента", "type": "numeric"}])


@pytest.fixture
def configured(settings: Settings, engine: Engine) -> Settings:
    configured = admin_settings(settings)
    install_accounts(configured)
    with session_scope(engine) as session:
        for account_id, catalog in ((ACCOUNT_ID, CATALOG), (OTHER_ACCOUNT_ID, RIVAL_CATALOG)):
            mapping_store.save_proposal(
                session=session, account_id=account_id, proposal=propose_mapping(catalog), catalog=catalog
            )
        for lead_id, budget in ((1, 300000), (2, None), (3, None), (4, 50000)):
            values = [{"field_id": 11, "values": [{"value": budget}]}] if budget is not None else []
            session.add(
                LeadSnapshot(
                    account_id=ACCOUNT_ID,
                    lead_id=lead_id,
                    name=f"Lead {lead_id}",
                    updated_at=lead_id,
                    data={"id": lead_id, "custom_fields_values": values},
                )
            )
    return configured


@pytest.fixture
def signed_in(configured: Settings) -> Iterator[httpx.Client]:
    with admin_server(configured) as url, admin_client(configured, url) as client:
        sign_in(client)
        yield client


class TestMappingPage:
    def test_proposal_is_preselected_with_fill_rates(self, signed_in: httpx.Client) -> None:
        """«Бюджет клиента» is preselected for the budget and shows it is filled in 2 of 4 stored leads."""
        page = signed_in.get("/admin/mapping", params={"lang": "en"})
        assert page.status_code == 200
        assert (
            '<option value="11" selected>Бюджет клиента (numeric) — filled in 50 % of leads</option>'
            in page.text
        )
        assert "found by name" in page.text and "found by code" in page.text
        assert "Бюджет конкурента" not in page.text  # another account's field

    def test_a_field_that_cannot_play_the_role_is_refused_and_nothing_stored(
        self, signed_in: httpx.Client, engine: Engine
    ) -> None:
        """Posting the text field «Потребность» as the budget answers 422 with the reason; no draft appears."""
        csrf = csrf_of(signed_in, "/admin/mapping")
        page = signed_in.post(
            "/admin/mapping?lang=en", data={"csrf_token": csrf, "role_budget": "13", "role_need": "13"}
        )
        assert page.status_code == 422
        assert "Field #13 cannot play the role “budget”." in page.text
        with session_scope(engine) as session:
            assert ruleset_store.history(session=session, account_id=ACCOUNT_ID) == []

    def test_posting_without_the_csrf_token_is_refused(self, signed_in: httpx.Client) -> None:
        """A mapping change without the page's CSRF token is a 403 and stores nothing."""
        assert signed_in.post("/admin/mapping", data={"role_budget": "11"}).status_code == 403

    @pytest.mark.parametrize(
        ("lang", "warning"),
        [
            (
                "en",
                "The running rules read roles no field of the account is mapped to: budget, decision maker",
            ),
            ("ru", "Действующие правила читают роли, которым не сопоставлено поле аккаунта: бюджет, ЛПР"),
        ],
    )
    def test_overview_warns_about_roles_without_a_field(
        self, signed_in: httpx.Client, lang: str, warning: str
    ) -> None:
        """Until the admin confirms the names found, the overview says which roles have no field."""
        page = signed_in.get("/admin", params={"lang": lang})
        assert warning in page.text


class TestRoleFieldsInTheFormEditor:
    """The rule form also picks the field each role uses: from the account's fields, the running choice
    preselected; a change shows in the diff, drives the preview, and goes with the proposal."""

    def test_the_form_offers_the_accounts_fields_per_role(self, signed_in: httpx.Client) -> None:
        page = signed_in.get("/admin/rules/form", params={"lang": "en"})
        assert page.status_code == 200
        assert '<select id="role_budget" name="role_budget">' in page.text
        assert '<option value="11" selected>Бюджет клиента (numeric)' in page.text
        assert "Бюджет конкурента" not in page.text

    def test_a_changed_role_shows_in_the_diff_and_goes_with_the_proposal(
        self, signed_in: httpx.Client, engine: Engine
    ) -> None:
        """Unmapping the budget (back to looking it up by code) is one diff line; proposing stores a draft whose
        mapping has no budget and keeps the other roles."""
        from integration.storage.rulesets import RuleVersion

        csrf = csrf_of(signed_in, "/admin/rules/form")
        chosen = {"role_budget": "", "role_decision_maker": "12", "role_need": "13", "role_utm_source": "21"}
        preview = signed_in.post(
            "/admin/rules/form?lang=en", data={"csrf_token": csrf, "roles_sent": "1", **chosen}
        )
        assert preview.status_code == 200, preview.text[-500:]
        assert "~ field for the role “Budget”: Бюджет клиента → —" in preview.text
        assert '<input type="hidden" name="role_need" value="13">' in preview.text
        assert 'name="role_budget"' not in preview.text.split('id="preview"')[1]
        text = preview.text.split('name="text" value="')[1].split('">')[0]
        proposed = signed_in.post(
            "/admin/rules/propose?lang=en",
            data={
                "csrf_token": csrf,
                "text": html.unescape(text),
                "roles_sent": "1",
                "role_decision_maker": "12",
                "role_need": "13",
                "role_utm_source": "21",
            },
            follow_redirects=False,
        )
        assert proposed.status_code == 303
        with session_scope(engine) as session:
            draft = session.exec(select(RuleVersion).where(RuleVersion.account_id == ACCOUNT_ID)).one()
        assert draft.mapping is not None
        assert set(draft.mapping) == {"decision_maker", "need", "utm_source"}

    def test_a_field_that_cannot_play_the_role_cannot_be_proposed(self, signed_in: httpx.Client) -> None:
        csrf = csrf_of(signed_in, "/admin/rules/form")
        page = signed_in.post(
            "/admin/rules/form?lang=en",
            data={"csrf_token": csrf, "roles_sent": "1", "role_budget": "13", "role_need": "13"},
        )
        assert page.status_code == 422
        assert "Field #13 cannot play the role “budget”." in page.text
        assert 'id="propose"' not in page.text
