"""The `leadpact` command line. Each area owns one sub-app module; this module only assembles them."""

from __future__ import annotations

import typer

from leadpact.cli import accounts, db, hypotheses, inbox, promos, report, rules, sandbox, serve, stats, widget

app = typer.Typer(
    name="leadpact",
    help="LeadPact — единое объективное определение качества лидов в amoCRM / one objective lead-quality "
    "definition inside amoCRM.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def use_demo(
    context: typer.Context,
    demo: bool = typer.Option(
        False,
        "--demo",
        help="Работать с запущенным демо (`leadpact serve` без учётных данных) / work on the running demo",
    ),
) -> None:
    context.obj = {"demo": demo}


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
app.add_typer(hypotheses.app, name="hypotheses")


def main() -> None:
    """`leadpact`: the commands, their help and the framework's errors in LEADPACT_LANGUAGE."""
    import sys

    from typer import Abort, rich_utils
    from typer._click.exceptions import ClickException, UsageError

    from integration.settings import Settings
    from leadpact.cli.language import RICH_TITLES_RU, localise_help, translate_usage_error

    try:
        lang = Settings().language
    except ValueError:  # a bad setting is reported by the command that reads it, in English if need be
        lang = "ru"
    command = typer.main.get_command(app)
    localise_help(command, lang)
    if lang == "ru":
        # Typer's help panels read these module constants when they draw; they are its customisation points.
        for name, value in RICH_TITLES_RU.items():
            setattr(rich_utils, name, value)
    try:
        result = command.main(prog_name="leadpact", standalone_mode=False)
    except UsageError as error:
        if type(error).__name__ != "NoArgsIsHelpError":  # the help was printed already
            rich_utils.rich_format_error(
                UsageError(translate_usage_error(error.format_message(), lang), ctx=error.ctx)
            )
        sys.exit(error.exit_code)
    except ClickException as error:
        rich_utils.rich_format_error(error)
        sys.exit(error.exit_code)
    except Abort:
        print(rich_utils.ABORTED_TEXT, file=sys.stderr)
        sys.exit(1)
    sys.exit(result if isinstance(result, int) else 0)
