"""The import contracts in `.importlinter` hold for the tree, and each one fails `lint-imports` when broken."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / ".importlinter"
PACKAGES = ("leadpact", "webhooks", "sync", "integration", "rules", "amocrm_sandbox")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` with the project's contracts over the packages found under `root`."""
    env = {**os.environ, "PYTHONPATH": str(root), "COLUMNS": "1000", "NO_COLOR": "1"}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(CONFIG), "--no-cache", "--no-logo"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def tree_copy(tmp_path: Path) -> Path:
    """A copy of the six top-level packages (Python files only) that a test may break."""
    for package in PACKAGES:
        shutil.copytree(
            REPO / package,
            tmp_path / package,
            ignore=lambda _dir, names: [
                n for n in names if not n.endswith(".py") and not (Path(_dir) / n).is_dir()
            ],
        )
    return tmp_path


def test_the_tree_keeps_every_contract() -> None:
    """The code as committed keeps every contract, so CI's `lint-imports` passes."""
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        # An adapter reaching up into the application layer.
        ("integration/_probe.py", "import webhooks.worker", "Layers:"),
        # The domain reaching up to the shell: a cycle between top-level packages.
        ("rules/_probe.py", "import leadpact.cli", "Layers:"),
        ("rules/_probe.py", "import integration.settings", "rules imports nothing of LeadPact outside rules"),
        ("sync/writeback.py", "import integration.db", "The pure parts of sync"),
        (
            "amocrm_sandbox/_probe.py",
            "import integration.settings",
            "The sandbox imports nothing of LeadPact",
        ),
        ("webhooks/_probe.py", "import amocrm_sandbox", "Production reaches the sandbox only through"),
        (
            "leadpact/admin/_probe.py",
            "import amocrm_sandbox.state",
            "Production reaches the sandbox only through",
        ),
        ("amocrm_sandbox/world.py", "import amocrm_sandbox.state", "No cycles between sibling modules"),
    ],
)
def test_breaking_a_contract_fails_lint_imports(
    tree_copy: Path, module: str, line: str, contract: str
) -> None:
    """One import that breaks a contract makes `lint-imports` fail and name that contract."""
    target = tree_copy / module
    existing = target.read_text() if target.exists() else ""
    target.write_text(f"{existing}\n{line}  # noqa\n")
    result = lint_imports(tree_copy)
    assert result.returncode != 0, result.stdout
    broken = [row for row in result.stdout.splitlines() if " BROKEN" in row]
    assert any(row.startswith(contract) for row in broken), result.stdout
