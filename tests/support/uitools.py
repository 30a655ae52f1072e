"""Helpers for tests of the desktop window (pytest-qt)."""

from __future__ import annotations

from ui.main_window import MainWindow
from ui.tiles import CameraTile


def live_tile(qtbot, window: MainWindow, cam_id: str, timeout_ms: int = 20000) -> CameraTile:
    """Wait until the tile of ``cam_id`` says it records and shows pictures that change."""

    def tile() -> CameraTile | None:  # looked up each time: a camera list change rebuilds the tiles
        return window.tiles.get(cam_id)

    def recording() -> bool:
        t = tile()
        return t is not None and t.state == "recording"

    qtbot.waitUntil(recording, timeout=timeout_ms)
    assert "Recording" in tile().badge.text()
    qtbot.waitUntil(lambda: recording() and not tile().picture.pixmap().isNull(), timeout=timeout_ms)
    first = tile().frame_seq
    qtbot.waitUntil(lambda: recording() and tile().frame_seq > first, timeout=5000)  # live, not a still
    return tile()
