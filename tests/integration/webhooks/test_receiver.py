"""The webhook receiver over real HTTP: what is stored, what is refused, and what amoCRM is told."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator, Mapping
from types import SimpleNamespace

import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import select

from integration.db import make_engine, session_scope
from integration.servers import serve_in_thread
from integration.settings import Settings
from integration.storage.inbox import InboxItem, InboxStatus, NewInboxItem
from integration.storage.inbox_appender import inbox_appender
from tests.integration.webhooks.helpers import add_account, lead_update_body, mass_edit_body, receiver_app
from webhooks.receiver import InboxWriter

ACCOUNT_ID = 29_000_001
KEY = "k-" + "x" * 40
FORM = {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "amoCRM-WebHook-client/1.0"}


def stored_items(engine: Engine) -> list[InboxItem]:
    with session_scope(engine) as session:
        return list(session.exec(select(InboxItem)))


@pytest.fixture
def server(engine: Engine, settings: Settings) -> Iterator[tuple[str, SimpleNamespace]]:
    add_account(engine, ACCOUNT_ID, KEY)
    app, services = receiver_app(engine, settings)
    with serve_in_thread(app) as base_url:
        yield base_url, services


class TestAccepted:
    def test_a_webhook_is_stored_with_its_events_before_the_200(
        self, server: tuple[str, SimpleNamespace], engine: Engine
    ) -> None:
        """When amoCRM gets its 200, the delivery and its parsed events are already in the inbox."""
        base_url, _ = server
        body = lead_update_body(ACCOUNT_ID, 11, 12)
        response = httpx.post(f"{base_url}/webhooks/amocrm/{KEY}", content=body, headers=FORM)
        assert response.status_code == 200
        (item,) = stored_items(engine)
        assert (item.account_id, item.status, item.event_count) == (ACCOUNT_ID, InboxStatus.PENDING, 2)
        assert [event["lead_id"] for event in item.events] == [11, 12]
        assert item.body == body.decode()

    def test_an_unreadable_body_is_kept_as_a_failed_item_and_still_acknowledged(
        self, server: tuple[str, SimpleNamespace], engine: Engine
    ) -> None:
        """A body we cannot parse is visible and retryable, and amoCRM is not pushed to disable the hook."""
        base_url, _ = server
        response = httpx.post(
            f"{base_url}/webhooks/amocrm/{KEY}", content=b"leads[add][0][id]=oops", headers=FORM
        )
        assert response.status_code == 200
        (item,) = stored_items(engine)
        assert item.status == InboxStatus.FAILED
        assert item.last_error and "whole number" in item.last_error

    def test_a_body_with_one_unreadable_entity_is_stored_with_the_rest_and_counted(
        self, server: tuple[str, SimpleNamespace], engine: Engine
    ) -> None:
        """A lead whose id is unreadable fails alone: the others are stored as pending, the loss is counted."""
        base_url, _ = server
        body = lead_update_body(ACCOUNT_ID, 11, 12) + b"&leads%5Bupdate%5D%5B2%5D%5Bid%5D=-4"
        response = httpx.post(f"{base_url}/webhooks/amocrm/{KEY}", content=body, headers=FORM)
        assert response.status_code == 200
        (item,) = stored_items(engine)
        assert (item.status, item.unreadable_count) == (InboxStatus.PENDING, 1)
        assert [event.get("lead_id") for event in item.events] == [11, 12, None]
        metrics = httpx.get(f"{base_url}/metrics").text
        assert "leadpact_webhook_parts_unreadable_total 1.0" in metrics

    def test_a_mass_edit_of_250_leads_is_taken_whole(
        self, server: tuple[str, SimpleNamespace], engine: Engine
    ) -> None:
        """amoCRM's largest batch edited at once — one body of ~1.3 MB — is stored with all 250 events."""
        base_url, _ = server
        body = mass_edit_body(ACCOUNT_ID, leads=250, fields=12)
        assert len(body) > 1_200_000
        response = httpx.post(f"{base_url}/webhooks/amocrm/{KEY}", content=body, headers=FORM, timeout=30)
        assert response.status_code == 200
        (item,) = stored_items(engine)
        assert item.status == InboxStatus.PENDING and item.event_count == 250
        assert [event["lead_id"] for event in item.events] == list(range(1, 251))
        assert {len(event["custom_fields"]) for event in item.events} == {12}

    async def test_odd_bytes_in_one_body_do_not_fail_the_deliveries_stored_with_it(
        self, server: tuple[str, SimpleNamespace], engine: Engine
    ) -> None:
        """A NUL byte (which PostgreSQL text cannot hold) in one delivery still stores it and its neighbours."""
        base_url, _ = server
        odd = (
            lead_update_body(ACCOUNT_ID, 1).replace(b"acc29000001", b"acc\x00x")
            + b"&leads[update][0][name]=a%00b"
        )
        async with httpx.AsyncClient(base_url=base_url) as client:
            answers = await asyncio.gather(
                *(
                    client.post(f"/webhooks/amocrm/{KEY}", content=body, headers=FORM)
                    for body in [odd, *(lead_update_body(ACCOUNT_ID, i) for i in range(2, 12))]
                )
            )
        assert [a.status_code for a in answers] == [200] * 11
        assert len(stored_items(engine)) == 11


class TestRefused:
    def test_an_unknown_key_gets_404_and_nothing_is_stored(
        self, server: tuple[str, SimpleNamespace], engine: Engine
    ) -> None:
        """Guessing a webhook address gets nothing in."""
        base_url, _ = server
        response = httpx.post(f"{base_url}/webhooks/amocrm/guess", content=lead_update_body(ACCOUNT_ID, 1))
        assert response.status_code == 404
        assert stored_items(engine) == []

    def test_a_body_naming_another_account_is_rejected(
        self, server: tuple[str, SimpleNamespace], engine: Engine
    ) -> None:
        """Account A's key cannot be used to push events for account B."""
        base_url, _ = server
        response = httpx.post(
            f"{base_url}/webhooks/amocrm/{KEY}", content=lead_update_body(ACCOUNT_ID + 1, 1)
        )
        assert response.status_code == 403
        assert stored_items(engine) == []

    def test_an_oversized_body_gets_413_and_nothing_is_stored(
        self, server: tuple[str, SimpleNamespace], engine: Engine
    ) -> None:
        """A body above the configured cap is refused before it is read in full."""
        base_url, services = server
        services.settings = services.settings.model_copy(update={"webhook_max_body_bytes": 100})
        response = httpx.post(
            f"{base_url}/webhooks/amocrm/{KEY}", content=lead_update_body(ACCOUNT_ID, *range(50))
        )
        assert response.status_code == 413
        assert stored_items(engine) == []

    def test_database_outage_gets_503_never_200_then_the_retry_is_stored(
        self, server: tuple[str, SimpleNamespace], engine: Engine
    ) -> None:
        """While the database is unreachable amoCRM is told to retry; the retry after recovery is stored."""
        base_url, services = server
        body = lead_update_body(ACCOUNT_ID, 5)
        broken = make_engine("sqlite:////nonexistent-dir/leadpact.db")
        services.engine = broken
        try:
            refused = httpx.post(f"{base_url}/webhooks/amocrm/{KEY}", content=body, headers=FORM)
        finally:
            services.engine = engine
            broken.dispose()
        assert refused.status_code == 503
        assert stored_items(engine) == []
        retried = httpx.post(f"{base_url}/webhooks/amocrm/{KEY}", content=body, headers=FORM)
        assert retried.status_code == 200
        assert len(stored_items(engine)) == 1

    def test_fuzzed_bodies_never_cause_a_server_error(self, server: tuple[str, SimpleNamespace]) -> None:
        """Whatever bytes arrive on a valid key, the receiver answers without a 500."""
        base_url, _ = server
        with httpx.Client(base_url=base_url) as client:

            @hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
            @given(
                st.one_of(
                    st.binary(max_size=300),
                    st.lists(
                        st.tuples(
                            st.from_regex(
                                r"(leads|contacts|account)(\[[a-z0-9_]{0,8}\]){0,5}", fullmatch=True
                            ),
                            st.text(max_size=10),
                        ),
                        max_size=8,
                    ).map(lambda pairs: "&".join(f"{k}={v}" for k, v in pairs).encode()),
                )
            )
            def check(body: bytes) -> None:
                response = client.post(f"/webhooks/amocrm/{KEY}", content=body, headers=FORM)
                assert response.status_code in (200, 403), response.text

            check()


class TestObservability:
    def test_metrics_show_deliveries_and_inbox_depth(self, server: tuple[str, SimpleNamespace]) -> None:
        """An operator scraping /metrics sees stored deliveries and how many wait in the inbox."""
        base_url, _ = server
        for lead_id in (1, 2, 3):
            httpx.post(f"{base_url}/webhooks/amocrm/{KEY}", content=lead_update_body(ACCOUNT_ID, lead_id))
        text = httpx.get(f"{base_url}/metrics").text
        assert 'leadpact_webhooks_received_total{outcome="stored"} 3.0' in text
        assert 'leadpact_inbox_depth{status="pending"} 3.0' in text

    def test_readiness_reports_database_and_accounts_needing_reauth(
        self, server: tuple[str, SimpleNamespace], engine: Engine
    ) -> None:
        """/readyz says whether the database answers and how many accounts must grant access again."""
        base_url, services = server
        add_account(engine, 7, "other-key", status="needs_reauth")
        assert httpx.get(f"{base_url}/healthz").json() == {"status": "ok"}
        ready = httpx.get(f"{base_url}/readyz")
        assert ready.status_code == 200
        body = ready.json()
        assert (body["database"], body["accounts_needing_reauth"]) == ("ok", 1)
        assert body["install"]["needs_reauth"] == 1
        broken = make_engine("sqlite:////nonexistent-dir/leadpact.db")
        services.engine = broken
        try:
            assert httpx.get(f"{base_url}/readyz").status_code == 503
        finally:
            services.engine = engine
            broken.dispose()


class TestGroupCommitRows:
    async def test_rows_written_in_one_go_read_back_like_any_inbox_item(self, engine: Engine) -> None:
        """Deliveries stored by the group commit (COPY on PostgreSQL) read back with every column as expected,
        escapes and all."""
        add_account(engine, ACCOUNT_ID, KEY)
        events = [{"kind": "lead", "action": "update", "lead_id": 7, "name": 'Заявка \\ "x"\t\n\\N'}]
        items = [
            NewInboxItem(account_id=ACCOUNT_ID, body="a=1&b=\\N\tx\ny", events=events),
            NewInboxItem(account_id=ACCOUNT_ID, body="", events=(), parse_error="empty body"),
        ]
        appender = inbox_appender(engine)
        looked_up: list[Mapping[str, int]] = []

        def choose(accounts: Mapping[str, int]) -> list[NewInboxItem]:
            looked_up.append(dict(accounts))
            return items

        started = time.time()
        try:
            await appender.append({KEY, "no-such-key"}, choose)
        finally:
            await appender.aclose()
        assert looked_up == [{KEY: ACCOUNT_ID}]
        pending, failed = sorted(stored_items(engine), key=lambda item: item.id or 0)
        assert (pending.body, pending.events, pending.event_count, pending.status) == (
            "a=1&b=\\N\tx\ny",
            events,
            1,
            InboxStatus.PENDING,
        )
        assert (
            pending.received_at == pending.next_attempt_at and started <= pending.received_at <= time.time()
        )
        assert pending.attempts == 0
        assert (pending.lease_owner, pending.lease_expires_at, pending.last_error, pending.processed_at) == (
            (None,) * 4
        )
        assert (failed.body, failed.events, failed.status, failed.last_error) == (
            "",
            [],
            InboxStatus.FAILED,
            "empty body",
        )

    async def test_concurrent_deliveries_are_all_stored(self, engine: Engine) -> None:
        """Every delivery handed to the group-commit writer at once is acknowledged as stored, and is stored."""
        add_account(engine, ACCOUNT_ID, KEY)
        writer = InboxWriter(lambda: engine, max_batch=4)
        try:
            stored = await asyncio.gather(
                *(writer.store(KEY, lead_update_body(ACCOUNT_ID, lead_id)) for lead_id in range(1, 21))
            )
        finally:
            await writer.aclose()
        assert {result.outcome for result in stored} == {"stored"}
        assert sorted(item.events[0]["lead_id"] for item in stored_items(engine)) == list(range(1, 21))

    async def test_deliveries_waiting_at_shutdown_fail_as_retryable_and_the_writer_starts_again(
        self, engine: Engine
    ) -> None:
        """Stopping the writer (the app's shutdown) never leaves a delivery waiting for ever: each is stored or
        fails as a database error (the route's 503), and the next delivery is stored as usual."""
        add_account(engine, ACCOUNT_ID, KEY)
        writer = InboxWriter(lambda: engine, max_batch=2)
        waiting = [
            asyncio.ensure_future(writer.store(KEY, lead_update_body(ACCOUNT_ID, lead_id)))
            for lead_id in range(1, 9)
        ]
        await asyncio.sleep(0)
        await writer.aclose()
        results = await asyncio.wait_for(asyncio.gather(*waiting, return_exceptions=True), timeout=10)
        stored = [result for result in results if not isinstance(result, BaseException)]
        assert all(
            isinstance(result, OperationalError) for result in results if isinstance(result, BaseException)
        )
        assert len(stored) < 8
        # Never "stored" without the row; a batch cut off mid-commit may be in, and amoCRM's retry is a duplicate.
        assert len(stored_items(engine)) >= len(stored)
        try:
            again = await writer.store(KEY, lead_update_body(ACCOUNT_ID, 99))
        finally:
            await writer.aclose()
        assert again.outcome == "stored"

    async def test_the_appender_refuses_a_bad_row_as_a_sqlalchemy_error_and_goes_on(
        self, engine: Engine
    ) -> None:
        """A batch the database refuses stores nothing and fails as SQLAlchemy's DBAPIError (what the receiver
        isolates on); the next batch goes through the same appender."""
        if engine.dialect.name != "postgresql":
            pytest.skip("SQLite text holds NUL; only PostgreSQL refuses this row")
        add_account(engine, ACCOUNT_ID, KEY)
        appender = inbox_appender(engine)

        def rows(body: str) -> Callable[[Mapping[str, int]], list[NewInboxItem]]:
            return lambda accounts: [NewInboxItem(account_id=accounts[KEY], body=body, events=())]

        try:
            with pytest.raises(DBAPIError) as refused:
                await appender.append({KEY}, rows("nul \x00 here"))
            assert not isinstance(refused.value, OperationalError)
            assert stored_items(engine) == []
            await appender.append({KEY}, rows("a=1"))
        finally:
            await appender.aclose()
        assert [item.body for item in stored_items(engine)] == ["a=1"]
