"""Lead writes at the domain level: all-or-nothing batches and events that do not change afterwards."""

from __future__ import annotations

import pytest

from amocrm_sandbox import SandboxConfig, SandboxState
from amocrm_sandbox.accounts import create_account
from amocrm_sandbox.contacts import create_contacts
from amocrm_sandbox.leads import create_leads, update_leads
from amocrm_sandbox.problems import Problem
from amocrm_sandbox.state import Account, clone

NOW = 1_800_000_000


def world() -> tuple[SandboxState, Account]:
    state = SandboxState(SandboxConfig(), clock=lambda: NOW)
    return state, create_account(state, "acme")


class TestEventsStayAsTheyWere:
    def test_later_patches_do_not_change_earlier_events(self) -> None:
        """An update event keeps the lead's tags, contacts and fields as they were when it happened."""
        state, account = world()
        user = account.first_user_id
        (first, second), _ = create_contacts(state, account, [{"name": "A"}, {"name": "B"}], user_id=user)
        (created,), _ = create_leads(
            state,
            account,
            [{"name": "L", "_embedded": {"tags": [{"name": "t1"}], "contacts": [{"id": first["id"]}]}}],
            user_id=user,
        )
        lead_id = created["id"]
        _, events = update_leads(
            state, account, [{"id": lead_id, "tags_to_add": [{"name": "t2"}]}], user_id=user
        )
        before = clone(dict(events[-1].data))
        update_leads(
            state,
            account,
            [
                {
                    "id": lead_id,
                    "name": "changed",
                    "tags_to_add": [{"name": "t3"}],
                    "_embedded": {"contacts": [{"id": second["id"], "is_main": True}]},
                }
            ],
            user_id=user,
        )
        assert dict(events[-1].data) == before
        stored = account.leads[lead_id]["_embedded"]["contacts"]
        assert stored == [{"id": first["id"], "is_main": False}, {"id": second["id"], "is_main": True}]


class TestAllOrNothing:
    def test_one_invalid_lead_stops_the_whole_batch(self) -> None:
        """When one lead of a batch is invalid, none of the batch is written."""
        state, account = world()
        (created,), _ = create_leads(state, account, [{"name": "keep"}], user_id=account.first_user_id)
        with pytest.raises(Problem) as caught:
            update_leads(
                state,
                account,
                [{"id": created["id"], "name": "changed"}, {"id": created["id"], "price": -1}],
                user_id=account.first_user_id,
            )
        assert caught.value.validation_errors[0].request_id == "1"
        assert account.leads[created["id"]]["name"] == "keep"
