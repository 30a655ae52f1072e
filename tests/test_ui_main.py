"""The desktop window as a client of a hub: live tiles, recording state, the first-run demo camera,
and the hub stopping under it. The window knows the hub only through the Hub API: in-process here
(LocalHub, a real hub) and over hub.sock to a real ``porchlight serve``."""

from __future__ import annotations

import dataclasses

import msgspec
import pytest

from hub.api.local import LocalHub
from tests.support.apitools import ServedHub
from tests.support.clitools import ok, run_cli
from tests.support.hubtools import camera, configure
from tests.support.uitools import live_tile
from ui import tasks
from ui.main_window import HubView, MainWindow


@pytest.fixture
def window(qtbot):
    win = MainWindow()
    qtbot.addWidget(win)
    yield win
    win.close()
    tasks.shutdown()  # as the app does at exit: no worker thread outlives the window


def test_tile_shows_live_picture_and_recording_state(qtbot, window, tmp_path):
    data = tmp_path / "data"
    (cfg,) = configure(data, [camera("Front door", None, driver="demo", mode="continuous")])
    with LocalHub.start(data) as api:
        window.attach(api)
        window.show()
        tile = live_tile(qtbot, window, cfg.id)
        assert tile.title.text() == "Front door"
        assert "Recording into" in window.statusBar().currentMessage()
        # The tile reads a live view's shared-memory slot, which the hub removes once nobody watches.
        (lease,) = api.hub.viewers.leases()
        assert lease.camera_id == cfg.id and lease.sink is not None and lease.sink.path.exists()
        window.close()
        assert api.hub.viewers.leases() == [] and not lease.sink.path.exists()


def test_a_tile_shown_again_shows_its_new_live_view_at_once(qtbot, window, tmp_path):
    """Hiding the tiles ends their live views; shown again, a tile gets a new view whose slot counts
    from 1 again: it shows that view's pictures at once, not once the old count is passed (a tile
    that had been shown for an hour would have stayed frozen for an hour)."""
    data = tmp_path / "data"
    (cfg,) = configure(data, [camera("Porch", None, driver="demo", mode="continuous")])
    with LocalHub.start(data) as api:
        window.attach(api)
        window.show()
        tile = live_tile(qtbot, window, cfg.id)
        qtbot.waitUntil(lambda: tile.frame_seq >= 30, timeout=20000)  # 3 s of the demo's 10 fps
        window.hide()
        qtbot.waitUntil(lambda: api.hub.viewers.leases() == [], timeout=5000)
        before = tile.frame_seq
        window.show()
        qtbot.waitUntil(lambda: tile.frame_seq != before, timeout=10000)
        assert tile.frame_seq < before  # a picture of the new view, not one counted past the old


def test_a_view_loaded_before_a_notice_does_not_take_the_tile_back(qtbot, window, tmp_path):
    """The window loads what it shows off the GUI thread while notices keep coming: a camera list
    change asks again, and that answer may land after a newer state notice. The tile keeps the
    newer state."""
    data = tmp_path / "data"
    (cfg,) = configure(data, [camera("Front door", None, driver="demo", mode="continuous")])
    with LocalHub.start(data) as api:
        loaded = HubView.load(api)
        (early,) = loaded.status.cameras
        stale = dataclasses.replace(
            loaded,
            status=msgspec.structs.replace(
                loaded.status, cameras=(msgspec.structs.replace(early, state="connecting"),)
            ),
        )
        window.attach(api)
        window.show()
        tile = live_tile(qtbot, window, cfg.id)
        window._show((api, stale))  # the late answer: the tiles are built again from it
        tile = window.tiles[cfg.id]
        assert tile.state == "recording" and "Recording" in tile.badge.text()


def test_empty_window_offers_the_demo_camera(qtbot, window, tmp_path):
    data = tmp_path / "data"
    configure(data, [])
    with LocalHub.start(data) as api:
        window.attach(api)
        window.show()
        qtbot.waitUntil(window.empty_label.isVisible, timeout=10000)
        assert window.tiles == {}
        qtbot.mouseClick(window.demo_button, qtbot_button())
        # The hub tells the window that a camera came (a notice), and the window shows it.
        qtbot.waitUntil(lambda: len(window.tiles) == 1, timeout=10000)
        assert not window.empty_label.isVisible()
        assert [c.driver for c in api.cameras()] == ["demo"]
        # A second "Demo" is refused by the hub: the window says why, and the hub keeps one camera.
        qtbot.waitUntil(window.demo_button.isEnabled, timeout=5000)
        window.demo_button.click()
        qtbot.waitUntil(lambda: "already exists" in window.statusBar().currentMessage(), timeout=10000)
        assert window.demo_button.isEnabled()
        assert len(api.cameras()) == 1 and len(window.tiles) == 1


def test_window_on_a_hub_process_and_the_hub_stopping(qtbot, window, tmp_path):
    """Over hub.sock to a real serve: tiles are live (frames from its shared memory) and follow its
    notices; when the hub stops (``porchlight stop``), the window says so and no tile claims to
    record; closing the window then ends cleanly."""
    data = tmp_path / "data"
    ok(run_cli(data, "demo-camera", "add", "--mode", "continuous"))
    ok(run_cli(data, "storage", "set", "--min-free", "64M"))
    with ServedHub.start(data) as api:
        (cam,) = api.cameras()
        window.attach(api)
        window.show()
        live_tile(qtbot, window, cam.id)
        assert window.hub_pid == api.hub_pid and window.stop_action.isEnabled()
        assert api.status().cameras[0].watched == ("detect",)  # the tile's live view
        ok(run_cli(data, "stop"))
        qtbot.waitUntil(lambda: "hub stopped" in window.statusBar().currentMessage(), timeout=15000)
        assert window.tiles[cam.id].state == "hub_gone" and "stopped" in window.tiles[cam.id].badge.text()
        assert not window.stop_action.isEnabled()
        assert api.serve.wait(30) == 0


def test_quit_and_stop_recording_stops_the_hub(qtbot, window, tmp_path):
    data = tmp_path / "data"
    configure(data, [])
    with ServedHub.start(data) as api:
        window.attach(api)
        window.show()
        qtbot.waitUntil(window.stop_action.isEnabled, timeout=10000)
        with qtbot.waitSignal(window.hubStopped, timeout=30000):
            window.stop_action.trigger()
        assert api.serve.wait(30) == 0  # the hub process ended on its own: stopped through the API
        qtbot.waitUntil(lambda: not window.isVisible(), timeout=5000)


def _answer_modal(qtbot, button_text: str, seen: list[str]) -> None:
    """Click ``button_text`` in the next modal dialog (which blocks the test until answered)."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    def click() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(50, click)
            return
        seen.append(box.text())
        (button,) = [b for b in box.buttons() if b.text() == button_text]
        button.click()

    QTimer.singleShot(50, click)


def _attached_window(qtbot, api, settings) -> MainWindow:
    """A shown window with app settings, attached to ``api`` once it follows the hub."""
    window = MainWindow(settings)
    qtbot.addWidget(window)
    window.attach(api)
    window.show()
    qtbot.waitUntil(window.stop_action.isEnabled, timeout=10000)
    return window


def _settings(tmp_path):
    from PySide6.QtCore import QSettings

    return QSettings(str(tmp_path / "app.ini"), QSettings.Format.IniFormat)


def test_first_close_says_recording_goes_on(qtbot, tmp_path):
    data = tmp_path / "data"
    configure(data, [])
    settings = _settings(tmp_path)
    with LocalHub.start(data) as api:
        first = _attached_window(qtbot, api, settings)
        seen: list[str] = []
        _answer_modal(qtbot, "Cancel", seen)
        first.close()  # cancelled: the window stays, and it will ask again
        assert first.isVisible() and "does not stop recording" in seen[0]
        _answer_modal(qtbot, "Close window", seen)
        first.close()
        assert not first.isVisible() and len(seen) == 2
        assert api.status().hub.running  # closing the window stopped nothing
        # Told once: the next window closes without asking.
        second = _attached_window(qtbot, api, settings)
        second.close()
        assert not second.isVisible() and len(seen) == 2
    tasks.shutdown()


def test_first_close_offers_to_stop_recording(qtbot, tmp_path):
    data = tmp_path / "data"
    configure(data, [])
    with ServedHub.start(data) as api:
        window = _attached_window(qtbot, api, _settings(tmp_path))
        _answer_modal(qtbot, "Quit and stop recording", [])
        with qtbot.waitSignal(window.hubStopped, timeout=30000):
            window.close()
        assert api.serve.wait(30) == 0
        qtbot.waitUntil(lambda: not window.isVisible(), timeout=5000)
    tasks.shutdown()


def qtbot_button():
    from PySide6.QtCore import Qt

    return Qt.MouseButton.LeftButton
