"""Whatever JSON a client sends, the sandbox answers with an amoCRM problem, never a crash."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from amocrm_sandbox import SandboxConfig, SandboxState
from amocrm_sandbox.accounts import create_account
from amocrm_sandbox.activities import add_notes, create_tasks, update_tasks
from amocrm_sandbox.catalogs import create_catalogs, create_elements, link_lead, update_catalogs
from amocrm_sandbox.contacts import create_contacts, update_contacts
from amocrm_sandbox.custom_fields import create_fields, update_fields
from amocrm_sandbox.leads import create_leads, update_leads
from amocrm_sandbox.problems import Problem
from amocrm_sandbox.seed import seed_account
from amocrm_sandbox.subscriptions import subscribe, unsubscribe
from amocrm_sandbox.tags import create_tags

KEYS = st.sampled_from(
    [
        "id",
        "name",
        "price",
        "status_id",
        "pipeline_id",
        "responsible_user_id",
        "custom_fields_values",
        "field_id",
        "field_code",
        "values",
        "value",
        "enum_id",
        "enum_code",
        "_embedded",
        "tags",
        "contacts",
        "tags_to_add",
        "tags_to_delete",
        "created_at",
        "updated_at",
        "entity_id",
        "entity_type",
        "note_type",
        "params",
        "text",
        "complete_till",
        "type",
        "code",
        "enums",
        "destination",
        "settings",
        "metadata",
        "to_entity_id",
        "to_entity_type",
        "catalog_id",
        "request_id",
        "is_main",
        "first_name",
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 20_000_005),
    st.floats(allow_nan=False),
    st.text(max_size=8),
    st.sampled_from(["BUDGET", "PRODUCT", "PHONE", "select", "common", "leads", "http://x", "add_lead"]),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=5)),
    max_leaves=25,
)


def fresh_state() -> SandboxState:
    state = SandboxState(SandboxConfig(), clock=lambda: 1_800_000_000)
    seed_account(state, create_account(state, "acme"), leads=3, seed=1)
    return state


WRITERS = [
    lambda s, a, body: create_leads(s, a, body, user_id=a.first_user_id),
    lambda s, a, body: update_leads(s, a, body, user_id=a.first_user_id),
    lambda s, a, body: create_contacts(s, a, body, user_id=a.first_user_id),
    lambda s, a, body: update_contacts(s, a, body, user_id=a.first_user_id),
    lambda s, a, body: create_tags(s, a, "leads", body),
    lambda s, a, body: create_fields(s, a, "leads", body),
    lambda s, a, body: update_fields(s, a, "leads", body),
    lambda s, a, body: add_notes(s, a, "leads", body, user_id=a.first_user_id),
    lambda s, a, body: create_tasks(s, a, body, user_id=a.first_user_id),
    lambda s, a, body: update_tasks(s, a, body, user_id=a.first_user_id),
    lambda s, a, body: create_catalogs(s, a, body, user_id=a.first_user_id),
    lambda s, a, body: update_catalogs(s, a, body, user_id=a.first_user_id),
    lambda s, a, body: create_elements(s, a, 1, body, user_id=a.first_user_id),
    lambda s, a, body: link_lead(a, next(iter(a.leads.values())), body),
    lambda s, a, body: subscribe(s, a, body),
    lambda s, a, body: unsubscribe(a, body),
]


class TestArbitraryBodies:
    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        writer=st.sampled_from(range(len(WRITERS))),
        body=st.one_of(JSON, st.lists(JSON, min_size=1, max_size=3)),
    )
    def test_writes_succeed_or_answer_a_problem(self, writer: int, body: Any) -> None:
        """Any body to any write endpoint either succeeds or is refused with a 4xx problem."""
        state = fresh_state()
        account = next(iter(state.accounts.values()))
        try:
            WRITERS[writer](state, account, body)
        except Problem as problem:
            assert 400 <= problem.status < 500
