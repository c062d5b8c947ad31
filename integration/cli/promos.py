"""`leadpact promos …` commands."""

from __future__ import annotations

import typer

app = typer.Typer(help="promos", no_args_is_help=True)
