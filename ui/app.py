"""Start the desktop app: a QApplication, the main window, and the hub started off the GUI thread."""

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
    from PySide6.QtCore import QCoreApplication

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

    from hub.core.secrets import redact

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


def _quit_on_signals(app: QCoreApplication) -> None:
    """Ctrl-C / SIGTERM close the app cleanly (open segments are finalized)."""
    from PySide6.QtCore import QTimer

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_a: app.quit())
    # Python runs signal handlers only between bytecodes: wake the interpreter now and then.
    timer = QTimer(app)
    timer.timeout.connect(lambda: None)
    timer.start(300)


def run(args: argparse.Namespace) -> int:
    """Run the desktop app until its window closes."""
    if not has_display():
        print(NO_DISPLAY, file=sys.stderr)
        return 2
    from PySide6.QtCore import QMetaObject, Qt
    from PySide6.QtWidgets import QApplication, QMessageBox

    from hub.api.local import LocalHub
    from hub.api.server import ApiServer
    from hub.hub import Hub
    from ui import tasks
    from ui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Porchlight")
    install_crash_hooks()
    window = MainWindow()
    hub = Hub(args.data_dir, args.db_url)
    state = {"started": False}
    servers: list[ApiServer] = []

    def quit_soon() -> None:  # from the API's thread
        QMetaObject.invokeMethod(app, "quit", Qt.ConnectionType.QueuedConnection)

    def start() -> None:
        hub.start()
        # The CLI reaches this hub on hub.sock too; `porchlight stop` stops it and closes the app.
        try:
            server = ApiServer(LocalHub(hub), args.data_dir, started_ms=hub.started_ms, on_stop=quit_soon)
            servers.append(server.start())
        except BaseException:
            hub.stop()
            raise

    def started(_result: object) -> None:
        state["started"] = True
        window.attach(hub)

    def failed(exc: BaseException) -> None:
        QMessageBox.critical(window, "Porchlight cannot start", str(exc))
        app.quit()

    tasks.run_in_background(start, started, failed, parent=window)
    window.closed.connect(app.quit)
    _quit_on_signals(app)
    window.show()
    code = app.exec()
    for server in servers:
        server.stop_accepting()
    if state["started"]:
        hub.stop()  # the window is gone; finalize open segments before exiting
    for server in servers:
        server.close()
    tasks.shutdown()
    return code
