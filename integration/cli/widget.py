"""`leadpact widget …` commands."""

from __future__ import annotations

import typer

app = typer.Typer(help="widget", no_args_is_help=True)
