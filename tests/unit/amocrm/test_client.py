"""The send path: retries and backoff, response conventions, pagination, batching, several accounts."""

from __future__ import annotations

import json

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import integration.amocrm
from integration.amocrm import (
    AccountBlocked,
    AmoClient,
    AmoHTTPError,
    AmoTransportError,
    Forbidden,
    InMemoryTokenStore,
    NotFound,
    RateLimited,
    ServerError,
    ValidationFailed,
    ValidationIssue,
)
from integration.amocrm.responses import decode_response, parse_validation_issues
from tests.unit.amocrm.fakes import (
    ACCOUNT_ID,
    APP,
    FakeAmo,
    FakeClock,
    Handler,
    Harness,
    NoLimit,
    make_harness,
    pair,
    problem,
)


def api_fault(status: int, *, method: str | None = None, **kwargs: object) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response | None:
        if not request.url.path.startswith("/api/") or (method and request.method != method):
            return None
        return httpx.Response(status, **kwargs)  # type: ignore[arg-type]

    return handler


def transport_fault(kind: type[httpx.TransportError], *, method: str | None = None) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response | None:
        if not request.url.path.startswith("/api/") or (method and request.method != method):
            return None
        raise kind("simulated", request=request)

    return handler


class TestRateLimitRetries:
    async def test_retry_after_is_honoured(self, harness: Harness) -> None:
        """A 429 with Retry-After: 3 makes the client wait exactly 3 s, then the call succeeds."""
        harness.server.leads[1] = {"id": 1}
        harness.server.script.append(api_fault(429, headers={"Retry-After": "3"}))

        lead = await harness.api().get_lead(1)

        assert lead.id == 1
        assert harness.sleep.delays == [3.0]

    async def test_429_without_retry_after_backs_off_with_jitter(self, harness: Harness) -> None:
        """Without Retry-After the waits grow exponentially (random under the cap) until amoCRM lets us in."""
        harness.server.leads[1] = {"id": 1}
        harness.server.script += [api_fault(429) for _ in range(4)]

        await harness.api().get_lead(1)

        caps = [min(30.0, 0.5 * 2**attempt) for attempt in range(4)]
        assert len(harness.sleep.delays) == 4
        assert all(0 <= delay <= cap for delay, cap in zip(harness.sleep.delays, caps, strict=True))

    async def test_too_long_retry_after_is_raised_at_once(self, harness: Harness) -> None:
        """A Retry-After longer than the backoff cap is raised as RateLimited instead of waited out."""
        harness.server.script.append(api_fault(429, headers={"Retry-After": "600"}))

        with pytest.raises(RateLimited) as raised:
            await harness.api().get_lead(1)

        assert raised.value.retry_after == 600
        assert harness.sleep.delays == []

    async def test_persistent_429_gives_up_after_max_retries(self) -> None:
        """A storm that never ends ends the call with RateLimited after the configured number of retries."""
        harness = make_harness(max_retries=3)
        harness.server.script += [api_fault(429, headers={"Retry-After": "1"}) for _ in range(10)]

        with pytest.raises(RateLimited):
            await harness.api().get_lead(1)

        assert len(harness.server.api_requests()) == 4
        await harness.http.aclose()

    async def test_post_is_retried_on_429_and_creates_once(self, harness: Harness) -> None:
        """A create refused with 429 is sent again and the lead exists exactly once."""
        harness.server.script.append(api_fault(429, method="POST", headers={"Retry-After": "1"}))

        ids = await harness.api().create_leads([{"name": "New"}])

        assert len(ids) == 1
        assert [lead["name"] for lead in harness.server.leads.values()] == ["New"]


class TestServerErrorRetries:
    @pytest.mark.parametrize("method", ["GET", "PATCH"])
    async def test_idempotent_requests_are_retried_on_5xx(self, harness: Harness, method: str) -> None:
        """Reads and PATCH updates survive a passing 502/503 from amoCRM."""
        harness.server.leads[1] = {"id": 1}
        harness.server.script += [api_fault(502, method=method), api_fault(503, method=method)]
        api = harness.api()

        if method == "GET":
            await api.get_lead(1)
        else:
            await api.update_leads([{"id": 1, "price": 5}])

        assert len(harness.server.api_requests(method)) == 3
        assert len(harness.sleep.delays) == 2

    async def test_post_is_not_retried_on_5xx(self, harness: Harness) -> None:
        """A create that got a 500 is not resent, because amoCRM may already have created the lead."""
        harness.server.script.append(api_fault(500, method="POST"))

        with pytest.raises(ServerError):
            await harness.api().create_leads([{"name": "New"}])

        assert len(harness.server.api_requests("POST")) == 1

    async def test_gives_up_after_max_retries(self) -> None:
        """An outage longer than the retry budget ends with ServerError."""
        harness = make_harness(max_retries=2)
        harness.server.script += [api_fault(500) for _ in range(5)]

        with pytest.raises(ServerError):
            await harness.api().get_lead(1)

        assert len(harness.server.api_requests()) == 3
        await harness.http.aclose()


class TestTransportRetries:
    async def test_connect_error_is_retried_even_for_post(self, harness: Harness) -> None:
        """A create whose connection never opened is sent again: nothing reached amoCRM."""
        harness.server.script.append(transport_fault(httpx.ConnectError, method="POST"))

        assert len(await harness.api().create_leads([{"name": "New"}])) == 1
        assert len(harness.server.leads) == 1

    async def test_read_timeout_on_post_is_not_retried(self, harness: Harness) -> None:
        """A create that timed out after sending raises AmoTransportError instead of risking a duplicate."""
        harness.server.script.append(transport_fault(httpx.ReadTimeout, method="POST"))

        with pytest.raises(AmoTransportError):
            await harness.api().create_leads([{"name": "New"}])

        assert len(harness.server.api_requests("POST")) == 1

    async def test_read_timeout_on_get_is_retried(self, harness: Harness) -> None:
        """A read that timed out is simply read again."""
        harness.server.leads[1] = {"id": 1}
        harness.server.script.append(transport_fault(httpx.ReadTimeout))

        assert (await harness.api().get_lead(1)).id == 1


class TestResponseConventions:
    async def test_204_is_none_or_an_empty_list(self, harness: Harness) -> None:
        """amoCRM's 204 No Content reads as "nothing": None from request, no leads from lists and lookups."""
        api = harness.api()

        assert await api.request("GET", "/api/v4/leads") is None
        assert [lead async for lead in api.iter_leads()] == []
        assert await api.get_leads([1, 2]) == []

    async def test_validation_errors_are_parsed_into_issues(self, harness: Harness) -> None:
        """A 400 with validation-errors says which entity and field amoCRM refused, and why."""
        harness.server.script.append(
            lambda request: problem(
                400,
                "Bad Request",
                detail="Request validation failed",
                **{
                    "validation-errors": [
                        {
                            "request_id": "0",
                            "errors": [
                                {
                                    "code": "NotSupportedChoice",
                                    "path": "custom_fields_values.0.field_id",
                                    "detail": "The value you selected is not a valid choice.",
                                }
                            ],
                        }
                    ]
                },
            )
        )

        with pytest.raises(ValidationFailed) as raised:
            await harness.api().update_leads([{"id": 1, "custom_fields_values": []}])

        assert raised.value.issues == [
            ValidationIssue(
                request_id="0",
                code="NotSupportedChoice",
                path="custom_fields_values.0.field_id",
                detail="The value you selected is not a valid choice.",
            )
        ]
        assert raised.value.status_code == 400
        assert "Request validation failed" in str(raised.value)

    @pytest.mark.parametrize("status", [200, 403])
    async def test_html_page_means_the_account_is_blocked(self, harness: Harness, status: int) -> None:
        """An HTML page instead of JSON is reported as AccountBlocked, whatever the status."""
        page = "<!DOCTYPE html><html><body>Account blocked</body></html>"
        harness.server.script.append(api_fault(status, text=page, headers={"Content-Type": "text/html"}))

        with pytest.raises(AccountBlocked):
            await harness.api().get_lead(1)

    async def test_proxy_html_on_5xx_is_a_server_error(self) -> None:
        """A 502 page from a proxy is an outage (retried), not a blocked account."""
        harness = make_harness(max_retries=0)
        page = "<html><body>502 Bad Gateway</body></html>"
        harness.server.script.append(api_fault(502, text=page, headers={"Content-Type": "text/html"}))

        with pytest.raises(ServerError):
            await harness.api().get_lead(1)
        await harness.http.aclose()

    @pytest.mark.parametrize(("status", "error"), [(403, Forbidden), (404, NotFound)])
    async def test_problem_json_maps_to_typed_errors(
        self, harness: Harness, status: int, error: type[Exception]
    ) -> None:
        """problem+json answers become the matching error carrying amoCRM's title."""
        harness.server.script.append(lambda request: problem(status, "Nope"))

        with pytest.raises(error, match="Nope"):
            await harness.api().get_lead(1)


class TestPagination:
    async def test_all_pages_are_followed_until_there_is_no_next(self, harness: Harness) -> None:
        """Iterating 600 leads reads three pages of 250 and yields every lead once."""
        harness.server.leads = {lead_id: {"id": lead_id} for lead_id in range(1, 601)}

        leads = [lead.id async for lead in harness.api().iter_leads()]

        assert leads == list(range(1, 601))
        pages = [request.url.params["page"] for request in harness.server.api_requests("GET")]
        assert pages == ["1", "2", "3"]
        assert {request.url.params["limit"] for request in harness.server.api_requests("GET")} == {"250"}

    async def test_filters_and_with_are_kept_on_every_page(self, harness: Harness) -> None:
        """Caller's filters and `with` go along with each page request."""
        harness.server.leads = {lead_id: {"id": lead_id} for lead_id in range(1, 301)}
        params = {"filter[id][]": list(range(1, 301))}

        leads = [lead async for lead in harness.api().iter_leads(params=params, with_=("contacts", "tags"))]

        assert len(leads) == 300
        for request in harness.server.api_requests("GET"):
            assert request.url.params["with"] == "contacts,tags"
            assert len(request.url.params.get_list("filter[id][]")) == 300


class TestBatching:
    async def test_600_lead_update_is_three_patches(self, harness: Harness) -> None:
        """Updating 600 leads sends three PATCH requests of at most 250 leads each."""
        updates = [{"id": lead_id, "price": lead_id} for lead_id in range(1, 601)]

        await harness.api().update_leads(updates)

        sizes = [len(json.loads(request.content)) for request in harness.server.api_requests("PATCH")]
        assert sizes == [250, 250, 100]
        assert harness.server.leads[600]["price"] == 600

    async def test_create_returns_ids_of_every_chunk_in_order(self, harness: Harness) -> None:
        """Creating 300 leads takes two POSTs and returns 300 new ids in input order."""
        ids = await harness.api().create_leads([{"name": f"Lead {n}"} for n in range(300)])

        assert len(harness.server.api_requests("POST")) == 2
        assert [harness.server.leads[lead_id]["name"] for lead_id in ids] == [f"Lead {n}" for n in range(300)]

    async def test_get_leads_asks_for_at_most_250_ids_per_request(self, harness: Harness) -> None:
        """Fetching 600 leads by id takes three GETs of at most 250 ids each, with contacts embedded."""
        harness.server.leads = {lead_id: {"id": lead_id} for lead_id in range(1, 701)}

        leads = await harness.api().get_leads(range(1, 601))

        assert sorted(lead.id for lead in leads) == list(range(1, 601))
        requests = harness.server.api_requests("GET")
        assert [len(request.url.params.get_list("filter[id][]")) for request in requests] == [250, 250, 100]
        assert {request.url.params["with"] for request in requests} == {"contacts"}

    async def test_empty_write_sends_nothing(self, harness: Harness) -> None:
        """An update with nothing to change costs no request."""
        await harness.api().update_leads([])

        assert harness.server.requests == []


class TestSeveralAccounts:
    async def test_accounts_on_different_hosts_share_one_http_client(self) -> None:
        """Accounts on amoCRM and Kommo are called at their own hosts through the same connection pool."""
        seen: list[str] = []
        servers = {"acme.amocrm.ru": FakeAmo(), "beta.kommo.com": FakeAmo()}
        servers["acme.amocrm.ru"].leads[1] = {"id": 1, "name": "ru"}
        servers["beta.kommo.com"].leads[1] = {"id": 1, "name": "com"}

        async def route(request: httpx.Request) -> httpx.Response:
            seen.append(request.url.host)
            return await servers[request.url.host](request)

        store = InMemoryTokenStore({ACCOUNT_ID: pair(), 2: pair()})
        clock = FakeClock()
        async with httpx.AsyncClient(transport=httpx.MockTransport(route)) as http:
            client = AmoClient(http, limiter=NoLimit())
            names = []
            for account_id, host in ((ACCOUNT_ID, "acme.amocrm.ru"), (2, "beta.kommo.com")):
                base_url = f"https://{host}"
                auth = client.oauth(account_id, base_url, APP, store, clock=clock)
                names.append((await client.account(account_id, base_url, auth).get_lead(1)).name)

        assert names == ["ru", "com"]
        assert seen == ["acme.amocrm.ru", "beta.kommo.com"]


PUBLIC_NAMES = [
    "BATCH_LIMIT",
    "EVENTS_PAGE_LIMIT",
    "AccountApi",
    "AccountBlocked",
    "AccountInfo",
    "AmoAuth",
    "AmoClient",
    "AmoError",
    "AmoHTTPError",
    "AmoTransportError",
    "Catalog",
    "CatalogElement",
    "Contact",
    "CustomField",
    "CustomFieldValue",
    "FieldEnum",
    "Forbidden",
    "InMemoryTokenStore",
    "Lead",
    "LongLivedAuth",
    "NotFound",
    "Note",
    "OAuthApp",
    "Pipeline",
    "RateLimited",
    "RateLimiter",
    "ServerError",
    "Status",
    "Tag",
    "Task",
    "TokenBucket",
    "TokenPair",
    "TokenRefreshFailed",
    "TokenStore",
    "Unauthorized",
    "User",
    "ValidationFailed",
    "ValidationIssue",
    "Webhook",
]


class TestPublicApi:
    def test_public_names_are_pinned(self) -> None:
        """The package exports exactly the names other parts of LeadPact code against."""
        assert sorted(integration.amocrm.__all__) == sorted(PUBLIC_NAMES)
        assert all(hasattr(integration.amocrm, name) for name in integration.amocrm.__all__)


class TestSingleLead:
    async def test_unknown_lead_is_not_found_whether_404_or_204(self, harness: Harness) -> None:
        """Asking for a lead that does not exist raises NotFound, also when amoCRM answers 204."""
        api = harness.api()

        with pytest.raises(NotFound):
            await api.get_lead(404_404)  # the fake answers 204 for unknown ids
        harness.server.script.append(lambda request: problem(404, "Not Found"))
        with pytest.raises(NotFound):
            await api.get_lead(404_404)


class TestOddAnswers:
    async def test_success_that_is_not_json_is_an_http_error_not_a_block(self, harness: Harness) -> None:
        """A 200 with plain text is reported as a bad answer, not as a blocked account."""
        harness.server.script.append(api_fault(200, text="ok", headers={"Content-Type": "text/plain"}))

        with pytest.raises(AmoHTTPError, match="not JSON") as raised:
            await harness.api().get_lead(1)

        assert not isinstance(raised.value, AccountBlocked)

    async def test_retry_after_as_a_date_falls_back_to_backoff(self, harness: Harness) -> None:
        """A Retry-After given as an HTTP date is not misread; the client backs off within its cap instead."""
        harness.server.leads[1] = {"id": 1}
        date = "Wed, 21 Oct 2026 07:28:00 GMT"
        harness.server.script.append(api_fault(429, headers={"Retry-After": date}))

        await harness.api().get_lead(1)

        assert len(harness.sleep.delays) == 1
        assert 0 <= harness.sleep.delays[0] <= 0.5


def _json_children(children: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["request_id", "errors", "code", "path", "detail", "x"]), children, max_size=4
    )


class TestValidationIssueParsing:
    @settings(max_examples=60, deadline=None)
    @given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(), _json_children, max_leaves=20))
    def test_any_shape_of_validation_errors_is_read_without_crashing(self, raw: object) -> None:
        """However odd amoCRM's validation-errors look, the error is still raised with whatever issues parse."""
        issues = parse_validation_issues(raw)

        assert all(isinstance(issue, ValidationIssue) for issue in issues)

    @settings(max_examples=80, deadline=None)
    @given(
        status=st.sampled_from([200, 201, 202, 204, 400, 401, 402, 403, 404, 429, 500, 502, 503]),
        body=st.binary(max_size=200) | st.just(b'{"validation-errors": 5}') | st.just(b"<html>x</html>"),
        content_type=st.sampled_from(
            ["application/json", "application/problem+json", "text/html", "text/plain"]
        ),
    )
    def test_any_answer_decodes_or_raises_a_typed_error(
        self, status: int, body: bytes, content_type: str
    ) -> None:
        """Whatever amoCRM or a proxy sends back, the caller gets data or an AmoHTTPError, never a crash."""
        response = httpx.Response(status, content=body, headers={"Content-Type": content_type})

        try:
            decode_response(response, method="GET", path="/api/v4/leads")
        except AmoHTTPError as error:
            assert error.status_code == status
