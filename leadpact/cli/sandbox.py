"""`leadpact sandbox`: a local amoCRM with a seeded demo account, for the demo and for trying LeadPact out."""

from __future__ import annotations

import gc
from typing import Annotated

import typer
import uvicorn

from amocrm_sandbox import SandboxConfig, create_sandbox_app
from amocrm_sandbox.config import DEFAULT_REDIRECT_URI
from amocrm_sandbox.state import SandboxState
from integration.i18n import Language, Text
from leadpact.demo import DEMO_ACCOUNT_HELP, known_demo_account

STARTED = Text(
    ru="Песочница amoCRM запущена: {url}",
    en="amoCRM sandbox is running: {url}",
)
CREDENTIALS = Text(
    ru="Интеграция: client_id={client_id} client_secret={client_secret} redirect_uri={redirect_uri}",
    en="Integration: client_id={client_id} client_secret={client_secret} redirect_uri={redirect_uri}",
)
ACCOUNT = Text(
    ru="Аккаунт: {subdomain} (id {account_id}), сделок: {leads}; вход: {url}/oauth?client_id={client_id}",
    en="Account: {subdomain} (id {account_id}), leads: {leads}; sign in: {url}/oauth?client_id={client_id}",
)
HELP = Text(
    ru="Запустить локальную песочницу amoCRM API v4 с демо-аккаунтом.",
    en="Run a local amoCRM API v4 sandbox with a demo account.",
)


def describe(state: SandboxState, url: str, lang: Language) -> list[str]:
    """The lines printed at start: where the sandbox listens, its credentials and the demo account."""
    config = state.config
    lines = [
        STARTED(lang, url=url),
        CREDENTIALS(
            lang,
            client_id=config.client_id,
            client_secret=config.client_secret,
            redirect_uri=config.redirect_uri,
        ),
    ]
    for account in state.accounts.values():
        lines.append(
            ACCOUNT(
                lang,
                subdomain=account.subdomain,
                account_id=account.id,
                leads=len(account.leads),
                url=url,
                client_id=config.client_id,
            )
        )
    return lines


def register(app: typer.Typer) -> None:
    """Adds the command to the top-level app."""

    @app.command("sandbox", help=f"{HELP('ru')} / {HELP('en')}")
    def sandbox(
        port: Annotated[int, typer.Option(help="Port / порт")] = 8100,
        host: Annotated[str, typer.Option(help="Host / адрес")] = "127.0.0.1",
        leads: Annotated[int, typer.Option(help="Demo leads / демо-сделок", min=0)] = 200,
        redirect_uri: Annotated[
            str, typer.Option(help="Integration redirect URI / адрес возврата")
        ] = DEFAULT_REDIRECT_URI,
        seed: Annotated[int, typer.Option(help="Random seed / зерно генератора")] = 42,
        lang: Annotated[str, typer.Option(help="ru | en")] = "ru",
        demo_account: Annotated[
            str, typer.Option(help=DEMO_ACCOUNT_HELP, callback=known_demo_account)
        ] = "demo",
    ) -> None:
        language: Language = "en" if lang == "en" else "ru"
        config = SandboxConfig(
            redirect_uri=redirect_uri,
            seed_demo=True,
            demo_leads=leads,
            random_seed=seed,
            demo_account=demo_account,
        )
        sandbox_app = create_sandbox_app(config)
        for line in describe(sandbox_app.state.sandbox, f"http://{host}:{port}", language):
            typer.echo(line)
        # The seeded world lives as long as the process: keep the collector from re-scanning it on every cycle
        # (full collections over many thousands of leads otherwise stall requests for hundreds of ms).
        gc.freeze()
        uvicorn.run(sandbox_app, host=host, port=port, log_level="warning")
