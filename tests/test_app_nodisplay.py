"""``porchlight`` without a command on a machine without a display: a clear pointer to ``porchlight
serve`` and a non-zero exit, never a Qt abort or a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DISPLAY_VARS = ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")


def _headless_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in DISPLAY_VARS}


@pytest.mark.parametrize("how", ["module", "console-script"])
def test_no_display_points_at_serve(tmp_path, how):
    if how == "module":
        cmd = [sys.executable, "-m", "cli"]
    else:
        script = Path(sys.executable).with_name("porchlight")
        if not script.exists():
            pytest.fail(f"console script missing: {script} (pip install -e .)")
        cmd = [str(script)]
    data = tmp_path / "data"
    t0 = time.monotonic()
    r = subprocess.run(
        cmd + ["--data-dir", str(data)],
        capture_output=True,
        text=True,
        env=_headless_env(),
        cwd=REPO_ROOT,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    elapsed = time.monotonic() - t0
    assert r.returncode > 0, (r.returncode, r.stderr)  # negative: killed by a signal (Qt's abort)
    assert "porchlight serve" in r.stderr, r.stderr
    assert "display" in r.stderr.lower(), r.stderr
    assert "Traceback" not in r.stderr and "qt.qpa" not in r.stderr, r.stderr
    assert elapsed < 30
    # Nothing was started: no hub lock taken, no recordings folder prepared.
    assert not (data / "hub.lock").exists()
    assert not (data / "recordings").exists()


def test_no_display_does_not_load_qt(tmp_path):
    """The check happens before PySide6 is imported (importing it is what aborts without a platform)."""
    code = (
        "import sys, cli.main as l; rc = l.main(['--data-dir', sys.argv[1]]); "
        "print(rc, any(m.startswith('PySide6') for m in sys.modules))"
    )
    r = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "data")],
        capture_output=True,
        text=True,
        env=_headless_env(),
        cwd=REPO_ROOT,
        timeout=60,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    rc, qt_loaded = r.stdout.split()
    assert int(rc) != 0 and qt_loaded == "False", r.stdout
