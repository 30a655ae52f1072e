"""Start the desktop app: a QApplication and the main window, a client of the data dir's hub.

The app attaches to the hub that runs on its data dir, or starts one (a detached ``porchlight
serve``, :mod:`hub.api.launch`) off the GUI thread. The hub outlives the window: closing the app, or
killing it, never stops recording.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import traceback
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Qt loads only when the app opens (the CLI imports this module)
    from collections.abc import Callable

    from PySide6.QtCore import QCoreApplication

    from ui.link import HubLink
    from ui.main_window import MainWindow

logger = logging.getLogger(__name__)

NO_DISPLAY = (
    "porchlight: no display found, so the desktop app cannot open a window.\n"
    "To record without a screen, run: porchlight serve   (see: porchlight --help)"
)


def has_display() -> bool:
    """True when Qt can open windows (a display server, or an explicit QT_QPA_PLATFORM)."""
    if os.environ.get("QT_QPA_PLATFORM"):
        return True
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def install_crash_hooks() -> None:
    """Uncaught exceptions (GUI or worker threads) show a dialog with a copyable report."""
    from PySide6.QtWidgets import QApplication, QMessageBox

    from hub.api.util import redact

    def show(text: str) -> None:
        logger.error("unhandled exception:\n%s", text)
        if QApplication.instance() is not None and threading.current_thread() is threading.main_thread():
            box = QMessageBox(
                QMessageBox.Icon.Critical,
                "Porchlight ran into a problem",
                "Something went wrong. Recording of other cameras continues.\n"
                "The details below can be copied into a bug report.",
            )
            box.setDetailedText(redact(text))
            box.exec()

    sys.excepthook = lambda t, v, tb: show("".join(traceback.format_exception(t, v, tb)))
    threading.excepthook = lambda a: logger.error(
        "thread %s crashed:\n%s",
        a.thread.name if a.thread else "?",
        redact("".join(traceback.format_exception(a.exc_type, a.exc_value, a.exc_traceback))),
    )


def _quit_on_signals(app: QCoreApplication, quit_now: Callable[[], None]) -> None:
    """Ctrl-C / SIGTERM call ``quit_now`` (on the GUI thread): the app closes cleanly, its live
    views end, the hub records on."""
    from PySide6.QtCore import QTimer

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_a: quit_now())
    # Python runs signal handlers only between bytecodes: wake the interpreter now and then.
    timer = QTimer(app)
    timer.timeout.connect(lambda: None)
    timer.start(300)


def connect(window: MainWindow, link: HubLink) -> None:
    """The window shows the hub that ``link`` attaches to, and tells it when that hub goes away."""
    from hub.api import launch

    log = launch.log_path(link.data_dir)
    link.starting.connect(
        lambda how: window.statusBar().showMessage(f"Starting the hub ({how}); its log: {log}")
    )
    link.connected.connect(window.attach)
    link.message.connect(window.set_banner)
    window.hubLost.connect(link.lost)
    window.start_action.triggered.connect(link.start_hub)


def run(args: argparse.Namespace) -> int:
    """Run the desktop app until its window closes; the hub it attached to (or started) goes on."""
    if not has_display():
        print(NO_DISPLAY, file=sys.stderr)
        return 2
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication, QMessageBox

    from ui import tasks
    from ui.link import HubLink
    from ui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Porchlight")
    install_crash_hooks()
    settings = QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "Porchlight", "porchlight")
    window = MainWindow(settings)
    link = HubLink(args.data_dir, args.db_url, parent=window)
    connect(window, link)
    failures: list[BaseException] = []

    def failed(exc: BaseException) -> None:  # the first attach: nothing to show
        failures.append(exc)
        QMessageBox.critical(window, "Porchlight cannot reach its hub", str(exc))
        app.quit()

    link.failed.connect(failed)
    link.start()
    window.closed.connect(app.quit)
    _quit_on_signals(app, window.close_quietly)
    window.show()
    code = app.exec()
    window.detach()  # also when the app quit on a signal without closing the window
    link.close()  # stops reconnecting; this client's live views end; the hub records on
    tasks.shutdown()
    return 1 if failures and code == 0 else code
