"""Live camera tiles. Frames are pulled, not pushed: a timer asks a worker thread to read the
newest frame of each visible camera from its live view's shared-memory slot and convert it to a
small QImage; the GUI thread only sets pixmaps."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
from collections.abc import Callable

import cv2
import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QFrame, QLabel, QSizePolicy, QVBoxLayout, QWidget

from hub.api.errors import HubError
from hub.api.frames import FrameReader, FrameSlotError, SlotFrame
from hub.api.protocol import HubApi
from hub.api.types import Camera, CameraStatus

logger = logging.getLogger(__name__)

STATE_LABELS = {
    "recording": ("● Recording", "#2e7d32"),
    "connecting": ("Connecting…", "#f9a825"),
    "reconnecting": ("Reconnecting…", "#ef6c00"),
    "offline": ("Offline", "#c62828"),
    "auth_failed": ("Wrong password", "#c62828"),
    "keyring_locked": ("Keyring locked — waiting for log-in", "#f9a825"),
    "storage_missing": ("Storage missing", "#c62828"),
    "disk_full": ("Disk full", "#c62828"),
    "stopped": ("Stopped", "#757575"),
    "hub_gone": ("Not recording: the hub stopped", "#c62828"),
}

#: How often the visible tiles' slots are checked for a new picture: about 30 times a second, so a
#: tile shows every frame of a camera of up to 25-30 fps (a check that finds none costs a few
#: microseconds; only new pictures are converted).
FRAME_POLL_MS = 33

#: States whose label says all there is to say (the error's words are in the tooltip).
SAID_IN_FULL = frozenset({"recording", "keyring_locked"})


def frame_to_qimage(frame: SlotFrame, width: int) -> QImage:
    """Scale a live frame (I420) to ``width`` and convert it to an RGB QImage that owns its pixels
    (any thread): the planes are scaled first, so the colour conversion works on the tile's pixels."""
    w, h = frame.width, frame.height
    width = max(2, min(width, w) // 2 * 2)
    height = max(2, round(h * width / w) // 2 * 2)
    cw, ch = frame.chroma_size
    raw = np.frombuffer(frame.data, np.uint8)
    y = raw[: w * h].reshape(h, w)
    u = raw[w * h : w * h + cw * ch].reshape(ch, cw)
    v = raw[w * h + cw * ch :].reshape(ch, cw)
    small = np.empty((height * 3 // 2, width), np.uint8)
    flat = small.reshape(-1)
    quarter = (width // 2) * (height // 2)
    small[:height] = cv2.resize(y, (width, height), interpolation=cv2.INTER_AREA)
    flat[width * height : width * height + quarter] = cv2.resize(u, (width // 2, height // 2)).reshape(-1)
    flat[width * height + quarter :] = cv2.resize(v, (width // 2, height // 2)).reshape(-1)
    rgb = cv2.cvtColor(small, cv2.COLOR_YUV2RGB_I420)
    img = QImage(rgb.data, width, height, rgb.strides[0], QImage.Format.Format_RGB888)
    return img.copy()


class CameraTile(QFrame):
    """One camera: name, state badge and the live picture."""

    def __init__(self, cam: Camera, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.camera_id = cam.id
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = QLabel(cam.name)
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
        self.frame_seq = 0
        self._show_state("connecting" if cam.enabled else "stopped")

    def set_status(self, st: CameraStatus) -> None:
        """Show a camera state (and its last error as a tooltip)."""
        self._show_state(st.state, st.last_error)

    def set_hub_gone(self) -> None:
        """The hub stopped: nothing records this camera now."""
        self._show_state("hub_gone")

    def _show_state(self, state: str, error: str | None = None) -> None:
        text, color = STATE_LABELS.get(state, (state, "#757575"))
        self.state = state
        said = not error or state in SAID_IN_FULL
        self.badge.setText(text if said else f"{text}: {error}")
        self.badge.setStyleSheet(f"color: {color}; font-weight: bold;")
        self.badge.setToolTip(error or "")

    def set_image(self, seq: int, img: QImage) -> None:
        """Show a new picture (GUI thread); ``seq`` is its number in the live view's slot."""
        self.frame_seq = seq
        self.picture.setPixmap(QPixmap.fromImage(img))


@dataclasses.dataclass
class _View:
    """One open live view of the puller: its lease, its slot, and the newest picture given out."""

    lease: int
    reader: FrameReader
    given: int = 0  # slot seq; a new view's slot counts from 1 again


class FramePuller(QObject):
    """Every ``interval_ms`` reads the newest frame of each visible tile's camera from its live
    view's shared-memory slot and converts it, on a worker thread; the GUI thread only paints.

    The worker also opens a live view (``api.watch``) for a camera that became visible and ends the
    view of one that no longer is, so the hub decodes only what a tile shows. It remembers what it
    gave out per view, not per tile: a tile shown again gets a new view whose slot counts afresh."""

    imageReady = Signal(str, object, QImage)  # camera id, frame wall ms (too big for a Qt int), image

    def __init__(
        self,
        api: HubApi,
        targets: Callable[[], list[tuple[str, int]]],
        interval_ms: int = FRAME_POLL_MS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._api = api
        self._targets = targets  # [(camera id, width)] of the visible tiles
        self._views: dict[str, _View] = {}  # by camera; the worker's only
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="porchlight-ui-frames")
        self._busy: concurrent.futures.Future[None] | None = None
        self._failed: set[str] = set()  # cameras whose live view failed (logged once)
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

    def _work(self, targets: list[tuple[str, int]]) -> None:
        wanted = {cam_id for cam_id, _w in targets}
        for cam_id in [c for c in self._views if c not in wanted]:
            self._end_view(cam_id)
        for cam_id, width in targets:
            try:
                view = self._views.get(cam_id) or self._open_view(cam_id)
                frame = view.reader.read(after=view.given)
                if view.reader.closed:  # the hub ended the view (it stopped): open it again next time
                    self._end_view(cam_id)
                if frame is None:
                    continue
                view.given = frame.seq
                self.imageReady.emit(cam_id, frame.seq, frame_to_qimage(frame, max(64, width)))
                self._failed.discard(cam_id)
            except Exception:  # noqa: BLE001 - a bad camera or frame must not kill the live view
                log = logger.debug if cam_id in self._failed else logger.warning
                self._failed.add(cam_id)
                log("live view of %s failed", cam_id, exc_info=True)

    def _open_view(self, cam_id: str) -> _View:
        lease = self._api.watch(cam_id, "detect")
        try:
            if lease.frames is None:
                raise FrameSlotError("the hub gave no frame slot")
            view = self._views[cam_id] = _View(lease.id, FrameReader(lease.frames))
        except BaseException:
            self._api.unwatch(lease.id)
            raise
        return view

    def _end_view(self, cam_id: str) -> None:
        view = self._views.pop(cam_id)
        view.reader.close()
        try:
            self._api.unwatch(view.lease)
        except HubError:  # the hub ended it already (it stopped)
            logger.debug("live view of %s already ended", cam_id)

    def _end_views(self) -> None:
        for cam_id in list(self._views):
            self._end_view(cam_id)

    def stop(self) -> None:
        """Stop the timer and the worker, and end every live view."""
        self._stopped = True
        self._timer.stop()
        self._pool.submit(self._end_views)
        self._pool.shutdown(wait=True, cancel_futures=False)
