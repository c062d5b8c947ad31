"""The form editor's common changes, written into the same rule file: thresholds (`params`), BANT's minimum met,
the norm of qualified leads, each channel's value lists (`{field: utm_source, in: [...]}`) and its experimental
flag. Everything else stays as the file has it, comments included: each change replaces the value on its own
line (or adds one `experimental: true` line), so the YAML diff shows exactly what the form changed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml


@dataclass(frozen=True, slots=True)
class ValueList:
    """One `{field: X, in: [...]}` condition of a channel, written on one line of the file."""

    field: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ChannelForm:
    """A channel as the form shows it: its value lists in file order and whether it is experimental."""

    name: str
    title: str
    lists: tuple[ValueList, ...] = ()
    experimental: bool = False


@dataclass(frozen=True, slots=True)
class FormValues:
    """What the form shows and sends: each threshold by name, BANT's minimum met, the qualified-share norm,
    and the channels (None: the form leaves the channels as they are)."""

    params: Mapping[str, str] = field(default_factory=dict)
    min_met: int | None = None
    qualified_share: float | None = None
    channels: tuple[ChannelForm, ...] | None = None


# A condition on a field's value list, in the flow style the rule files use: `{field: utm_source, in: [a, b]}`.
_VALUE_LIST = re.compile(r"\{\s*field:\s*([A-Za-z_][\w]*)\s*,\s*in:\s*(\[[^\]]*\])\s*\}")
_CHANNEL_START = re.compile(r"^(\s*)-\s+name:\s*(\S+)\s*(#.*)?$")


def _mapping(value: Any) -> dict[Any, Any]:
    return value if isinstance(value, dict) else {}


def form_values(text: str, lang: str = "ru") -> FormValues:
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
        channels=tuple(_channel_forms(text, data, lang)),
    )


def _channel_blocks(lines: list[str]) -> list[tuple[str, int, int]]:
    """(channel name, first line, end line) of each item of the top-level `channels:` list."""
    blocks: list[tuple[str, int, int]] = []
    inside = False
    for index, line in enumerate(lines):
        if re.match(r"^channels:\s*(#.*)?$", line):
            inside = True
            continue
        if inside and line and not line[0].isspace() and not line.startswith("#"):
            break
        started = _CHANNEL_START.match(line) if inside else None
        if started:
            if blocks:
                blocks[-1] = (blocks[-1][0], blocks[-1][1], index)
            blocks.append((started.group(2), index, index + 1))
        elif inside and blocks and line.strip():
            blocks[-1] = (blocks[-1][0], blocks[-1][1], index + 1)
    return blocks


def _title(channel: Mapping[str, Any], lang: str) -> str:
    title = channel.get("title")
    if isinstance(title, dict):
        return str(title.get(lang) or title.get("ru") or title.get("en") or channel.get("name"))
    return str(title or channel.get("name"))


def _channel_forms(text: str, data: Mapping[str, Any], lang: str) -> list[ChannelForm]:
    parsed = {
        str(channel.get("name")): channel
        for channel in data.get("channels") or []
        if isinstance(channel, dict) and channel.get("name") is not None
    }
    lines = text.split("\n")
    forms = []
    for name, start, end in _channel_blocks(lines):
        channel = parsed.get(name)
        if channel is None:
            continue
        lists = []
        for line in lines[start:end]:
            for found in _VALUE_LIST.finditer(line):
                values = yaml.safe_load(found.group(2)) or []
                lists.append(ValueList(found.group(1), tuple(str(v) for v in values)))
        forms.append(
            ChannelForm(
                name=name,
                title=_title(channel, lang),
                lists=tuple(lists),
                experimental=channel.get("experimental") is True,
            )
        )
    return forms


def flow_list(values: tuple[str, ...]) -> str:
    """`[a, b]` with every value YAML needs quoted (commas, colons, brackets, quotes, `#`…) quoted."""
    return str(
        yaml.safe_dump(list(values), default_flow_style=True, allow_unicode=True, width=1_000_000)
    ).strip()


def _apply_channel(lines: list[str], start: int, end: int, wanted: ChannelForm, current: ChannelForm) -> None:
    """Writes the channel's changed lists in place and sets or adds its experimental line."""
    occurrence = 0
    for index in range(start, end):

        def replace(found: re.Match[str]) -> str:
            nonlocal occurrence
            position = occurrence
            occurrence += 1
            if position >= len(wanted.lists) or position >= len(current.lists):
                return found.group(0)
            if wanted.lists[position].values == current.lists[position].values:
                return found.group(0)
            head = found.group(0)[: found.start(2) - found.start(0)]
            tail = found.group(0)[found.end(2) - found.start(0) :]
            return head + flow_list(wanted.lists[position].values) + tail

        lines[index] = _VALUE_LIST.sub(replace, lines[index])
    if wanted.experimental == current.experimental:
        return
    for index in range(start, end):
        flag = re.match(r"^(\s+experimental:\s*)(\S+)(\s*#.*)?$", lines[index])
        if flag:
            value = "true" if wanted.experimental else "false"
            lines[index] = f"{flag.group(1)}{value}{flag.group(3) or ''}"
            return
    if not wanted.experimental:
        return
    indent = len(lines[start]) - len(lines[start].lstrip(" -"))
    after = start
    for index in range(start + 1, end):
        if re.match(rf"^\s{{{indent}}}title:", lines[index]):
            after = index
            break
    lines.insert(after + 1, " " * indent + "experimental: true")


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
    if values.channels is not None:
        wanted = {channel.name: channel for channel in values.channels}
        now = {channel.name: channel for channel in current.channels or ()}
        lines = text.split("\n")
        # From the last channel up, so an added line does not shift the blocks still to write.
        for name, start, end in reversed(_channel_blocks(lines)):
            if name in wanted and name in now:
                _apply_channel(lines, start, end, wanted[name], now[name])
        text = "\n".join(lines)
    return text
