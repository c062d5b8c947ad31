"""Building the amoCRM widget archive from `leadpact/widget/src/`.

amoCRM wants a zip with `manifest.json`, `script.js`, `i18n/{ru,en}.json` and `images/` (five logos of exact
sizes, each ≤ 300 KB) at its root. `check_widget_sources` lists every problem before anything is written.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from integration.i18n import LANGUAGES
from leadpact.widget.png import logo_png, png_size

WIDGET_SOURCE = Path(__file__).parent / "src"
DEFAULT_OUTPUT = Path("dist/widget.zip")
LOGO_SIZES: Mapping[str, tuple[int, int]] = {
    "logo_main.png": (400, 272),
    "logo_small.png": (108, 108),
    "logo_medium.png": (240, 84),
    "logo_min.png": (84, 84),
    "logo.png": (130, 100),
}
MAX_IMAGE_BYTES = 300 * 1024
CALLBACKS = ("render", "init", "bind_actions", "settings", "onSave", "destroy")
# A fixed timestamp makes two builds of the same sources byte-identical.
ZIP_TIMESTAMP = (2026, 1, 1, 0, 0, 0)


class WidgetBuildError(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def write_logos(images_dir: Path) -> list[Path]:
    """Draws the five logos at amoCRM's sizes into `images_dir`."""
    images_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (width, height) in LOGO_SIZES.items():
        path = images_dir / name
        path.write_bytes(logo_png(width, height))
        written.append(path)
    return written


def _lookup(texts: Mapping[str, Any], dotted: str) -> Any:
    value: Any = texts
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _load_json(path: Path, problems: list[str]) -> dict[str, Any]:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        problems.append(f"{path.name}: missing")
        return {}
    except json.JSONDecodeError as error:
        problems.append(f"{path.name}: invalid JSON ({error.msg}, line {error.lineno})")
        return {}
    if not isinstance(loaded, dict):
        problems.append(f"{path.name}: must be a JSON object")
        return {}
    return loaded


def check_widget_sources(source: Path = WIDGET_SOURCE) -> list[str]:
    """Every problem that would make amoCRM refuse the archive (empty when it is fine)."""
    problems: list[str] = []
    manifest = _load_json(source / "manifest.json", problems)
    widget = manifest.get("widget", {}) if manifest else {}
    if manifest:
        for key in ("name", "description", "short_description", "version", "interface_version", "locale"):
            if key not in widget:
                problems.append(f"manifest.json: widget.{key} missing")
        if "lcard-1" not in manifest.get("locations", []):
            problems.append("manifest.json: locations must include lcard-1 (the lead card)")
    keys: list[Any] = [widget.get(key) for key in ("name", "description", "short_description")]
    keys += [setting.get("name") for setting in (manifest.get("settings") or {}).values()]
    for lang in LANGUAGES:
        texts = _load_json(source / "i18n" / f"{lang}.json", problems)
        if not texts:
            continue
        for key in keys:
            if isinstance(key, str) and not isinstance(_lookup(texts, key), str):
                problems.append(f"i18n/{lang}.json: text {key} missing")
    script = source / "script.js"
    if not script.is_file():
        problems.append("script.js: missing")
    else:
        code = script.read_text(encoding="utf-8")
        if "define(" not in code:
            problems.append("script.js: must be an AMD module (define)")
        problems.extend(f"script.js: callback {name} missing" for name in CALLBACKS if f"{name}:" not in code)
    for name, expected in LOGO_SIZES.items():
        path = source / "images" / name
        if not path.is_file():
            problems.append(f"images/{name}: missing")
            continue
        data = path.read_bytes()
        try:
            size = png_size(data)
        except ValueError:
            problems.append(f"images/{name}: not a PNG")
            continue
        if size != expected:
            problems.append(f"images/{name}: {size[0]}×{size[1]}, must be {expected[0]}×{expected[1]}")
        if len(data) > MAX_IMAGE_BYTES:
            problems.append(f"images/{name}: {len(data)} bytes, at most {MAX_IMAGE_BYTES}")
    return problems


def widget_files(source: Path = WIDGET_SOURCE) -> list[Path]:
    names = ["manifest.json", "script.js"] + [f"i18n/{lang}.json" for lang in LANGUAGES]
    names += [f"images/{name}" for name in LOGO_SIZES]
    return [source / name for name in names]


def build_widget(out: Path = DEFAULT_OUTPUT, *, source: Path = WIDGET_SOURCE) -> Path:
    """Writes the archive amoCRM accepts to `out` (raises `WidgetBuildError` listing every problem)."""
    problems = check_widget_sources(source)
    if problems:
        raise WidgetBuildError(problems)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in widget_files(source):
            info = zipfile.ZipInfo(path.relative_to(source).as_posix(), date_time=ZIP_TIMESTAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes())
    return out
