"""A faithful local amoCRM API v4: in-memory, multi-account, with OAuth, limits, webhooks and fault injection.

Tests, benches and the demo talk to it over real HTTP (`integration.servers.serve_in_thread`).
"""

from integration.sandbox.app import create_sandbox_app
from integration.sandbox.config import SandboxConfig
from integration.sandbox.state import SandboxState

__all__ = ["SandboxConfig", "SandboxState", "create_sandbox_app"]
