"""Live camera tiles. Frames are pulled, not pushed: a timer asks a worker thread to convert the
newest frame of each visible camera to a small QImage; the GUI thread only sets pixmaps."""

from __future__ import annotations

import concurrent.futures
import logging
from collections.abc import Callable

import av
import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QFrame, QLabel, QSizePolicy, QVBoxLayout, QWidget

from hub.core.model import CameraConfig, CameraStatus

logger = logging.getLogger(__name__)

STATE_LABELS = {
    "recording": ("● Recording", "#2e7d32"),
    "connecting": ("Connecting…", "#f9a825"),
    "reconnecting": ("Reconnecting…", "#ef6c00"),
    "offline": ("Offline", "#c62828"),
    "auth_failed": ("Wrong password", "#c62828"),
    "storage_missing": ("Storage missing", "#c62828"),
    "disk_full": ("Disk full", "#c62828"),
    "stopped": ("Stopped", "#757575"),
}


def frame_to_qimage(frame: av.VideoFrame, width: int) -> QImage:
    """Scale and convert a decoded frame to an RGB QImage that owns its pixels (any thread)."""
    height = max(2, round(frame.height * width / frame.width) // 2 * 2)
    rgb = np.ascontiguousarray(frame.reformat(width=width, height=height, format="rgb24").to_ndarray())
    img = QImage(rgb.data, width, height, rgb.strides[0], QImage.Format.Format_RGB888)
    return img.copy()


class CameraTile(QFrame):
    """One camera: name, state badge and the live picture."""

    def __init__(self, cfg: CameraConfig, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.camera_id = cfg.id
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = QLabel(cfg.name)
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.badge = QLabel()
        self.badge.setTextFormat(Qt.TextFormat.PlainText)
        self.picture = QLabel("Waiting for the first frame…")
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setMinimumSize(320, 180)
        self.picture.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.picture.setStyleSheet("background: #111; color: #aaa;")
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.picture, 1)
        layout.addWidget(self.badge)
        self.frame_ts = 0
        self.set_status(CameraStatus(cfg.id, "stopped" if not cfg.enabled else "connecting", 0))

    def set_status(self, st: CameraStatus) -> None:
        """Show a camera state (and its last error as a tooltip)."""
        text, color = STATE_LABELS.get(st.state, (st.state, "#757575"))
        self.state = st.state
        self.badge.setText(
            text if not st.last_error or st.state == "recording" else f"{text}: {st.last_error}"
        )
        self.badge.setStyleSheet(f"color: {color}; font-weight: bold;")
        self.badge.setToolTip(st.last_error or "")

    def set_image(self, ts_ms: int, img: QImage) -> None:
        """Show a new picture (GUI thread)."""
        self.frame_ts = ts_ms
        self.picture.setPixmap(QPixmap.fromImage(img))


class FramePuller(QObject):
    """Every ``interval_ms`` converts the newest frames of the visible tiles, on a worker thread."""

    imageReady = Signal(str, object, QImage)  # camera id, frame wall ms (too big for a Qt int), image

    def __init__(
        self,
        latest: Callable[[str], tuple[int, av.VideoFrame] | None],
        targets: Callable[[], list[tuple[str, int, int]]],
        interval_ms: int = 250,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._latest = latest
        self._targets = targets  # [(camera id, width, last shown ts)]
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="porchlight-ui-frames")
        self._busy: concurrent.futures.Future[None] | None = None
        self._failed: set[str] = set()  # cameras whose frame conversion failed (logged once)
        self._stopped = False
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._tick)
        self._timer.start(interval_ms)

    def _tick(self) -> None:
        if self._stopped:
            return  # a tick queued before stop() (e.g. while the app quits)
        if self._busy is not None and not self._busy.done():
            return  # never queue work behind a slow conversion
        self._busy = self._pool.submit(self._work, self._targets())

    def _work(self, targets: list[tuple[str, int, int]]) -> None:
        for cam_id, width, shown_ts in targets:
            try:
                item = self._latest(cam_id)
                if item is None or item[0] == shown_ts:
                    continue
                ts, frame = item
                self.imageReady.emit(cam_id, ts, frame_to_qimage(frame, max(64, width // 2 * 2)))
            except Exception:  # noqa: BLE001 - a bad frame must not kill the live view
                log = logger.debug if cam_id in self._failed else logger.warning
                self._failed.add(cam_id)
                log("live frame for %s failed", cam_id, exc_info=True)

    def stop(self) -> None:
        """Stop the timer and the worker."""
        self._stopped = True
        self._timer.stop()
        self._pool.shutdown(wait=True, cancel_futures=True)
