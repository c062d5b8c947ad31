"""The migrations create exactly the schema the code's tables describe, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import integration.storage  # noqa: F401
from integration.db import alembic_config, upgrade


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

    def test_inbox_bodies_use_lz4_on_postgresql(self, engine: Engine) -> None:
        """Raw webhook bodies are compressed with lz4 (cheaper per stored webhook than the default pglz)."""
        if engine.dialect.name != "postgresql":
            pytest.skip("PostgreSQL only: SQLite does not compress")
        with engine.connect() as conn:
            available = conn.execute(
                text("SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'")
            ).scalar()
            if "lz4" not in (available or ()):
                pytest.skip("this PostgreSQL was built without lz4")
            rows = conn.execute(
                text(
                    "SELECT attname, attcompression FROM pg_attribute "
                    "WHERE attrelid = 'inbox_items'::regclass AND attname IN ('body', 'events')"
                )
            ).all()
        methods = {str(name): str(method) for name, method in rows}
        assert methods == {"body": "l", "events": "l"}

    def test_accounts_installed_before_install_health_are_provisioned_again(self, engine: Engine) -> None:
        """Upgrading an existing install schedules each live account's provisioning once (it switches «Целевой» to
        the Да/Нет select); removed accounts are left alone."""
        config = alembic_config(engine.url.render_as_string(hide_password=False))
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0007")
        with engine.begin() as connection:
            for account_id, status in ((1, "active"), (2, "needs_reauth"), (3, "removed")):
                connection.execute(
                    text(
                        "INSERT INTO accounts (id, subdomain, base_url, webhook_key, status, language, "
                        "credential_kind, created_at, updated_at) VALUES (:id, :sub, 'https://x', :key, :status, "
                        "'ru', 'oauth', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                    ),
                    {"id": account_id, "sub": f"a{account_id}", "key": f"k{account_id}", "status": status},
                )
        upgrade(engine)
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT account_id, provisioning_state FROM install_health ORDER BY account_id")
            ).all()
        assert [tuple(row) for row in rows] == [(1, "pending"), (2, "pending")]
