"""Make the README screenshots: the real window on a demo hub, under Xvfb (xcb), saved as PNG.

Run with ``make screenshots`` (needs Debian's xvfb). Writes resources/screenshots/*.png.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "resources" / "screenshots"


def main() -> int:
    """Start Xvfb, run the window, save screenshots."""
    if shutil.which("Xvfb") is None:
        print("Xvfb is missing: apt-get install xvfb", file=sys.stderr)
        return 1
    display = ":97"
    xvfb = subprocess.Popen(
        ["Xvfb", display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(1.0)
        env = dict(os.environ, DISPLAY=display, QT_QPA_PLATFORM="xcb", PYTHONPATH=str(ROOT))
        return subprocess.call([sys.executable, __file__, "--inside"], env=env)
    finally:
        xvfb.terminate()
        xvfb.wait()


def inside() -> int:
    """Runs under Xvfb: build a demo hub and photograph the window."""
    from PySide6.QtWidgets import QApplication

    from hub.core.model import CameraConfig
    from hub.db import repo_config
    from hub.db.engine import open_engine
    from hub.db.tx import run_write
    from hub.db.upgrade import migrate
    from hub.hub import Hub
    from ui.main_window import MainWindow

    app = QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        engine = open_engine(f"sqlite:///{data / 'porchlight.db'}")
        migrate(engine)
        for name in ("Front door", "Driveway"):
            run_write(
                engine, repo_config.add_camera, CameraConfig(id="", name=name, driver="demo", mode="motion")
            )
        engine.dispose()
        hub = Hub(data)
        hub.start()
        window = MainWindow()
        window.resize(1100, 520)
        window.attach(hub)
        window.show()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            app.processEvents()
            if window.tiles and all(
                not t.picture.pixmap().isNull() and t.state == "recording" for t in window.tiles.values()
            ):
                break
            time.sleep(0.05)
        for _ in range(20):
            app.processEvents()
            time.sleep(0.05)
        OUT.mkdir(parents=True, exist_ok=True)
        window.grab().save(str(OUT / "main-window.png"))
        window.detach()
        window.close()
        hub.stop()
    print(f"wrote {OUT / 'main-window.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(inside() if "--inside" in sys.argv else main())
