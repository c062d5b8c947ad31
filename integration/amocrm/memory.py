"""A `TokenStore` kept in memory: for tests, benches and the sandbox demo (tokens die with the process)."""

from __future__ import annotations

from integration.amocrm.models import TokenPair


class InMemoryTokenStore:
    """Tokens per account in a dict; `mark_needs_reauth` makes `load` return None until the next `save`."""

    def __init__(self, pairs: dict[int, TokenPair] | None = None) -> None:
        self._pairs: dict[int, TokenPair] = dict(pairs or {})
        self.needs_reauth: dict[int, str] = {}
        self.saves: list[tuple[int, TokenPair]] = []

    def __repr__(self) -> str:
        return f"InMemoryTokenStore(accounts={sorted(self._pairs)}, needs_reauth={sorted(self.needs_reauth)})"

    async def load(self, account_id: int) -> TokenPair | None:
        if account_id in self.needs_reauth:
            return None
        return self._pairs.get(account_id)

    async def save(self, account_id: int, pair: TokenPair) -> None:
        self._pairs[account_id] = pair
        self.needs_reauth.pop(account_id, None)
        self.saves.append((account_id, pair))

    async def mark_needs_reauth(self, account_id: int, reason: str) -> None:
        self.needs_reauth[account_id] = reason
