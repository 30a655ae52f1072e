"""The client side of ``bench/live_bench.py``: one process, as the app is.

    live_client.py app DATA_DIR WIDTH HEIGHT    the desktop app's main window (ui.main_window) on
                                                the hub, its grid at WIDTH x HEIGHT (Qt offscreen)
    live_client.py bare DATA_DIR                the floor: a lease per camera, each new frame
                                                copied out of its slot, nothing converted or shown

It reads commands on stdin, one per line, and answers each with one JSON line on stdout:

* ``show`` / ``hide``: the tiles become visible (each camera's live view opens) or hidden (they
  end); ``show`` answers once every camera has shown a frame since;
* ``sample``: cumulative figures so far (see :meth:`Counter.sample`);
* ``quit``: the views end, the process exits.

It starts hidden and prints ``{"ready": N}`` (N cameras) first.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import monitor  # noqa: E402  (bench/, this script's folder)

from hub.api.client import SocketHub  # noqa: E402
from hub.api.frames import FrameReader  # noqa: E402

#: How long ``show`` waits for every camera's first frame.
SHOW_TIMEOUT_S = 60.0


def emit(value: object) -> None:
    sys.stdout.write(json.dumps(value) + "\n")
    sys.stdout.flush()


class Counter:
    """What the client saw of each camera: frames shown (distinct slot seqs), images made, the
    slot seqs (the hub's frames written) and each shown picture's age (now - its wall time)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.cams: dict[str, dict[str, int]] = {}
        self.ages: list[int] = []
        self.since_show: set[str] = set()

    def saw(self, cam: str, seq: int, ts_ms: int) -> None:
        now = time.time_ns() // 1_000_000
        with self.lock:
            c = self.cams.setdefault(cam, {"shown": 0, "images": 0, "first_seq": seq, "last_seq": 0})
            c["images"] += 1
            if seq > c["last_seq"]:
                c["shown"] += 1
                c["last_seq"] = seq
                self.ages.append(now - ts_ms)
            self.since_show.add(cam)

    def new_views(self) -> None:
        """The views open again: their slots count from 1 again (the shown counts go on)."""
        with self.lock:
            for c in self.cams.values():
                c["last_seq"] = 0
            self.since_show.clear()

    def sample(self, **cpu: float) -> dict[str, Any]:
        """Cumulative counts per camera, the ages since the last sample, CPU seconds so far."""
        with self.lock:
            ages, self.ages = self.ages, []
            cams = {k: dict(v) for k, v in self.cams.items()}
        return {
            "t": time.monotonic(),
            "cams": cams,
            "ages": ages,
            "cpu": {"process": time.process_time(), **cpu},
        }


def commands(on_line: Callable[[str], None]) -> threading.Thread:
    """Read stdin on a thread of its own; each line goes to ``on_line`` (EOF: ``quit``)."""

    def run() -> None:
        for line in sys.stdin:
            on_line(line.strip())
            if line.strip() == "quit":
                return
        on_line("quit")

    t = threading.Thread(target=run, name="bench-stdin", daemon=True)
    t.start()
    return t


# -- the app ---------------------------------------------------------------------------------------------
def run_app(data_dir: Path, width: int, height: int) -> int:
    from PySide6.QtCore import QObject, QTimer, Signal
    from PySide6.QtWidgets import QApplication

    from ui.main_window import MainWindow

    app = QApplication(sys.argv[:1])
    counter = Counter()
    api = SocketHub.open(data_dir)
    window = MainWindow(None)
    window.attach(api)
    assert window.puller is not None
    window.resize(width, height)
    gui_cpu = [0.0]
    waiting: list[float] = []  # a show waiting for every camera's frame: its deadline

    orig = window._on_image  # noqa: SLF001 - count what the window paints, as it paints it

    def on_image(cam: str, seq: int, img: Any) -> None:
        orig(cam, seq, img)
        ts = read_ts.pop((cam, seq), None)
        if cam in window.tiles and ts is not None:
            counter.saw(cam, seq, ts)

    # The puller's signal carries the slot seq; the picture's wall time comes from the slot itself,
    # noted by a wrapper of the worker's read (the window is not changed for the benchmark).
    read_ts: dict[tuple[str, int], int] = {}
    window.puller.imageReady.disconnect(window._on_image)  # noqa: SLF001
    window.puller.imageReady.connect(on_image)
    _wrap_reads(window, read_ts)

    class Bridge(QObject):
        line = Signal(str)

    bridge = Bridge()

    def check_shown() -> None:
        if not waiting:
            return
        with counter.lock:
            done = len(counter.since_show) >= len(window.tiles) > 0
        if done or time.monotonic() > waiting[0]:
            waiting.clear()
            emit({"shown": len(counter.since_show), "of": len(window.tiles)})

    def on_line(line: str) -> None:
        gui_cpu[0] = time.thread_time()
        if line == "show":
            counter.new_views()
            window.show()
            waiting[:] = [time.monotonic() + SHOW_TIMEOUT_S]
        elif line == "hide":
            window.hide()
            emit({"hidden": True})
        elif line == "sample":
            emit(counter.sample(gui=gui_cpu[0], frames=monitor.threads_cpu(("porchlight-ui-frames",))))
        elif line == "quit":
            window.detach()
            app.quit()

    bridge.line.connect(on_line)
    poll = QTimer()
    poll.timeout.connect(check_shown)
    poll.start(50)

    def ready() -> None:
        if window.tiles:
            emit({"ready": len(window.tiles)})
            commands(bridge.line.emit)
        else:
            QTimer.singleShot(100, ready)

    window.show()  # laid out once, so tiles have their size; hidden until the first "show"
    window.hide()
    QTimer.singleShot(100, ready)
    app.exec()
    api.close()
    return 0


def _wrap_reads(window: Any, read_ts: dict[tuple[str, int], int]) -> None:
    """Note each frame's wall time as the puller's worker reads it (for the age of what is shown)."""
    puller = window.puller
    open_view = puller._open_view  # noqa: SLF001

    def opened(cam_id: str) -> Any:
        view = open_view(cam_id)
        read = view.reader.read

        def noted(after: int = 0) -> Any:
            frame = read(after)
            if frame is not None:
                read_ts[cam_id, frame.seq] = frame.ts_ms
            return frame

        view.reader.read = noted
        return view

    puller._open_view = opened  # noqa: SLF001


# -- the floor -------------------------------------------------------------------------------------------
def run_bare(data_dir: Path) -> int:
    """Every camera's slot read as fast as frames come (a 5 ms poll), each new frame copied out."""
    counter = Counter()
    api = SocketHub.open(data_dir)
    cams = [c.id for c in api.cameras()]
    lines: list[str] = []
    cond = threading.Condition()

    def on_line(line: str) -> None:
        with cond:
            lines.append(line)
            cond.notify()

    commands(on_line)
    views: dict[str, tuple[int, FrameReader]] = {}
    emit({"ready": len(cams)})
    shown_by: float | None = None
    while True:
        with cond:
            if not lines:
                cond.wait(0.005)
            todo, lines[:] = list(lines), []
        for line in todo:
            if line == "show":
                counter.new_views()
                for cam in cams:
                    lease = api.watch(cam, "detect")
                    assert lease.frames is not None
                    views[cam] = (lease.id, FrameReader(lease.frames))
                shown_by = time.monotonic() + SHOW_TIMEOUT_S
            elif line == "hide":
                for lease, reader in views.values():
                    reader.close()
                    api.unwatch(lease)
                views.clear()
                emit({"hidden": True})
            elif line == "sample":
                emit(counter.sample(gui=0.0, frames=time.thread_time()))
            elif line == "quit":
                for lease, reader in views.values():
                    reader.close()
                    api.unwatch(lease)
                api.close()
                return 0
        for cam, (_lease, reader) in views.items():
            last = counter.cams.get(cam, {}).get("last_seq", 0)
            frame = reader.read(after=last)
            if frame is not None:
                counter.saw(cam, frame.seq, frame.ts_ms)
        if shown_by is not None and (len(counter.since_show) >= len(cams) or time.monotonic() > shown_by):
            emit({"shown": len(counter.since_show), "of": len(cams)})
            shown_by = None


def main(argv: list[str]) -> int:
    if argv[0] == "app":
        return run_app(Path(argv[1]), int(argv[2]), int(argv[3]))
    return run_bare(Path(argv[1]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
