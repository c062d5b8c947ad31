"""The migrations create exactly the schema the code's tables describe, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import integration.storage  # noqa: F401
from integration.db import upgrade


class TestMigrations:
    def test_migrated_schema_matches_the_tables_in_code(self, engine: Engine) -> None:
        """A table or column added in code without a migration would break a real install; this catches it."""
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": False})
            diff = compare_metadata(context, SQLModel.metadata)
        assert diff == []

    def test_upgrade_twice_changes_nothing(self, engine: Engine) -> None:
        """`leadpact db upgrade` on an up-to-date database is a no-op, so `serve` can always run it."""
        before = sorted(inspect(engine).get_table_names())
        upgrade(engine)
        assert sorted(inspect(engine).get_table_names()) == before
        assert "accounts" in before and "lead_snapshots" in before
