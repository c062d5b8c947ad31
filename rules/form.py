"""The form editor's common changes, written into the same rule file: thresholds (`params`), BANT's minimum met
and the norm of qualified leads. Everything else stays as the file has it, comments included: each change
replaces the value on its own line, so the YAML diff shows exactly what the form changed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml


@dataclass(frozen=True, slots=True)
class FormValues:
    """What the form shows and sends: each threshold by name, BANT's minimum met, the qualified-share norm."""

    params: Mapping[str, str] = field(default_factory=dict)
    min_met: int | None = None
    qualified_share: float | None = None


def _mapping(value: Any) -> dict[Any, Any]:
    return value if isinstance(value, dict) else {}


def form_values(text: str) -> FormValues:
    """The current values of a rule file for the form (values it does not have are None / absent)."""
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError:
        return FormValues()
    if not isinstance(data, dict):
        return FormValues()
    params = _mapping(data.get("params"))
    qualified = _mapping(data.get("qualified"))
    norms = _mapping(data.get("norms"))
    min_met = qualified.get("min_met")
    share = norms.get("qualified_share")
    return FormValues(
        params={str(k): str(v) for k, v in params.items()},
        min_met=min_met if isinstance(min_met, int) and not isinstance(min_met, bool) else None,
        qualified_share=float(share)
        if isinstance(share, int | float) and not isinstance(share, bool)
        else None,
    )


def _replace_in_block(text: str, block: str, key: str, value: Any) -> str:
    """`key: …` inside the top-level `block:` mapping gets `value` (the line's indent and comment are kept)."""
    lines = text.split("\n")
    inside = False
    for index, line in enumerate(lines):
        if re.match(rf"^{re.escape(block)}:\s*(#.*)?$", line):
            inside = True
            continue
        if inside and line and not line[0].isspace() and not line.startswith("#"):
            break
        match = re.match(rf"^(\s+{re.escape(key)}:\s*)([^#]*?)(\s*#.*)?$", line) if inside else None
        if match:
            lines[index] = f"{match.group(1)}{value}{match.group(3) or ''}"
            return "\n".join(lines)
    return text


def apply_form(text: str, values: FormValues) -> str:
    """The rule file with the form's values written in; a value equal to the file's leaves its line untouched."""
    current = form_values(text)
    for name, value in values.params.items():
        if name in current.params and current.params[name] != value.strip():
            text = _replace_in_block(text, "params", name, value.strip())
    if values.min_met is not None and values.min_met != current.min_met:
        text = _replace_in_block(text, "qualified", "min_met", values.min_met)
    if values.qualified_share is not None and values.qualified_share != current.qualified_share:
        text = _replace_in_block(text, "norms", "qualified_share", f"{values.qualified_share:g}")
    return text
