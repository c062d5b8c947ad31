"""`leadpact serve` and `leadpact worker`: the service, with the demo on the sandbox when no credentials are set."""

from __future__ import annotations

import asyncio
import logging
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from integration.i18n import Text
from integration.settings import Settings

log = logging.getLogger("leadpact.demo")

SERVE_HELP = Text(
    ru="Запустить LeadPact (веб, приёмник вебхуков, воркер). Без учётных данных amoCRM — демо на песочнице.",
    en="Run LeadPact (web, webhook receiver, worker). Without amoCRM credentials: the demo on the sandbox.",
)
STARTING_DEMO = Text(
    ru="Учётные данные amoCRM не заданы — запускаю песочницу amoCRM на {url}: аккаунт «{shape}» с {leads} "
    "демо-лидами.",
    en="No amoCRM credentials set — starting the amoCRM sandbox at {url}: the «{shape}» account with {leads} "
    "demo leads.",
)


def register(app: typer.Typer) -> None:
    @app.command("serve", help=f"{SERVE_HELP('ru')} / {SERVE_HELP('en')}")
    def serve(
        host: str = typer.Option("127.0.0.1", help="Interface to listen on / адрес"),
        port: int = typer.Option(8000, help="Port / порт"),
        sandbox_port: int | None = typer.Option(
            None,
            help="Demo only: the amoCRM sandbox's port (default: --port + 1) / только демо: порт песочницы amoCRM "
            "(по умолчанию --port + 1)",
        ),
        demo_leads: int = typer.Option(600, help="Demo leads in the sandbox / демо-лидов в песочнице"),
        worker: bool = typer.Option(True, help="Run the worker in-process / воркер в этом процессе"),
        demo_account: Annotated[
            str, typer.Option(help=DEMO_ACCOUNT_HELP, callback=_known_demo_account)
        ] = "demo",
    ) -> None:
        configure_logging()
        settings = Settings()
        run_serve(
            settings,
            host=host,
            port=port,
            demo_leads=demo_leads,
            worker=worker,
            demo_account=demo_account,
            sandbox_port=sandbox_port if sandbox_port is not None else port + 1,
        )

    @app.command(
        "worker",
        help="Только воркер (очередь вебхуков и сверка) / the worker alone (inbox and reconciliation)",
    )
    def worker_command() -> None:
        configure_logging()
        from leadpact.runtime import run_worker_process

        asyncio.run(run_worker_process(Settings()))


def fresh_demo_database(data_dir: Path) -> str:
    path = Path(data_dir) / "demo.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (path, path.with_name("demo.db-wal"), path.with_name("demo.db-shm")):
        stale.unlink(missing_ok=True)
    return f"sqlite:///{path}"


def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs every URL at INFO; OAuth callbacks carry the authorization code in theirs.
    logging.getLogger("httpx").setLevel(logging.WARNING)


DEMO_ACCOUNT_HELP = (
    "Sandbox account for the demo: demo | realistic (fields made by hand, without codes) / "
    "аккаунт песочницы для демо: demo | realistic (поля, созданные вручную, без кодов)"
)


def _known_demo_account(value: str) -> str:
    from leadpact.demo import known_demo_account  # the demo, and the sandbox with it, load only for `serve`

    return known_demo_account(value)


def run_serve(
    settings: Settings,
    *,
    host: str,
    port: int,
    demo_leads: int,
    worker: bool,
    demo_account: str = "demo",
    sandbox_port: int | None = None,
) -> None:
    from leadpact.app import BackgroundTask, create_app
    from leadpact.runtime import background_tasks

    public_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
    if "public_url" not in settings.model_fields_set:
        settings = settings.model_copy(update={"public_url": f"http://{public_host}:{port}"})
    tasks: list[BackgroundTask] = list(background_tasks(settings)) if worker else []
    settings_had_credentials = settings.has_amocrm_credentials
    with ExitStack() as stack:
        if not settings_had_credentials:
            from functools import partial

            from integration.servers import free_port
            from leadpact.cli.context import published_demo
            from leadpact.demo import (
                DemoStatus,
                SandboxNotStarted,
                demo_links,
                demo_router,
                demo_sandbox_config,
                demo_settings,
                install_into_sandbox,
                sandbox_process,
            )

            public_url = settings.public_url
            chosen_port = sandbox_port or free_port()
            sandbox_url = f"http://127.0.0.1:{chosen_port}"
            # What a person opens comes first in the log; the pages wait (and reload) until the data is in.
            for line in demo_links(settings.language, public=public_url, sandbox=sandbox_url):
                log.info(line)
            plan = demo_settings(settings, public_url=public_url, sandbox_url=sandbox_url)
            sandbox = demo_sandbox_config(
                plan, public_url=public_url, demo_leads=demo_leads, demo_account=demo_account
            )
            try:
                stack.enter_context(sandbox_process(sandbox, port=chosen_port, lang=settings.language))
            except SandboxNotStarted as error:
                log.error(str(error))
                raise typer.Exit(2) from None
            log.info(STARTING_DEMO(settings.language, url=sandbox_url, leads=demo_leads, shape=demo_account))
            settings = plan.settings
            if "database_url" not in settings.model_fields_set:
                # The sandbox is a fresh in-memory amoCRM on every start, so the demo's database starts fresh too.
                settings = settings.model_copy(
                    update={"database_url": fresh_demo_database(settings.data_dir)}
                )
            stack.enter_context(published_demo(settings, sandbox_url=sandbox_url))
            status = DemoStatus()
            tasks.append(partial(install_into_sandbox, status=status, demo_leads=demo_leads))
        app = create_app(
            settings, background=tuple(tasks), warm_reports=worker, demo=not settings_had_credentials
        )
        if not settings_had_credentials:
            app.include_router(demo_router(status))
        uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)
