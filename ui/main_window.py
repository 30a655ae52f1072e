"""The main window (minimal for now): every camera of a hub as a live tile with its recording state.

The window is a client of a hub process: it knows the hub only through the Hub API (a
:class:`~hub.api.client.SocketHub` in the app), loads what it shows on worker threads and follows
the hub's notices. Closing it never stops recording; "Quit and stop recording" does.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QImage, QKeySequence
from PySide6.QtWidgets import (
    QGridLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from hub.api.errors import HubStoppedError
from hub.api.protocol import HubApi
from hub.api.subscription import Subscription
from hub.api.types import (
    Camera,
    CamerasChanged,
    CameraStateChanged,
    CameraStatus,
    Missed,
    NewCamera,
    Notice,
    NoticeKind,
    Status,
    StorageChanged,
    StorageInfo,
)
from ui.link import sentence
from ui.notices import NoticeBridge
from ui.tasks import run_in_background
from ui.tiles import CameraTile, FramePuller

logger = logging.getLogger(__name__)

#: The notices the window follows.
NOTICES: tuple[NoticeKind, ...] = ("camera_state", "cameras", "storage")
#: In the app's settings: the owner was told that closing the window does not stop recording.
TOLD_KEY = "told_recording_goes_on"
RECORDING_GOES_ON = (
    "Closing this window does not stop recording: the hub goes on in the background, and the app "
    "shows it again when you open it.\n\nTo stop recording, choose Quit and stop recording (also in "
    "the File menu), or run: porchlight stop"
)


@dataclass(frozen=True)
class HubView:
    """What the window shows of a hub, loaded in one go off the GUI thread."""

    cameras: list[Camera]
    status: Status
    storage: StorageInfo

    @classmethod
    def load(cls, api: HubApi) -> HubView:
        return cls(api.cameras(), api.status(), api.storage())


class MainWindow(QMainWindow):
    """Shows the cameras of one hub, through its API."""

    closed = Signal()
    #: The hub was asked to stop (the window closes next).
    hubStopped = Signal()
    #: The hub went away: why, and whether it stopped on purpose (see ui.link.HubLink.lost).
    hubLost = Signal(str, bool)

    def __init__(self, settings: QSettings | None = None) -> None:
        """``settings``: where the window remembers that it told the owner recording goes on after
        it closes (told on the first close); None: never told (tests, embedding)."""
        super().__init__()
        self.settings = settings
        self.setWindowTitle("Porchlight")
        self.resize(1100, 700)
        self.api: HubApi | None = None
        self.notices: NoticeBridge | None = None
        self.puller: FramePuller | None = None
        self.tiles: dict[str, CameraTile] = {}
        # Each camera's newest state: a view loaded off the GUI thread may arrive after a notice
        # that is newer than it, and must not take the tile back (compared by ``updated_ms``).
        self._statuses: dict[str, CameraStatus] = {}
        self.hub_pid: int | None = None
        self.storage_path = ""
        self._closing = False
        self._quiet = False  # close without asking: the app quits, or the hub was stopped
        self._note = ""  # said once the view is shown ("the hub was started again")
        # What is wrong with the hub, above the tiles until it answers again.
        self.banner = QLabel()
        self.banner.setTextFormat(Qt.TextFormat.PlainText)
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet("background: #c62828; color: white; padding: 6px; font-weight: bold;")
        self.banner.hide()
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
        layout.addWidget(self.banner)
        layout.addWidget(self._grid_host, 1)
        layout.addWidget(self._empty, 1)
        self.setCentralWidget(central)
        self._empty.hide()
        self._build_menu()
        self.statusBar().showMessage("Connecting to the hub…")

    def _build_menu(self) -> None:
        menu = self.menuBar().addMenu("&File")
        close = QAction("&Close window (recording goes on)", self)
        close.setShortcut(QKeySequence.StandardKey.Close)
        close.triggered.connect(self.close)
        menu.addAction(close)
        self.start_action = QAction("&Start recording", self)  # the app connects it (HubLink.start_hub)
        self.start_action.setEnabled(False)
        menu.addAction(self.start_action)
        self.stop_action = QAction("&Quit and stop recording", self)
        self.stop_action.triggered.connect(self.stop_hub)
        self.stop_action.setEnabled(False)
        menu.addAction(self.stop_action)

    # -- the hub -------------------------------------------------------------------------------------
    def attach(self, api: HubApi, note: str = "") -> None:
        """Show the hub behind ``api`` (GUI thread), also again after the hub went away; the window
        loads what it shows off this thread and closes ``api`` never (its owner does). ``note``: said
        in the status bar once the hub is shown."""
        self._release()
        self.api = api
        self._note = note
        self.set_banner("")
        self.puller = FramePuller(api, self._frame_targets, parent=self)
        self.puller.imageReady.connect(self._on_image)

        def load() -> tuple[HubApi, Subscription, HubView]:
            sub = api.subscribe(NOTICES)  # first: nothing that happens while loading is missed
            try:
                return api, sub, HubView.load(api)
            except BaseException:
                sub.close()
                raise

        def failed(exc: BaseException) -> None:
            if api is self.api and not self._closing:
                self.statusBar().showMessage(f"Cannot reach the hub: {exc}")
                self._on_hub_gone(str(exc), isinstance(exc, HubStoppedError))

        run_in_background(load, self._attached, failed, parent=self)

    def _attached(self, result: tuple[HubApi, Subscription, HubView]) -> None:
        api, sub, view = result
        if self._closing or api is not self.api:  # closed, or attached to another hub since
            sub.close()
            return
        self.notices = NoticeBridge(sub, self)
        self.notices.received.connect(self._on_notice)
        self.notices.ended.connect(self._on_notices_ended)
        self.notices.start()
        self.stop_action.setEnabled(True)
        self.start_action.setEnabled(False)
        self._show((api, view))

    def _refresh(self) -> None:
        api = self.api
        if api is None or self._closing:
            return

        def refused(exc: BaseException) -> None:
            if api is self.api and not self._closing:
                self.statusBar().showMessage(f"Cannot reach the hub: {exc}")

        run_in_background(lambda: (api, HubView.load(api)), self._show, refused, parent=self)

    def _show(self, shown: tuple[HubApi, HubView]) -> None:
        api, view = shown
        if self._closing or api is not self.api:  # an answer of a hub that went away since
            return
        self.hub_pid = view.status.hub.pid
        self._rebuild(view.cameras)
        for st in view.status.cameras:
            self._on_status(st)
        self.storage_path = view.storage.path
        self._on_storage(view.storage.state, view.storage.message)
        if self._note:
            self.statusBar().showMessage(f"{self._note} {self.statusBar().currentMessage()}")
            self._note = ""

    def _frame_targets(self) -> list[tuple[str, int]]:
        # Called on the GUI thread by the puller's timer: read widget sizes here, convert elsewhere.
        return [(cam_id, max(160, t.picture.width())) for cam_id, t in self.tiles.items() if t.isVisible()]

    def _rebuild(self, cams: list[Camera]) -> None:
        for tile in self.tiles.values():
            tile.setParent(None)
            tile.deleteLater()
        self.tiles.clear()
        ids = {c.id for c in cams}
        self._statuses = {k: v for k, v in self._statuses.items() if k in ids}
        cols = max(1, math.ceil(math.sqrt(len(cams))))
        for i, cam in enumerate(sorted(cams, key=lambda c: c.name.lower())):
            tile = CameraTile(cam)
            self.tiles[cam.id] = tile
            if (known := self._statuses.get(cam.id)) is not None:
                tile.set_status(known)
            self._grid.addWidget(tile, i // cols, i % cols)
        self._empty.setVisible(not cams)
        self._grid_host.setVisible(bool(cams))

    def _on_notice(self, notice: Notice) -> None:
        if self.sender() is not self.notices:
            return  # queued by the bridge of a hub that went away since
        if isinstance(notice, CameraStateChanged):
            self._on_status(notice.camera)
        elif isinstance(notice, CamerasChanged | Missed):
            self._refresh()  # a camera came or went, or notices were lost: ask again
        elif isinstance(notice, StorageChanged):
            self._on_storage(notice.state, notice.message)

    def _on_status(self, st: CameraStatus) -> None:
        known = self._statuses.get(st.camera_id)
        if known is not None and known.updated_ms > st.updated_ms:
            return  # older than what the tile shows (a view loaded before the latest notice)
        self._statuses[st.camera_id] = st
        tile = self.tiles.get(st.camera_id)
        if tile is not None:
            tile.set_status(st)

    def _on_image(self, cam_id: str, ts: int, img: QImage) -> None:
        tile = self.tiles.get(cam_id)
        if tile is not None:
            tile.set_image(ts, img)

    def _on_storage(self, state: str, message: str) -> None:
        if state != "ok":
            self.statusBar().showMessage(f"Storage: {message}")
        else:
            self.statusBar().showMessage(f"Recording into {self.storage_path}")

    def _on_notices_ended(self, why: str, stopped: bool) -> None:
        if self.sender() is self.notices:  # not the bridge of a hub that went away before
            self._on_hub_gone(why, stopped)

    def _on_hub_gone(self, why: str, stopped: bool) -> None:
        """The hub went away (its notices ended): no tile claims to record, the live views end, and
        ``hubLost`` asks for the hub back (the app's HubLink)."""
        if self._closing:
            return
        self._release()
        self.api = None
        self._statuses.clear()  # a hub that runs again starts its cameras afresh
        self.stop_action.setEnabled(False)
        self.start_action.setEnabled(stopped)
        said = sentence(why if stopped else f"the hub went away ({why})")
        self.statusBar().showMessage(said)
        self.set_banner(f"{said} Reconnecting…")
        for tile in self.tiles.values():
            tile.set_hub_gone()
        self.hubLost.emit(why, stopped)

    def set_banner(self, text: str) -> None:
        """Say what is wrong with the hub above the tiles ("" hides it)."""
        self.banner.setText(text)
        self.banner.setVisible(bool(text))

    # -- actions -----------------------------------------------------------------------------------
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

    def stop_hub(self) -> None:
        """Stop the hub (every open recording is finalized), then close the window."""
        api = self.api
        if api is None:
            return
        self.stop_action.setEnabled(False)
        self.statusBar().showMessage("Stopping the hub…")

        def stopped(_r: object) -> None:
            self.hubStopped.emit()
            self.close_quietly()

        def refused(exc: BaseException) -> None:
            self.stop_action.setEnabled(True)
            self.statusBar().showMessage(f"The hub did not stop: {exc}")

        run_in_background(api.stop, stopped, refused, parent=self)

    # -- closing -----------------------------------------------------------------------------------
    def detach(self) -> None:
        """Stop pulling frames (ending this window's live views) and following notices."""
        self._closing = True
        self._release()

    def _release(self) -> None:
        """Let go of the hub attached (its live views and notices); the window stays."""
        if self.puller is not None:
            self.puller.stop()
            self.puller = None
        if self.notices is not None:
            self.notices.close()
            self.notices = None

    def close_quietly(self) -> None:
        """Close without telling the owner that recording goes on (the app quits on a signal)."""
        self._quiet = True
        self.close()

    def _should_tell(self) -> bool:
        return (
            self.settings is not None
            and not self._quiet
            and self.notices is not None  # a hub runs, so it records on
            and not self.settings.value(TOLD_KEY, False, type=bool)
        )

    def _tell_recording_goes_on(self) -> str:
        """The first close: say that recording goes on and offer to stop it ("close", "stop" or
        "cancel")."""
        box = QMessageBox(
            QMessageBox.Icon.Information, "Porchlight keeps recording", RECORDING_GOES_ON, parent=self
        )
        close = box.addButton("Close window", QMessageBox.ButtonRole.AcceptRole)
        stop = box.addButton("Quit and stop recording", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(close)
        box.exec()
        clicked = box.clickedButton()
        if clicked not in (close, stop):
            return "cancel"
        assert self.settings is not None
        self.settings.setValue(TOLD_KEY, True)
        self.settings.sync()
        return "close" if clicked is close else "stop"

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt API
        if self._should_tell():
            choice = self._tell_recording_goes_on()
            if choice != "close":
                event.ignore()
                if choice == "stop":
                    self.stop_hub()
                return
        self.detach()
        self.closed.emit()
        super().closeEvent(event)
