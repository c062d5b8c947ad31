"""`leadpact rules check --account HOST` and activation against an account's field mapping: a role the rules
read with no field of the account behind it is named, and activation is refused unless in an emergency."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from integration.db import session_scope
from integration.storage import accounts as account_store
from integration.storage import field_mapping as mapping_store
from integration.storage import rulesets
from leadpact.cli.rules import app
from rules import FieldCatalog, default_rules_text, propose_mapping

runner = CliRunner()
ACCOUNT = 5151
HOST = "realco.amocrm.ru"

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
        {"id": 14, "name": "Дата принятия решения", "type": "date"},
        {"id": 15, "name": "Продукт", "type": "select", "enums": [{"id": 3, "value": "CRM"}]},
        {"id": 21, "name": "utm_source", "type": "tracking_data", "code": "UTM_SOURCE"},
        {"id": 22, "name": "utm_medium", "type": "tracking_data", "code": "UTM_MEDIUM"},
    ]
)


@pytest.fixture
def installed(engine: Engine, database_url: str) -> dict[str, str]:
    """An installed account whose install proposed a mapping (the UTM fields by code, the rest by name)."""
    with session_scope(engine) as session:
        account_store.upsert_account(
            session=session,
            account_id=ACCOUNT,
            subdomain="realco",
            base_url=f"https://{HOST}",
            language="ru",
            credential_kind="oauth",
            new_webhook_key="key-realco",
        )
        mapping_store.save_proposal(
            session=session, account_id=ACCOUNT, proposal=propose_mapping(CATALOG), catalog=CATALOG
        )
    return {"DATABASE_URL": database_url}


def invoke(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env=env)
    return result.exit_code, result.output


class TestCheckOnAccount:
    @pytest.mark.parametrize(
        ("lang", "expected"),
        [
            (
                "en",
                "role 'budget' (budget) is used by the rules (criterion:budget) but no field of the account is mapped",
            ),
            (
                "ru",
                "роль «budget» (бюджет) используется в правилах (criterion:budget), но поле аккаунта не сопоставлено",
            ),
        ],
    )
    def test_unconfirmed_roles_are_named_and_exit_1(
        self, installed: dict[str, str], lang: str, expected: str
    ) -> None:
        """Before an admin confirms the mapping, the roles found only by name are not mapped: check says which."""
        code, output = invoke(installed, "check", "--account", HOST, "--lang", lang)
        assert code == 1
        assert expected in output
        assert "product" in output  # read by the "warm" level rule

    def test_a_confirmed_mapping_passes(
        self, installed: dict[str, str], engine: Engine, tmp_path: Path
    ) -> None:
        """With every role the rules read mapped and signed off, the same check exits 0."""
        mapping = {role: p.field for role, p in propose_mapping(CATALOG).items()}
        with session_scope(engine) as session:
            version = rulesets.propose(
                session=session, account_id=ACCOUNT, text=default_rules_text(), author="anna", mapping=mapping
            )
            rulesets.approve(
                session=session, account_id=ACCOUNT, version=version, approver="anna", role="marketing"
            )
            rulesets.approve(
                session=session, account_id=ACCOUNT, version=version, approver="boris", role="sales"
            )
            rulesets.activate(session=session, account_id=ACCOUNT, version=version, by="anna")
        code, output = invoke(installed, "check", "--account", "realco", "--lang", "en")
        assert code == 0, output

    def test_an_unknown_account_is_a_clear_error(self, installed: dict[str, str]) -> None:
        """A host that is not installed is said so, with exit 1."""
        code, output = invoke(installed, "check", "--account", "nobody.amocrm.ru", "--lang", "en")
        assert code == 1 and "not installed" in output


class TestActivation:
    @pytest.mark.parametrize(("lang", "word"), [("en", "not activated"), ("ru", "не активирована")])
    def test_activation_with_an_unmapped_role_is_refused_unless_emergency(
        self, installed: dict[str, str], lang: str, word: str, tmp_path: Path
    ) -> None:
        """Signed-off rules that read the budget are refused while the budget has no field; --emergency passes."""
        pack = tmp_path / "pack.yaml"
        pack.write_text(default_rules_text().replace("min_met: 3", "min_met: 2"), encoding="utf-8")
        env = installed
        assert invoke(env, "propose", str(pack), "-a", str(ACCOUNT), "--author", "anna")[0] == 0
        # Two heads, each from their own login (one operator may not sign for both departments).
        for approver, role in (("anna", "marketing"), ("boris", "sales")):
            as_them = env | {"LOGNAME": approver, "USER": approver}
            code, output = invoke(
                as_them, "approve", "1", "-a", str(ACCOUNT), "--approver", approver, "--role", role
            )
            assert code == 0, output
        code, output = invoke(env, "activate", "1", "-a", str(ACCOUNT), "--by", "anna", "--lang", lang)
        assert code == 1 and word in output and "budget" in output
        code, output = invoke(
            env, "activate", "1", "-a", str(ACCOUNT), "--by", "anna", "--emergency", "--lang", lang
        )
        assert code == 0, output

    def test_activating_a_mapped_version_re_judges_closed_leads_the_unmapped_rules_judged(
        self, installed: dict[str, str], engine: Engine
    ) -> None:
        """A lost lead judged by the default pack while the budget had no field («поле не сопоставлено») gets its
        first real verdict when a mapped version is activated from the CLI, as on /admin; a lead lost under real
        rules keeps its frozen verdict; open leads are queued as always."""
        from sqlmodel import select

        from integration.storage.inbox import InboxItem
        from integration.storage.leads import LeadSnapshot

        with session_scope(engine) as session:
            for lead_id, status_id, rule_version in ((701, 143, 0), (702, 50000001, 0), (703, 142, None)):
                session.add(
                    LeadSnapshot(
                        account_id=ACCOUNT, lead_id=lead_id, status_id=status_id, rule_version=rule_version
                    )
                )
            mapping = {role: p.field for role, p in propose_mapping(CATALOG).items()}
            version = rulesets.propose(
                session=session, account_id=ACCOUNT, text=default_rules_text(), author="anna", mapping=mapping
            )
            rulesets.approve(
                session=session, account_id=ACCOUNT, version=version, approver="anna", role="marketing"
            )
            rulesets.approve(
                session=session, account_id=ACCOUNT, version=version, approver="boris", role="sales"
            )
        code, output = invoke(
            installed, "activate", str(version), "-a", str(ACCOUNT), "--by", "anna", "--lang", "en"
        )
        assert code == 0, output
        assert "Queued 2 leads" in output
        with session_scope(engine) as session:
            queued = {
                event["lead_id"]
                for item in session.exec(select(InboxItem).where(InboxItem.account_id == ACCOUNT)).all()
                for event in item.events
            }
        assert queued == {701, 702}
