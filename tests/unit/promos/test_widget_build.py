"""`leadpact widget build` makes an archive amoCRM accepts, or lists what is wrong."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leadpact.cli import app as leadpact_cli
from leadpact.widget.build import (
    LOGO_SIZES,
    WIDGET_SOURCE,
    WidgetBuildError,
    build_widget,
    check_widget_sources,
)
from leadpact.widget.png import logo_png, png_size


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    copy = tmp_path / "src"
    shutil.copytree(WIDGET_SOURCE, copy)
    return copy


class TestArchive:
    def test_archive_has_amocrms_layout_at_its_root(self, tmp_path: Path) -> None:
        """The zip holds manifest, script, both languages and the five logos, at the root."""
        out = build_widget(tmp_path / "dist" / "widget.zip")
        with zipfile.ZipFile(out) as archive:
            names = set(archive.namelist())
            manifest = json.loads(archive.read("manifest.json"))
            sizes = {name: png_size(archive.read(f"images/{name}")) for name in LOGO_SIZES}
        assert {"manifest.json", "script.js", "i18n/ru.json", "i18n/en.json"} <= names
        assert sizes == dict(LOGO_SIZES)
        assert "lcard-1" in manifest["locations"]
        assert manifest["widget"]["interface_version"] == 2

    def test_two_builds_are_identical(self, tmp_path: Path) -> None:
        """Building twice from the same sources gives the same bytes, so releases are reproducible."""
        first = build_widget(tmp_path / "a.zip").read_bytes()
        second = build_widget(tmp_path / "b.zip").read_bytes()
        assert first == second

    def test_every_manifest_text_exists_in_both_languages(self) -> None:
        """Names, descriptions and setting labels shown by amoCRM exist in Russian and English."""
        assert check_widget_sources() == []


class TestRefusals:
    def test_wrong_logo_size_is_refused(self, sources: Path, tmp_path: Path) -> None:
        """A logo of the wrong size is named with its actual and expected size, and no zip is written."""
        (sources / "images" / "logo_min.png").write_bytes(logo_png(80, 80))
        with pytest.raises(WidgetBuildError) as raised:
            build_widget(tmp_path / "w.zip", source=sources)
        assert raised.value.problems == ["images/logo_min.png: 80×80, must be 84×84"]
        assert not (tmp_path / "w.zip").exists()

    def test_missing_translation_is_refused(self, sources: Path) -> None:
        """A setting label missing from the English file is reported."""
        english = json.loads((sources / "i18n" / "en.json").read_text(encoding="utf-8"))
        del english["settings"]["backend_url"]
        (sources / "i18n" / "en.json").write_text(json.dumps(english), encoding="utf-8")
        assert check_widget_sources(sources) == ["i18n/en.json: text settings.backend_url missing"]

    def test_missing_callback_is_refused(self, sources: Path) -> None:
        """A script without amoCRM's destroy callback is refused."""
        script = sources / "script.js"
        script.write_text(
            script.read_text(encoding="utf-8").replace("destroy:", "teardown:"), encoding="utf-8"
        )
        assert check_widget_sources(sources) == ["script.js: callback destroy missing"]


class TestCommand:
    def test_cli_builds_to_the_requested_path(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """`leadpact widget build --out PATH` writes the zip there and says so."""
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("LEADPACT_LANGUAGE", "en")
        result = CliRunner().invoke(leadpact_cli, ["widget", "build", "--out", "out/w.zip"])
        assert result.exit_code == 0, result.output
        assert (tmp_path / "out" / "w.zip").is_file()
        assert "out/w.zip" in result.output


class TestPng:
    def test_png_writer_round_trips_its_size(self) -> None:
        """Generated logos are valid PNGs of the requested size."""
        data = logo_png(130, 100)
        assert data.startswith(b"\x89PNG") and png_size(data) == (130, 100)
