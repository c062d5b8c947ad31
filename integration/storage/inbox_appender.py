"""The receiver's writing end of the inbox: look up the webhook keys, store the deliveries — one batch at a time.

`inbox_appender(engine)` picks the way per database; both keep one connection from batch to batch, because
taking one from the pool per batch (with its liveness ping), a BEGIN and a COMMIT cost more than the batch:

- **PostgreSQL** — on the event loop, through psycopg's async connection in autocommit mode: a batch is written
  by one COPY, a single statement and so a single transaction, so all of the batch is stored or none of it. The
  receiver's event loop is busy parsing requests; handing each batch to a thread made every step of it wait for
  the GIL (bench/webhooks.py: a third of a batch's time went to hand-offs), while on the loop the waits for
  PostgreSQL are ordinary awaits.
- **SQLite** — in one dedicated thread (SQLite has no async driver), each batch in one explicit transaction.

A connection that failed is dropped and the next batch opens a new one. Driver errors come out as SQLAlchemy's
(`OperationalError` when the database cannot be reached, `DBAPIError` when it refuses the content), as from
`Connection.execute`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from typing import Any, Protocol

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from integration.storage.accounts import AccountStatus, account_ids_by_webhook_key
from integration.storage.inbox import COPY_NEW_ITEMS, NewInboxItem, add_items, copy_row

# Webhook key → account id, for the keys of accounts not removed; → the items to store.
ChooseItems = Callable[[Mapping[str, int]], Sequence[NewInboxItem]]


class InboxAppender(Protocol):
    engine: Engine

    async def append(self, keys: Collection[str], choose: ChooseItems) -> None:
        """Look up the accounts of `keys`, let `choose` turn them into items, store those atomically."""
        ...

    async def aclose(self) -> None: ...


def inbox_appender(engine: Engine) -> InboxAppender:
    if engine.dialect.name == "postgresql":
        return PostgresInboxAppender(engine)
    return ThreadedInboxAppender(engine)


class ThreadedInboxAppender:
    """SQLite (or any database without our async path): one thread, one kept connection, a transaction a batch."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._connection: Connection | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inbox-appender")

    def __repr__(self) -> str:
        return f"ThreadedInboxAppender({self.engine.dialect.name})"

    async def append(self, keys: Collection[str], choose: ChooseItems) -> None:
        # Straight to our own thread: `anyio.to_thread` first yields to the loop, which then handles a whole
        # round of requests before the batch even starts.
        await asyncio.get_running_loop().run_in_executor(self._thread, self._append, keys, choose)

    async def aclose(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._thread, self._close)
        self._thread.shutdown(wait=False)

    def _append(self, keys: Collection[str], choose: ChooseItems) -> None:
        with self._transaction() as connection:
            add_items(connection=connection, items=choose(account_ids_by_webhook_key(connection, keys)))

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        connection = self._connection
        if connection is None or connection.closed or connection.invalidated:
            self._close()
            connection = self._connection = self.engine.connect()
        try:
            with connection.begin():
                yield connection
        except BaseException:
            self._close()
            raise

    def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with suppress(Exception):
                connection.close()


_ACCOUNTS_BY_KEYS = "SELECT webhook_key, id FROM accounts WHERE webhook_key = ANY(%s) AND status <> %s"


class PostgresInboxAppender:
    """PostgreSQL on the event loop: psycopg's async connection, autocommit, one COPY a batch."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._connection: Any = None  # psycopg.AsyncConnection

    def __repr__(self) -> str:
        return "PostgresInboxAppender()"

    async def append(self, keys: Collection[str], choose: ChooseItems) -> None:
        dialect: Any = self.engine.dialect
        serialize = dialect._json_serializer or json.dumps
        statement = _ACCOUNTS_BY_KEYS
        try:
            connection = await self._connect()
            accounts: dict[str, int] = {}
            if keys:
                cursor = await connection.execute(statement, (list(keys), AccountStatus.REMOVED))
                accounts = {str(key): int(account_id) for key, account_id in await cursor.fetchall()}
            items = choose(accounts)
            if not items:
                return
            statement, now = COPY_NEW_ITEMS, time.time()
            async with connection.cursor() as cursor, cursor.copy(COPY_NEW_ITEMS) as copy:
                for item in items:
                    await copy.write_row(copy_row(item, now, serialize))
        except dialect.loaded_dbapi.Error as exc:
            lost = self._connection is None or self._connection.broken or self._connection.closed
            if lost or isinstance(exc, dialect.loaded_dbapi.OperationalError):
                await self.aclose()
            raise DBAPIError.instance(
                statement, None, exc, dialect.loaded_dbapi.Error, connection_invalidated=lost, dialect=dialect
            ) from exc

    async def aclose(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with suppress(Exception):
                await connection.close()

    async def _connect(self) -> Any:
        if self._connection is not None and not self._connection.closed and not self._connection.broken:
            return self._connection
        await self.aclose()
        from psycopg import AsyncConnection

        dialect: Any = self.engine.dialect
        # The same connection arguments SQLAlchemy gives psycopg for this URL.
        args, kwargs = dialect.create_connect_args(self.engine.url)
        kwargs.setdefault("connect_timeout", 5)
        self._connection = await AsyncConnection.connect(*args, autocommit=True, **kwargs)
        return self._connection


__all__ = [
    "ChooseItems",
    "InboxAppender",
    "PostgresInboxAppender",
    "ThreadedInboxAppender",
    "inbox_appender",
]
