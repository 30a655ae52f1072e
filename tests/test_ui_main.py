"""The desktop window on a real hub: live tiles, recording state, first-run demo camera."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from hub.db import repo_config
from tests.support.hubtools import camera, configure, segments, start_hub, wait_for
from ui import tasks
from ui.main_window import MainWindow


@pytest.fixture
def demo_hub(tmp_path):
    data = tmp_path / "data"
    (cfg,) = configure(data, [camera("Front door", None, driver="demo", mode="continuous")])
    hub = start_hub(data)
    yield hub, cfg
    hub.stop()


def test_tile_shows_live_picture_and_recording_state(qtbot, demo_hub):
    hub, cfg = demo_hub
    window = MainWindow()
    qtbot.addWidget(window)
    window.attach(hub)
    window.show()

    def tile():  # looked up each time: a camera list change rebuilds the tiles
        return window.tiles[cfg.id]

    assert tile().title.text() == "Front door"
    qtbot.waitUntil(lambda: tile().state == "recording", timeout=20000)
    assert "Recording" in tile().badge.text()
    qtbot.waitUntil(lambda: not tile().picture.pixmap().isNull(), timeout=20000)
    first = tile().frame_seq
    qtbot.waitUntil(lambda: tile().frame_seq > first, timeout=5000)  # the picture is live, not a still
    # The tile reads a live view's shared-memory slot, which the hub removes once nobody watches.
    (lease,) = hub.viewers.leases()
    assert lease.camera_id == cfg.id and lease.sink is not None and lease.sink.path.exists()
    window.close()
    assert hub.viewers.leases() == [] and not lease.sink.path.exists()


def test_empty_window_offers_the_demo_camera(qtbot, tmp_path):
    data = tmp_path / "data"
    configure(data, [])
    hub = start_hub(data)
    try:
        window = MainWindow()
        qtbot.addWidget(window)
        window.attach(hub)
        window.show()
        assert window.tiles == {} and window.empty_label.isVisible()
        qtbot.mouseClick(window.demo_button, qtbot_button())
        qtbot.waitUntil(lambda: len(window.tiles) == 1, timeout=10000)
        assert not window.empty_label.isVisible()
        assert [c.driver for c in repo_config.list_cameras(hub.engine)] == ["demo"]
        # A second "Demo" is refused by the hub: the window says why, and the index keeps one camera.
        qtbot.waitUntil(window.demo_button.isEnabled, timeout=5000)
        window.demo_button.click()
        qtbot.waitUntil(lambda: "already exists" in window.statusBar().currentMessage(), timeout=10000)
        assert window.demo_button.isEnabled()
        assert len(repo_config.list_cameras(hub.engine)) == 1 and len(window.tiles) == 1
        window.close()
    finally:
        hub.stop()
        tasks.shutdown()  # as the app does at exit: no worker thread outlives the window


def qtbot_button():
    from PySide6.QtCore import Qt

    return Qt.MouseButton.LeftButton


@pytest.mark.slow
def test_app_process_records_and_quits_cleanly_on_sigterm(tmp_path):
    data = tmp_path / "data"
    (cfg,) = configure(data, [camera("Demo", None, driver="demo", mode="continuous")], segment_seconds=2.0)
    # PYTHONFAULTHANDLER: if the app hangs on the way out, SIGABRT prints every thread's stack.
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONFAULTHANDLER="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "--data-dir", str(data)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: len(segments(data, cfg.id)) >= 2 or proc.poll() is not None, 40, "the app recording")
        assert proc.poll() is None, proc.communicate()
        time.sleep(1.0)  # mid-segment
        proc.send_signal(signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)
            _out, stacks = proc.communicate(timeout=10)
            pytest.fail(f"the app did not quit within 30 s of SIGTERM; its threads were:\n{stacks}")
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    segs = segments(data, cfg.id)
    assert segs[-1].frames > 0  # the segment open at SIGTERM was finalized and indexed
