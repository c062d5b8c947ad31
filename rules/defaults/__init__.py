"""The default rule pack shipped with LeadPact."""

from __future__ import annotations

from importlib import resources


def default_rules_text() -> str:
    """The text of the default rule pack (`rules/defaults/default.yaml`)."""
    return resources.files(__package__).joinpath("default.yaml").read_text(encoding="utf-8")
