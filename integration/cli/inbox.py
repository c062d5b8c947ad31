"""`leadpact inbox …` commands."""

from __future__ import annotations

import typer

app = typer.Typer(help="inbox", no_args_is_help=True)
