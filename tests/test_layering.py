"""Layering: ``hub/``, ``drivers/`` and ``cli/`` never import Qt (so ``porchlight serve`` runs headless),
checked by importing every module in a fresh interpreter and by the import-linter contracts in
pyproject.toml."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _probe(*packages: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    r = subprocess.run(
        [sys.executable, "-m", "tests.support.import_probe", *packages],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=env,
        timeout=120,
        check=False,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def _modules_on_disk(package: str) -> set[str]:
    root = REPO_ROOT / package
    out = set()
    for path in root.rglob("*.py"):
        rel = path.relative_to(REPO_ROOT).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        out.add(".".join(parts))
    return out


def test_hub_and_drivers_import_without_qt():
    result = _probe("hub", "drivers")
    assert not result["failed"], result["failed"]
    assert not result["qt"], f"Qt loaded by hub/drivers: {result['qt'][:10]}"
    # Every module on disk was imported (the walk did not silently skip a subpackage).
    expected = (_modules_on_disk("hub") | _modules_on_disk("drivers")) - {"hub.db.migrations.env"}
    missing = sorted(expected - set(result["imported"]))
    assert not missing, f"not imported: {missing}"
    assert len(result["imported"]) >= 40


def test_cli_imports_without_qt():
    """Every command module loads without Qt: only ``porchlight`` with no command opens the app."""
    result = _probe("cli")
    assert not result["failed"], result["failed"]
    assert not result["qt"], f"Qt loaded by cli: {result['qt'][:10]}"
    missing = sorted(_modules_on_disk("cli") - {"cli.__main__"} - set(result["imported"]))
    assert not missing, f"not imported: {missing}"


def test_probe_detects_qt():
    """The check above can fail: the ui package does load PySide6."""
    result = _probe("ui")
    assert any(m.startswith("PySide6") for m in result["qt"]), result["qt"][:5]


def test_import_linter_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    if not lint.exists():
        pytest.fail(f"lint-imports not installed next to {sys.executable} (pip install -e '.[test]')")
    r = subprocess.run(
        [str(lint), "--no-cache"], capture_output=True, text=True, cwd=REPO_ROOT, timeout=300, check=False
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "0 broken" in r.stdout and "hub and drivers never import Qt KEPT" in r.stdout, r.stdout[-2000:]
