"""The app emits a Qt signal for every live picture (16 tiles at 15 fps: 240 a second). PySide6
6.12.0's ``Signal.emit()`` dropped a reference to ``True`` on every call; on Python 3.11, where
``True`` is an ordinary object, the app then aborted with "bool_dealloc" within a minute of live view
(the live-view benchmark found it). pyproject.toml keeps that release out; this is the check to
run before letting a newer one in. It runs in a process of its own: the bug kills the process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EMITS = 5000

PROBE = textwrap.dedent(
    f"""
    import json, sys
    from PySide6.QtGui import QImage
    from PySide6.QtWidgets import QApplication
    from ui.tiles import FramePuller

    app = QApplication([])
    puller = FramePuller(None, lambda: [], interval_ms=10**6)  # no tick: only its signal is used
    got = []
    puller.imageReady.connect(lambda cam, seq, img: got.append(seq))
    img = QImage(8, 8, QImage.Format.Format_RGB888)
    before = sys.getrefcount(True), sys.getrefcount(False)
    for seq in range({EMITS}):
        puller.imageReady.emit("cam", seq, img)
    after = sys.getrefcount(True), sys.getrefcount(False)
    puller.stop()
    print(json.dumps({{"before": before, "after": after, "got": len(got)}}))
    """
)


def test_emitting_a_live_picture_leaves_the_interpreter_s_booleans_alone():
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, env=env, cwd=ROOT
    )
    assert run.returncode == 0, f"the probe died ({run.returncode}): {run.stderr[-2000:]}"
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["got"] == EMITS
    for name, before, after in zip(("True", "False"), out["before"], out["after"], strict=True):
        assert abs(after - before) < EMITS // 10, f"{EMITS} emits moved {name}'s refcount {before} -> {after}"
