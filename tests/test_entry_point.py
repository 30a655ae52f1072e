"""The installed ``porchlight`` console script works on its own: from another folder, with no
``PYTHONPATH`` (conftest puts the repo root on the path, which would hide a package missing from the
install), every package it needs is found and its commands run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _installed_script() -> Path:
    script = Path(sys.executable).with_name("porchlight")
    if not script.exists():
        pytest.fail(f"console script missing: {script} (pip install -e .)")
    return script


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHON_KEYRING_BACKEND")}
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"  # never the owner's real keyring
    return subprocess.run(
        [str(_installed_script()), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_console_script_from_another_folder(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    data = tmp_path / "data"
    r = _run(elsewhere, "--help")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: porchlight"), r.stdout
    for group in ("cameras", "discover", "serve", "status", "recordings", "events", "export", "storage"):
        assert f"\n    {group} " in r.stdout, (group, r.stdout)

    r = _run(elsewhere, "--data-dir", str(data), "demo-camera", "add", "--name", "Yard")
    assert r.returncode == 0, r.stderr
    r = _run(elsewhere, "--data-dir", str(data), "cameras", "list", "--json")
    assert r.returncode == 0, r.stderr
    assert [c["name"] for c in json.loads(r.stdout)] == ["Yard"]
    r = _run(elsewhere, "--data-dir", str(data), "cameras", "remove", "Nobody")
    assert r.returncode == 1 and r.stderr.startswith("porchlight: error: no camera named"), r.stderr
    assert not any(elsewhere.iterdir())  # nothing written where it was started


def test_script_imports_only_installed_packages(tmp_path):
    """Each top-level package the script reaches resolves through the install, not the working folder."""
    code = (
        "import importlib, json, sys; "
        "print(json.dumps({p: importlib.import_module(p).__file__ for p in sys.argv[1:]}))"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run(
        [sys.executable, "-c", code, "cli", "cli.main", "hub", "ui", "drivers"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    for package, path in json.loads(r.stdout).items():
        assert Path(path).resolve().is_relative_to(REPO_ROOT), (package, path)


def test_the_cli_loads_no_engine_to_parse_its_arguments():
    """``porchlight --help`` (and any usage error) answers without loading the index, PyAV, OpenCV,
    Qt or the keyring: the CLI holds only the Hub API's values until a command calls it."""
    heavy = ("sqlalchemy", "alembic", "av", "cv2", "numpy", "PySide6", "keyring", "zeep", "hub.db", "hub.hub")
    code = (
        "import sys, json, cli.main; cli.main.build_parser(); "
        f"print(json.dumps([m for m in {heavy!r} if m in sys.modules]))"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == []
