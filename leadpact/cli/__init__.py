"""The `leadpact` command line. Each area owns one sub-app module; this module only assembles them."""

from __future__ import annotations

import typer

from leadpact.cli import accounts, db, inbox, promos, report, rules, sandbox, serve, stats, widget

app = typer.Typer(
    name="leadpact",
    help="LeadPact — единое объективное определение качества лидов в amoCRM / one objective lead-quality "
    "definition inside amoCRM.",
    no_args_is_help=True,
    add_completion=False,
)
serve.register(app)
sandbox.register(app)
app.add_typer(db.app, name="db")
app.add_typer(accounts.app, name="accounts")
app.add_typer(rules.app, name="rules")
app.add_typer(inbox.app, name="inbox")
app.add_typer(promos.app, name="promos")
app.add_typer(promos.events_app, name="events")
app.add_typer(stats.app, name="stats")
stats.register(app)
app.add_typer(widget.app, name="widget")
app.add_typer(report.app, name="report")


def main() -> None:
    app()
