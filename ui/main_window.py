"""The main window (minimal for now): every camera as a live tile with its recording state."""

from __future__ import annotations

import logging
import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent, QImage
from PySide6.QtWidgets import (
    QGridLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from hub.api.local import LocalHub
from hub.api.types import NewCamera
from hub.core.model import CameraConfig, CameraStatus
from hub.hub import Hub
from ui.bridge import HubBridge
from ui.tasks import run_in_background
from ui.tiles import CameraTile, FramePuller

logger = logging.getLogger(__name__)


class MainWindow(QMainWindow):
    """Shows the cameras of one running hub."""

    closed = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("Porchlight")
        self.resize(1100, 700)
        self.hub: Hub | None = None
        self.api: LocalHub | None = None
        self.bridge: HubBridge | None = None
        self.puller: FramePuller | None = None
        self.tiles: dict[str, CameraTile] = {}
        self._grid_host = QWidget()
        self._grid = QGridLayout(self._grid_host)
        self._empty = QWidget()
        empty_layout = QVBoxLayout(self._empty)
        self.empty_label = QLabel(
            "No cameras yet.\nAdd one with: porchlight cameras add NAME --url rtsp://…\n"
            "or try the demo camera."
        )
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.demo_button = QPushButton("Add the demo camera")
        self.demo_button.clicked.connect(self._add_demo)
        empty_layout.addStretch(1)
        empty_layout.addWidget(self.empty_label)
        empty_layout.addWidget(self.demo_button, 0, Qt.AlignmentFlag.AlignCenter)
        empty_layout.addStretch(1)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addWidget(self._grid_host, 1)
        layout.addWidget(self._empty, 1)
        self.setCentralWidget(central)
        self._empty.hide()
        self.statusBar().showMessage("Starting…")

    # -- hub ---------------------------------------------------------------------------------
    def attach(self, hub: Hub) -> None:
        """Show a started hub (GUI thread)."""
        self.hub = hub
        self.bridge = HubBridge(hub.bus, self)
        self.bridge.statusChanged.connect(self._on_status)
        self.bridge.camerasChanged.connect(lambda _ids: self._rebuild())
        self.bridge.storageChanged.connect(self._on_storage)
        self.api = LocalHub(hub)  # the hub's own front door (live views, the demo camera)
        self.puller = FramePuller(self.api, self._frame_targets, parent=self)
        self.puller.imageReady.connect(self._on_image)
        self._rebuild()
        self.statusBar().showMessage(f"Recording into {hub.storage.root}")

    def _frame_targets(self) -> list[tuple[str, int, int]]:
        # Called on the GUI thread by the puller's timer: read widget sizes here, convert elsewhere.
        return [
            (cam_id, max(160, t.picture.width()), t.frame_seq)
            for cam_id, t in self.tiles.items()
            if t.isVisible()
        ]

    def _rebuild(self) -> None:
        cams: list[CameraConfig] = self.hub.cameras() if self.hub else []
        for tile in self.tiles.values():
            tile.setParent(None)
            tile.deleteLater()
        self.tiles.clear()
        cols = max(1, math.ceil(math.sqrt(len(cams))))
        for i, cfg in enumerate(sorted(cams, key=lambda c: c.name.lower())):
            tile = CameraTile(cfg)
            self.tiles[cfg.id] = tile
            self._grid.addWidget(tile, i // cols, i % cols)
        for st in self.hub.statuses() if self.hub else []:
            if st.camera_id in self.tiles:
                self.tiles[st.camera_id].set_status(st)
        self._empty.setVisible(not cams)
        self._grid_host.setVisible(bool(cams))

    def _on_status(self, st: CameraStatus) -> None:
        tile = self.tiles.get(st.camera_id)
        if tile is not None:
            tile.set_status(st)

    def _on_image(self, cam_id: str, ts: int, img: QImage) -> None:
        tile = self.tiles.get(cam_id)
        if tile is not None:
            tile.set_image(ts, img)

    def _on_storage(self, state: str, message: str) -> None:
        self.statusBar().showMessage("Storage OK" if state == "ok" else f"Storage: {message}")

    def _add_demo(self) -> None:
        api = self.api
        if api is None:
            return
        self.demo_button.setEnabled(False)

        def refused(exc: BaseException) -> None:
            self.demo_button.setEnabled(True)
            self.statusBar().showMessage(str(exc))

        run_in_background(
            lambda: api.add_camera(NewCamera(name="Demo", driver="demo", mode="motion")),
            lambda _r: self.demo_button.setEnabled(True),
            refused,
            parent=self,
        )

    # -- closing -----------------------------------------------------------------------------
    def detach(self) -> None:
        """Stop pulling frames and receiving events (before the hub stops)."""
        if self.puller is not None:
            self.puller.stop()
            self.puller = None
        if self.bridge is not None:
            self.bridge.close()
            self.bridge = None

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt API
        self.detach()
        self.closed.emit()
        super().closeEvent(event)
