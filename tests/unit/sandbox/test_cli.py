"""What `leadpact sandbox` prints when it starts."""

from __future__ import annotations

from amocrm_sandbox import SandboxConfig, create_sandbox_app
from leadpact.cli.sandbox import describe


class TestStartupText:
    def test_prints_url_credentials_and_account_in_both_languages(self) -> None:
        """The start-up lines name the base URL, client id/secret and the demo account, in ru or en."""
        config = SandboxConfig(seed_demo=True, demo_leads=3, client_id="demo-id", client_secret="demo-secret")
        state = create_sandbox_app(config).state.sandbox
        russian = describe(state, "http://127.0.0.1:8100", "ru")
        english = describe(state, "http://127.0.0.1:8100", "en")
        assert russian != english
        for lines in (russian, english):
            text = "\n".join(lines)
            assert "http://127.0.0.1:8100" in text
            assert "demo-id" in text and "demo-secret" in text
            assert "demo" in lines[-1] and "3" in lines[-1]
        assert "запущена" in russian[0]
        assert "running" in english[0]
