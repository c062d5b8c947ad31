"""The settings every CLI command runs with, and how the CLI finds a running demo.

`leadpact serve` without amoCRM credentials runs the demo on its own database (`.leadpact/demo.db`) with a client
id/secret made up for the run. While it runs it leaves `demo.json` in the data directory (readable by its owner
only, like the token encryption key next to it), so `leadpact accounts list`, `leadpact backfill` and the other
commands work on the demo with no flags: a command without credentials and without DATABASE_URL uses the running
demo; `leadpact --demo …` insists on it. A command never creates an empty database on its own: a missing SQLite
file is an error that says how to make one.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from pydantic import SecretStr

from integration.i18n import Text
from integration.settings import Settings

DEMO_FILE = "demo.json"

NO_DEMO_RUNNING = Text(
    ru="Демо не запущено (нет {path} от работающего `leadpact serve`). Запустите `bash scripts/serve` или "
    "`leadpact serve` без учётных данных amoCRM.",
    en="No demo is running (no {path} from a running `leadpact serve`). Start `bash scripts/serve` or "
    "`leadpact serve` without amoCRM credentials.",
)
NO_DATABASE = Text(
    ru="Базы данных {path} нет. Запустите демо (`bash scripts/serve`), задайте DATABASE_URL или создайте базу: "
    "`leadpact db upgrade`.",
    en="There is no database at {path}. Start the demo (`bash scripts/serve`), set DATABASE_URL or create the "
    "database: `leadpact db upgrade`.",
)
USING_DEMO = Text(
    ru="Работаю с запущенным демо: база {path}, песочница {sandbox}.",
    en="Working on the running demo: database {path}, sandbox {sandbox}.",
)


def demo_file(data_dir: Path) -> Path:
    return Path(data_dir) / DEMO_FILE


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def published_demo(settings: Settings, *, sandbox_url: str) -> Iterator[None]:
    """While the demo serves: `demo.json` names its database and credentials for the CLI; removed at exit."""
    path = demo_file(settings.data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = settings.amocrm_client_secret.get_secret_value() if settings.amocrm_client_secret else None
    record = {
        "pid": os.getpid(),
        "database_url": settings.database_url,
        "public_url": settings.public_url,
        "sandbox_url": sandbox_url,
        "amocrm_client_id": settings.amocrm_client_id,
        "amocrm_client_secret": secret,
        "amocrm_redirect_uri": settings.amocrm_redirect_uri,
        "amocrm_base_url": settings.amocrm_base_url,
        "amocrm_authorize_url": settings.amocrm_authorize_url,
    }
    # Created owner-only before the secret is written into it.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        json.dump(record, out)
    try:
        yield
    finally:
        with contextlib.suppress(OSError, ValueError):
            if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
                path.unlink()


def running_demo(data_dir: Path) -> dict[str, Any] | None:
    """What a running demo published, or None (no file, or its process is gone)."""
    try:
        record = json.loads(demo_file(data_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("pid"), int) or not _alive(record["pid"]):
        return None
    return record


def with_demo(settings: Settings, record: dict[str, Any]) -> Settings:
    secret = record.get("amocrm_client_secret")
    return settings.model_copy(
        update={
            "database_url": record["database_url"],
            "public_url": record["public_url"],
            "amocrm_client_id": record.get("amocrm_client_id"),
            "amocrm_client_secret": SecretStr(secret) if isinstance(secret, str) else None,
            "amocrm_redirect_uri": record.get("amocrm_redirect_uri"),
            "amocrm_base_url": record.get("amocrm_base_url"),
            "amocrm_authorize_url": record.get("amocrm_authorize_url") or settings.amocrm_authorize_url,
        }
    )


def _wants_demo() -> bool:
    # Typer runs on its own copy of click (`typer._click`): the running command's context is on that copy's stack,
    # not on the `click` package's.
    from typer._click.globals import get_current_context

    context = get_current_context(silent=True)
    root = context.find_root() if context is not None else None
    return bool(root is not None and isinstance(root.obj, dict) and root.obj.get("demo"))


def sqlite_path(database_url: str) -> Path | None:
    """The file of a SQLite URL (None for in-memory databases and other engines)."""
    for prefix in ("sqlite+pysqlite:///", "sqlite:///"):
        if database_url.startswith(prefix):
            rest = database_url.removeprefix(prefix).split("?", 1)[0]
            return Path(rest) if rest and rest != ":memory:" else None
    return None


def cli_settings(*, create_database: bool = False) -> Settings:
    """The settings of a CLI command: the environment's, or the running demo's (see the module docstring)."""
    settings = Settings()
    explicit = {"database_url", "amocrm_client_id", "amocrm_long_lived_token"} & settings.model_fields_set
    record = running_demo(settings.data_dir)
    if _wants_demo():
        if record is None:
            typer.echo(NO_DEMO_RUNNING(settings.language, path=demo_file(settings.data_dir)), err=True)
            raise typer.Exit(2)
        settings = with_demo(settings, record)
    elif record is not None and not explicit and not settings.has_amocrm_credentials:
        settings = with_demo(settings, record)
        typer.echo(
            USING_DEMO(
                settings.language, path=sqlite_path(settings.database_url), sandbox=record["sandbox_url"]
            ),
            err=True,
        )
    path = sqlite_path(settings.database_url)
    if not create_database and path is not None and not path.exists():
        typer.echo(NO_DATABASE(settings.language, path=path), err=True)
        raise typer.Exit(2)
    return settings
