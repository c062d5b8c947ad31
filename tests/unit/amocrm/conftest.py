from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.unit.amocrm.fakes import Harness, make_harness


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    """A client wired to a fresh fake amoCRM with one installed account."""
    harness = make_harness()
    yield harness
    await harness.http.aclose()
