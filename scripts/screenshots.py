"""Make the README screenshots: the real window attached to a demo hub process, under Xvfb (xcb),
saved as PNG.

Run with ``make screenshots`` (needs Debian's xvfb). Writes resources/screenshots/*.png.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "resources" / "screenshots"


def main() -> int:
    """Start Xvfb, run the window, save screenshots."""
    if shutil.which("Xvfb") is None:
        print("Xvfb is missing: apt-get install xvfb", file=sys.stderr)
        return 1
    read_fd, write_fd = os.pipe()  # Xvfb picks a free display and writes its number here
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        pass_fds=(write_fd,),
    )
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as f:
            display = ":" + f.readline().strip()
        env = dict(os.environ, DISPLAY=display, QT_QPA_PLATFORM="xcb", PYTHONPATH=str(ROOT))
        return subprocess.call([sys.executable, __file__, "--inside"], env=env)
    finally:
        xvfb.terminate()
        xvfb.wait()


def inside() -> int:
    """Runs under Xvfb: start a demo hub process as the app does, photograph the window, then stop
    the hub from another client and photograph the window saying so."""
    from PySide6.QtWidgets import QApplication

    from hub.api import launch
    from hub.api.types import NewCamera
    from ui import tasks
    from ui.app import connect
    from ui.link import HubLink
    from ui.main_window import MainWindow

    app = QApplication(sys.argv[:1])

    def settle(until: Callable[[], bool], seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not until():
            app.processEvents()
            time.sleep(0.05)
        for _ in range(20):
            app.processEvents()
            time.sleep(0.05)

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        with launch.attach(Path(tmp)) as api:
            for name in ("Front door", "Driveway"):
                api.add_camera(NewCamera(name=name, driver="demo", mode="motion"))
        window = MainWindow()
        window.resize(1100, 520)
        link = HubLink(Path(tmp), parent=window)
        connect(window, link)
        link.start()
        window.show()
        settle(
            lambda: (
                bool(window.tiles)
                and all(
                    not t.picture.pixmap().isNull() and t.state == "recording" for t in window.tiles.values()
                )
            )
        )
        window.grab().save(str(OUT / "main-window.png"))
        with launch.attach(Path(tmp), start=False) as api:
            api.stop()  # as porchlight stop does from a terminal
        settle(lambda: "reconnecting" in window.banner.text())
        window.grab().save(str(OUT / "hub-stopped.png"))
        window.close_quietly()
        window.detach()
        link.close()
        tasks.shutdown()
    print(f"wrote {OUT / 'main-window.png'} and {OUT / 'hub-stopped.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(inside() if "--inside" in sys.argv else main())
