"""Rate limits, the 403 block page and injected API faults."""

from __future__ import annotations

from collections.abc import Callable

from tests.integration.sandbox.conftest import Sandbox


class TestRateLimit:
    def test_eighth_request_within_a_second_is_429(self, start_sandbox: Callable[..., Sandbox]) -> None:
        """At 7 requests per second, the token exchange and 6 calls are answered, the rest get 429 problems."""
        sandbox = start_sandbox(rate_limit_per_second=7.0)
        account_id = sandbox.new_account("acme")
        api = sandbox.api("acme")
        statuses = [api.get("/api/v4/account").status_code for _ in range(10)]
        assert statuses[:6] == [200] * 6
        assert statuses[6:] == [429] * 4
        limited = api.get("/api/v4/account")
        assert limited.headers["content-type"].startswith("application/problem+json")
        assert limited.json()["status"] == 429
        assert "retry-after" not in limited.headers
        stats = sandbox.control.get("/_sandbox/stats", params={"account_id": account_id}).json()
        assert stats["responses_429"] == 5
        assert stats["requests_total"] == 12

    def test_limit_is_per_account(self, start_sandbox: Callable[..., Sandbox]) -> None:
        """One account using up its budget does not limit another account."""
        sandbox = start_sandbox(rate_limit_per_second=3.0)
        sandbox.new_account("acme")
        sandbox.new_account("other")
        acme, other = sandbox.api("acme"), sandbox.api("other")
        assert [acme.get("/api/v4/account").status_code for _ in range(4)][-1] == 429
        assert other.get("/api/v4/account").status_code == 200

    def test_control_endpoints_are_never_limited(self, start_sandbox: Callable[..., Sandbox]) -> None:
        """Control calls go through however many are made."""
        sandbox = start_sandbox(rate_limit_per_second=1.0)
        account_id = sandbox.new_account("acme")
        codes = {
            sandbox.control.get("/_sandbox/stats", params={"account_id": account_id}).status_code
            for _ in range(10)
        }
        assert codes == {200}

    def test_retry_after_is_a_setting(self, start_sandbox: Callable[..., Sandbox]) -> None:
        """With send_retry_after on, 429 answers carry Retry-After."""
        sandbox = start_sandbox(rate_limit_per_second=1.0, send_retry_after=True)
        sandbox.new_account("acme")
        api = sandbox.api("acme")
        api.get("/api/v4/account")
        assert api.get("/api/v4/account").headers["retry-after"] == "1"

    def test_repeated_429s_block_the_account_with_an_html_page(
        self, start_sandbox: Callable[..., Sandbox]
    ) -> None:
        """With block_after_429s set, hammering past the limit turns answers into a 403 HTML page."""
        sandbox = start_sandbox(rate_limit_per_second=2.0, block_after_429s=3)
        sandbox.new_account("acme")
        api = sandbox.api("acme")
        statuses = [api.get("/api/v4/leads").status_code for _ in range(6)]
        # The token exchange took the first of the two slots.
        assert statuses == [204, 429, 429, 429, 403, 403]
        blocked = api.get("/api/v4/leads")
        assert blocked.status_code == 403
        assert blocked.headers["content-type"].startswith("text/html")


class TestInjectedFaults:
    def test_rate_5xx_one_makes_every_call_a_server_error(self, sandbox: Sandbox) -> None:
        """With rate_5xx=1 API calls fail with 5xx problems; resetting the fault heals them."""
        sandbox.new_account("acme")
        api = sandbox.api("acme")
        sandbox.control.post("/_sandbox/faults", json={"rate_5xx": 1.0})
        assert {api.get("/api/v4/account").status_code // 100 for _ in range(5)} == {5}
        sandbox.control.post("/_sandbox/faults", json={"rate_5xx": 0})
        assert api.get("/api/v4/account").status_code == 200

    def test_rate_429_injects_limits_below_the_real_rate(self, sandbox: Sandbox) -> None:
        """With rate_429=1 even a single call is answered 429."""
        sandbox.new_account("acme")
        api = sandbox.api("acme")
        sandbox.control.post("/_sandbox/faults", json={"rate_429": 1.0})
        assert api.get("/api/v4/account").status_code == 429

    def test_latency_slows_answers(self, sandbox: Sandbox) -> None:
        """latency_ms delays each API answer by about that much."""
        sandbox.new_account("acme")
        api = sandbox.api("acme")
        sandbox.control.post("/_sandbox/faults", json={"latency_ms": 150})
        assert api.get("/api/v4/account").elapsed.total_seconds() >= 0.15

    def test_unknown_fault_is_refused(self, sandbox: Sandbox) -> None:
        """A misspelt fault name is a 400, not silently ignored."""
        assert sandbox.control.post("/_sandbox/faults", json={"rate_42": 1}).status_code == 400
