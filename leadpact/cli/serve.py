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
        demo_leads: int = typer.Option(200, help="Demo leads in the sandbox / демо-лидов в песочнице"),
        worker: bool = typer.Option(True, help="Run the worker in-process / воркер в этом процессе"),
        demo_account: Annotated[
            str, typer.Option(help=DEMO_ACCOUNT_HELP, callback=_known_demo_account)
        ] = "demo",
    ) -> None:
        configure_logging()
        settings = Settings()
        run_serve(
            settings, host=host, port=port, demo_leads=demo_leads, worker=worker, demo_account=demo_account
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
    settings: Settings, *, host: str, port: int, demo_leads: int, worker: bool, demo_account: str = "demo"
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
            from integration.servers import free_port, serve_in_thread
            from leadpact.demo import demo_sandbox_app, demo_settings, install_into_sandbox

            public_url = settings.public_url
            sandbox_port = free_port()
            plan = demo_settings(
                settings, public_url=public_url, sandbox_url=f"http://127.0.0.1:{sandbox_port}"
            )
            sandbox = demo_sandbox_app(
                plan, public_url=public_url, demo_leads=demo_leads, demo_account=demo_account
            )
            sandbox_url = stack.enter_context(serve_in_thread(sandbox, port=sandbox_port))
            typer.echo(
                STARTING_DEMO(settings.language, url=sandbox_url, leads=demo_leads, shape=demo_account)
            )
            settings = plan.settings
            if "database_url" not in settings.model_fields_set:
                # The sandbox is a fresh in-memory amoCRM on every start, so the demo's database starts fresh too.
                settings = settings.model_copy(
                    update={"database_url": fresh_demo_database(settings.data_dir)}
                )
            tasks.append(install_into_sandbox)
        app = create_app(
            settings, background=tuple(tasks), warm_reports=worker, demo=not settings_had_credentials
        )
        if not settings_had_credentials:
            from leadpact.demo import demo_router

            app.include_router(demo_router())
        uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)
